// The performance model, apart from the optimiser that uses it (tf.data autotune's split): fitted
// to every configuration the run has measured, it predicts the step time of one it has not.
//
//   no workers:  step(b, 0) = compute(b) + load(b)             the main process loads, then computes
//   w workers:   step(b, w) = max(compute(b), load(b) / par(w))  loading overlaps compute
//
// compute(b) = α + β·b is the main process's and the device's share of a step; load(b) = λ0 + λ1·b
// is one loader's seconds per batch (λ0: collate, IPC, per-batch Python — what a bigger batch
// amortises). par(w) = min(w, capacity): the workers share the job's cores with the main process,
// so as many run at once as the cores left over allow for the CPU share each uses while producing;
// workers that mostly wait on storage use little CPU, and more of them fit than there are cores.
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
  /** One loader's seconds per batch = a + b·batch, null when loading was never seen to limit. */
  load: Linear | null;
  /** Loaders that can run at once on the job's cores (par's cap); Infinity when unknown. */
  capacity: number;
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
}

/** One loader's seconds per batch at a measured point, when the point shows it. */
export function loadPerBatch(p: Point): number | null {
  const wait = p.waitRatio * p.stepS;
  if (p.workers === 0) return wait > 0 ? wait : null;
  // With workers, the loaders set the pace only when the main process waits for them:
  // each of the w loaders then makes one batch per w steps (as many as run at once).
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
    // Not increasing with batch (noise, or a fixed cost only): the largest size's per-sample cost, kept flat.
    const [x, y] = pts.reduce((p, q) => (q[0] > p[0] ? q : p));
    return { a: y, b: 0, basis: `${what} flat over ${pts.length} batch sizes (${round(y * 1e3, 3)} ms at ${x})`, sizes: pts.length, assumed: false };
  }
  const [x, y] = pts[0];
  return { a: 0, b: y / x, basis: `${what} assumed proportional to batch (one size measured, ${x})`, sizes: 1, assumed: true };
}

export function fitPerfModel(points: readonly Point[], ctx: ModelContext): PerfModel {
  let compute = fitLinear(points.map((p) => [p.batch, p.computeS] as const), 'compute');
  // One size on a GPU: the idle share of a step is per-step overhead, the busy share scales with batch.
  if (compute && compute.sizes === 1 && ctx.gpuUtil !== null && ctx.gpuUtil > 0) {
    const p = points.find((q) => q.computeS > 0)!;
    const u = Math.min(1, ctx.gpuUtil);
    compute = { a: p.computeS * (1 - u), b: (p.computeS * u) / p.batch, basis: `compute from GPU utilisation ${round(u, 2)} (one size measured)`, sizes: 1, assumed: false };
  }
  const load = fitLinear(points.flatMap((p) => { const l = loadPerBatch(p); return l === null ? [] : [[p.batch, l] as const]; }), 'loading');
  const { capacity, basis } = loaderCapacity(ctx);
  return { compute, load, capacity, capacityBasis: basis };
}

/**
 * How many loaders run at full speed at once: the cores the job may use, less the main process's
 * share, over the CPU share one producing loader takes; capped by what the host leaves free.
 * Without readings, the budget's cores (the measurement judges what that is worth).
 */
export function loaderCapacity(ctx: ModelContext): { capacity: number; basis: string } {
  const B = ctx.budgetCores;
  const share = ctx.workerBusy !== null && ctx.workers > 0 ? Math.max(0.05, Math.min(1, ctx.workerBusy)) : 1;
  const workerCores = ctx.workerBusy !== null ? ctx.workerBusy * ctx.workers : null;
  const mainCores = ctx.treeCores !== null && workerCores !== null ? Math.max(0, Math.min(1, ctx.treeCores - workerCores)) : null;
  if (B === null) return { capacity: Infinity, basis: 'no CPU budget known' };
  // The main process waits while loaders are short, so its core is not all taken: count what it uses.
  let cores = B - (mainCores ?? 0);
  let basis = `${round(B, 2)} budgeted cores${mainCores !== null ? ` less ${round(mainCores, 2)} for the main process` : ''}`;
  if (ctx.freeHostCores !== null && workerCores !== null) {
    const reachable = workerCores + ctx.freeHostCores;
    if (reachable < cores) { cores = reachable; basis += `, ${round(ctx.freeHostCores, 2)} free on the host`; }
  }
  const capacity = Math.max(1, cores / share);
  return { capacity, basis: `${basis}, ${round(share, 2)} of a core per producing worker` };
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
  const assumedCompute = c.assumed;
  if (!model.load) {
    // Loading never limited: it is hidden behind compute (workers) or too small to see.
    return { stepS: compute, basis: c.basis, assumed: assumedCompute };
  }
  const l = model.load;
  const load = l.a + l.b * batch;
  const assumed = assumedCompute || l.assumed;
  if (workers === 0) return { stepS: compute + load, basis: `${c.basis}; ${l.basis}`, assumed };
  const par = Math.min(workers, model.capacity);
  return { stepS: Math.max(compute, load / par), basis: `${c.basis}; ${l.basis}; ${round(par, 2)} loaders at once (${model.capacityBasis})`, assumed };
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
