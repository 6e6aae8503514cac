// The performance model, apart from the optimiser that uses it (tf.data autotune's split): fitted
// to every configuration the run has measured, it predicts the step time of one it has not.
//
//   no workers:  step(b, 0) = compute(b) + load(b)             the main process loads, then computes
//   w workers:   step(b, w) = max(compute(b), 1 / rate(b, w))     loading overlaps compute
//   rate(b, w) = min(cores for loaders / load(b), w / (load(b) + wait(b)))
//
// compute(b) = α + β·b is the main process's and the device's share of a step; load(b) = λ0 + λ1·b
// is a batch's loading CPU (λ0: collate, IPC, per-batch Python — what a bigger batch amortises),
// read from the workers' CPU use; the loaders make batches as fast as the cores left to them
// (the job's budget less the main process's use) allow, and each at most one per (its CPU work +
// its wait on storage): workers that mostly wait use little CPU, and more of them fit than cores.
// A figure the measurements cannot yet pin down (one batch size seen) is marked assumed, and the
// search treats a move that rests on it as a trial to measure, not a prediction to trust.
import type { Point } from './history.js';
import { round } from './measure.js';
import { linearFit, median } from './stats.js';

/** Data wait above this share of a step: the loaders, not compute, set the pace. */
export const LOADER_LIMITED_WAIT = 0.03;

export interface Linear {
  a: number;
  b: number;
  basis: string;
  sizes: number;
  /** How it scales with batch is a guess (one size measured, no prior). */
  assumed: boolean;
}

export interface PerfModel {
  /** compute(batch) = a + b·batch seconds, null when nothing is measured. */
  compute: Linear | null;
  /**
   * Loading CPU seconds per batch = a + b·batch (all of a batch's decode and collate), from the
   * workers' CPU readings, or from the main process's data wait without workers; null when unseen.
   */
  loadCpu: Linear | null;
  /** Seconds per sample a loader waits on storage beyond its CPU work (0 when not seen). */
  latencyPerSample: number;
  /** Without CPU readings: one loader's wall seconds per batch = a + b·batch, seen when loaders set the pace. */
  loadWall: Linear | null;
  /** Cores the loaders can have: the budget less the main process's use; Infinity when unknown. */
  loaderCores: number;
  capacityBasis: string;
}

export interface ModelContext {
  /** The job's CPU budget in cores, null when unknown. */
  budgetCores: number | null;
  /** Median GPU utilisation now (the prior for compute's fixed share with one size measured), null on a CPU-only job. */
  gpuUtil: number | null;
  /** Cores the run's process tree uses now, and one worker's busy share (CPU seconds per second), when read. */
  treeCores: number | null;
  workerBusy: number | null;
  /** Cores of the host nobody uses now, null when the host is not read. */
  freeHostCores: number | null;
  workers: number;
  /** The current configuration's data wait as a share of its step (0 when unknown). */
  waitRatio?: number;
}

/** Loading CPU seconds per batch at a point: the workers' CPU over a step, or the main process's data wait. */
export function loadCpuPerBatch(p: Point): number | null {
  if (p.workers === 0) { const wait = p.waitRatio * p.stepS; return wait > 0 ? wait : null; }
  if (p.workerBusy == null) return null;
  const cpu = p.workerBusy * p.workers * p.stepS;
  return cpu > 0 ? cpu : null;
}

/** One loader's wall seconds per batch at a point where the loaders set the pace (each makes one batch per w steps). */
export function loadPerBatch(p: Point): number | null {
  const wait = p.waitRatio * p.stepS;
  if (p.workers === 0) return wait > 0 ? wait : null;
  if (p.waitRatio < LOADER_LIMITED_WAIT) return null;
  return p.stepS * p.workers;
}

function fitLinear(pairs: Array<readonly [number, number]>, what: string): Linear | null {
  const byX = new Map<number, number[]>();
  for (const [x, y] of pairs) if (Number.isFinite(y) && y > 0) byX.set(x, [...(byX.get(x) ?? []), y]);
  const pts = [...byX].map(([x, ys]) => [x, median(ys)] as const);
  if (pts.length === 0) return null;
  if (pts.length >= 2) {
    const fit = linearFit(pts);
    if (fit && fit.slope > 0) {
      const a = Math.max(0, fit.intercept);
      return { a, b: fit.slope, basis: `${what} fitted over ${pts.length} batch sizes: ${round(a * 1e3, 3)} ms + ${round(fit.slope * 1e6, 3)} µs per sample`, sizes: pts.length, assumed: false };
    }
    // Not increasing with batch (noise, or a fixed cost only): the largest size's cost, kept flat.
    const [x, y] = pts.reduce((p, q) => (q[0] > p[0] ? q : p));
    return { a: y, b: 0, basis: `${what} flat over ${pts.length} batch sizes (${round(y * 1e3, 3)} ms at ${x})`, sizes: pts.length, assumed: false };
  }
  const [x, y] = pts[0];
  return { a: 0, b: y / x, basis: `${what} assumed proportional to batch (one size measured, ${x})`, sizes: 1, assumed: true };
}

export function fitPerfModel(points: readonly Point[], ctx: ModelContext): PerfModel {
  // Compute is fitted at the current worker count: workers on a CPU-only job take cores from the
  // main process, so compute measured under another count is not comparable.
  const sameWorkers = points.filter((p) => p.workers === ctx.workers);
  const basePoints = sameWorkers.length > 0 ? sameWorkers : points;
  let compute = fitLinear(basePoints.map((p) => [p.batch, p.computeS] as const), 'compute');
  // One size on a GPU: the idle share of a step is per-step overhead, the busy share scales with batch.
  if (compute && compute.sizes === 1 && ctx.gpuUtil !== null && ctx.gpuUtil > 0) {
    const p = basePoints.find((q) => q.computeS > 0)!;
    const u = Math.min(1, ctx.gpuUtil);
    compute = { a: p.computeS * (1 - u), b: (p.computeS * u) / p.batch, basis: `compute from GPU utilisation ${round(u, 2)} (one size measured)`, sizes: 1, assumed: false };
  }
  const cpuPairs = points.flatMap((p) => { const l = loadCpuPerBatch(p); return l === null ? [] : [[p.batch, l] as const]; });
  const loadCpu = fitLinear(cpuPairs, 'loading CPU');
  // Storage waits: where the loaders set the pace, what their wall time per batch holds beyond CPU.
  const lats: number[] = [];
  for (const p of points) {
    const wall = p.workers > 0 ? loadPerBatch(p) : null;
    const cpu = loadCpuPerBatch(p);
    if (wall !== null && cpu !== null) lats.push(Math.max(0, wall - cpu) / p.batch);
  }
  // A loader slower than its CPU work waits on storage only on a host with cores to spare; on a
  // saturated host it waits for a core, and more loaders would only queue for the same cores.
  const hostFull = ctx.freeHostCores !== null && ctx.freeHostCores < 0.5;
  const latencyPerSample = lats.length > 0 && !hostFull ? median(lats) : 0;
  const readings = points.some((p) => p.workerBusy != null);
  const loadWall = readings ? null : fitLinear(points.flatMap((p) => { const l = loadPerBatch(p); return l === null ? [] : [[p.batch, l] as const]; }), 'loading');
  const { cores, basis } = loaderCores(ctx);
  return { compute, loadCpu, latencyPerSample, loadWall, loaderCores: cores, capacityBasis: basis };
}

/**
 * Cores the loaders can have: the job's budget less what the main process needs for its own work,
 * capped by what the job can reach (the cores it uses now plus what the host leaves free).
 * Without workers the main process loads too: only its compute share stays its own.
 */
export function loaderCores(ctx: ModelContext): { cores: number; basis: string } {
  const B = ctx.budgetCores;
  if (B === null) return { cores: Infinity, basis: 'no CPU budget known' };
  const workerCores = ctx.workerBusy !== null && ctx.workers > 0 ? ctx.workerBusy * ctx.workers : ctx.workers === 0 ? 0 : null;
  const jobCores = ctx.treeCores ?? (workerCores ?? ctx.workers) + 1;
  const mainNow = ctx.treeCores !== null && workerCores !== null ? Math.max(0, Math.min(1, ctx.treeCores - workerCores)) : null;
  const mainCompute = mainNow === null ? null : ctx.workers === 0 ? mainNow * (1 - (ctx.waitRatio ?? 0)) : mainNow;
  let cores = B - (mainCompute ?? 0);
  let basis = `${round(B, 2)} budgeted cores${mainCompute !== null ? ` less ${round(mainCompute, 2)} for the main process` : ''}`;
  if (ctx.freeHostCores !== null) {
    const reachable = jobCores + ctx.freeHostCores - (mainCompute ?? 0);
    if (reachable < cores) {
      cores = reachable;
      basis += `, ${round(ctx.freeHostCores, 2)} free on the host beside the ${round(jobCores, 2)} the job uses`;
    }
  }
  return { cores: Math.max(0.1, cores), basis };
}

export interface StepPrediction {
  stepS: number;
  /** What the prediction rests on; `assumed` when a figure in it is not yet measured. */
  basis: string;
  assumed: boolean;
}

/** The model's step time at (batch, workers), or null when it cannot say. */
export function predictStep(model: PerfModel, batch: number, workers: number): StepPrediction | null {
  const c = model.compute;
  if (!c) return null;
  const compute = c.a + c.b * batch;
  const lat = model.latencyPerSample * batch;
  if (model.loadCpu) {
    const l = model.loadCpu;
    const cpu = l.a + l.b * batch;
    const assumed = c.assumed || l.assumed;
    const basis = `${c.basis}; ${l.basis}${lat > 0 ? `; storage wait ${round(model.latencyPerSample * 1e3, 3)} ms per sample` : ''}`;
    if (workers === 0) return { stepS: compute + cpu + lat, basis, assumed };
    // Batches per second the loaders make: as many as the cores left to them allow, and at most one
    // per loader per (its CPU work + its storage wait).
    const rate = Math.min(model.loaderCores / cpu, workers / (cpu + lat));
    return { stepS: Math.max(compute, 1 / rate), basis: `${basis}; ${round(model.loaderCores, 2)} cores for loaders (${model.capacityBasis})`, assumed };
  }
  if (model.loadWall) {
    const l = model.loadWall;
    const load = l.a + l.b * batch;
    const assumed = c.assumed || l.assumed;
    if (workers === 0) return { stepS: compute + load, basis: `${c.basis}; ${l.basis}`, assumed };
    const par = Math.min(workers, Math.max(1, model.loaderCores));
    return { stepS: Math.max(compute, load / par), basis: `${c.basis}; ${l.basis}; ${round(par, 2)} loaders at once (${model.capacityBasis})`, assumed };
  }
  // Loading never seen to limit: hidden behind compute (workers) or too small to see.
  return { stepS: compute, basis: c.basis, assumed: c.assumed };
}

/**
 * Throughput at `to` over throughput at `from` by the model (samples per step over step time),
 * null when it cannot say. Ratios cancel most of the model's error in level.
 */
export function predictRatio(model: PerfModel, from: { batch: number; workers: number }, to: { batch: number; workers: number }): (StepPrediction & { ratio: number }) | null {
  const a = predictStep(model, from.batch, from.workers);
  const b = predictStep(model, to.batch, to.workers);
  if (!a || !b || a.stepS <= 0 || b.stepS <= 0) return null;
  // At the same batch size, how compute and loading scale with batch does not enter.
  const assumed = from.batch !== to.batch && (a.assumed || b.assumed);
  return { ...b, assumed, ratio: (to.batch / b.stepS) / (from.batch / a.stepS) };
}
