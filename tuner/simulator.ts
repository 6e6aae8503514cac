// The job simulator's model: step time, data-loading time and memory of a training job as
// functions of batch size and data-loader workers on a host with N cores. Deterministic
// given a seed. simulator-job.ts runs it step by step; the oracle searches it exhaustively.
// The world's further costs (caches, contention, swapping, phases, heavy tails) are in
// simulator-world.ts.
import { contentionFactor, NO_WORLD_COSTS, perSampleFactor, swapFactor, type WorldCosts } from './simulator-world.js';

/** mulberry32: a small, fast, seedable PRNG (public domain, Tommy Ettinger). */
export function createRng(seed: number): { next(): number; normal(): number } {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    // Box–Muller.
    normal: () => Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next()),
  };
}

export interface JobModel extends WorldCosts {
  /** Cores on the host (what the job's processes can be scheduled on). */
  cores: number;
  /** Cores other tenants take first (a starved host); the job shares what is left. */
  otherCpuCores: number;
  /** Per-step fixed time on the main process's CPU: launches, Python, optimizer bookkeeping. */
  stepFixedS: number;
  /** Device time per sample. */
  stepPerSampleS: number;
  /** CPU seconds to read, decode and augment one sample. */
  loadCpuPerSampleS: number;
  /** CPU seconds per batch on the loading side whatever its size: collate, IPC to the main process, Python per batch. */
  loadCpuPerBatchS: number;
  /** Seconds a loader waits on storage per sample without using CPU (a network file system's latency). */
  ioLatencyPerSampleS: number;
  /** Storage bandwidth in samples per second; null for data in page cache. */
  ioSamplesPerS: number | null;
  /** Share of CPU time in iowait the host shows while storage limits the loaders. */
  iowaitWhenBound: number;
  /** No GPU: the device's work runs on the main process's CPU, shared with the loaders; no device memory. */
  cpuOnly: boolean;
  /** Clock factor under throttling (1: none; 0.7 runs compute at 70 % speed). */
  throttle: number;
  throttleReasons: string[];
  memFixedBytes: number;
  memPerSampleBytes: number;
  memCapacityBytes: number;
  /** Whether steps report mem_peak_bytes (torch.cuda.max_memory_allocated). */
  reportMemPeak: boolean;
  /** Whether the sidecar sees GPU, host and process readings (false: a job on another host). */
  readings: boolean;
  /** Multiplicative log-normal step noise σ, and rare spikes (GC, checkpoints). */
  noiseSigma: number;
  spikeProb: number;
  spikeFactor: number;
  /** Seconds lost rebuilding the data loader on a change, plus per worker started. */
  rebuildS: number;
  rebuildPerWorkerS: number;
  /** Seconds lost to an out-of-memory step (catch, free caches, report). */
  oomPenaltyS: number;
  workerRssBytes: number;
  mainRssBytes: number;
  hostMemoryBytes: number;
  /** Gradient noise scale B_noise for grad-norm reports; null: not reported. */
  gradNoiseScale: number | null;
  /** Loss diverges when the learning rate exceeds this; null: never. */
  lrDivergeAbove: number | null;
}

export const DEFAULT_MODEL: JobModel = {
  cores: 16,
  otherCpuCores: 0,
  stepFixedS: 0.02,
  stepPerSampleS: 0.0005,
  loadCpuPerSampleS: 0.002,
  loadCpuPerBatchS: 0,
  ioLatencyPerSampleS: 0,
  ioSamplesPerS: null,
  iowaitWhenBound: 0.25,
  cpuOnly: false,
  throttle: 1,
  throttleReasons: [],
  memFixedBytes: 4e9,
  memPerSampleBytes: 50e6,
  memCapacityBytes: 40e9,
  reportMemPeak: true,
  readings: true,
  noiseSigma: 0.03,
  spikeProb: 0,
  spikeFactor: 1,
  rebuildS: 2,
  rebuildPerWorkerS: 0.1,
  oomPenaltyS: 10,
  workerRssBytes: 400e6,
  mainRssBytes: 3e9,
  hostMemoryBytes: 64e9,
  gradNoiseScale: null,
  lrDivergeAbove: null,
  ...NO_WORLD_COSTS,
};

export interface SteadyState {
  stepS: number;
  computeS: number;
  dataWaitS: number;
  /** Time the loading side needs per batch (the whole load with no workers). */
  loadStepS: number;
  /** Samples per second, noise-free. */
  throughput: number;
  /** CPU cores the job's processes use, and each worker's busy share. */
  jobCores: number;
  workerBusy: number;
  gpuUtil: number;
  ioBound: boolean;
  memPeakBytes: number;
  oom: boolean;
}

/**
 * The noise-free steady state of (batch, workers): the highest throughput whose CPU needs fit the
 * cores the other tenants leave. The main process needs its per-step CPU work (all of a CPU-only
 * job's compute; launches and Python on a GPU job) done within a step; each worker needs its
 * batch's loading CPU done within w steps, less the time it waits on storage meanwhile (that wait
 * uses no CPU); without workers the main process loads, then computes. The scheduler serves every
 * need while they fit (work-conserving); more processes than cores thrash a little (context
 * switches, cache misses), and storage bandwidth caps the loading.
 */
export function steadyState(m: JobModel, batch: number, workers: number): SteadyState {
  const avail = Math.max(0.25, m.cores - m.otherCpuCores);
  const slow = swapFactor(m, workers);
  const compute0 = (m.stepPerSampleS * batch * perSampleFactor(m, batch) * slow) / m.throttle;
  const thrash = 1 / (1 + 0.03 * Math.max(0, workers + 1 - avail));
  const loadCpu = (m.loadCpuPerSampleS * batch + m.loadCpuPerBatchS) / (workers > 0 ? thrash : 1);
  const latency = m.ioLatencyPerSampleS * batch;
  const mainCpu = (m.cpuOnly ? m.stepFixedS * slow + compute0 : m.stepFixedS * slow) * contentionFactor(m, workers, avail);
  const deviceS = m.cpuOnly ? 0 : compute0;
  /** CPU share the main process and each worker need at step time `stepS`, or null when no share can do it. */
  const needs = (stepS: number): { main: number; worker: number } | null => {
    if (workers === 0) {
      const cpuTime = stepS - deviceS - latency;
      if (cpuTime <= 0) return null;
      const c = (mainCpu + loadCpu) / cpuTime;
      return c <= Math.min(1, avail) + 1e-12 ? { main: c, worker: 0 } : null;
    }
    const mainTime = stepS - deviceS;
    const workerTime = workers * stepS - latency;
    if (mainTime <= 0 || workerTime <= 0) return null;
    const main = mainCpu / mainTime;
    const worker = loadCpu / workerTime;
    if (main > 1 + 1e-12 || worker > 1 + 1e-12 || main + workers * worker > avail + 1e-12) return null;
    return { main, worker };
  };
  let lo = Math.max(deviceS, 1e-9);
  let hi = lo;
  while (needs(hi) === null) hi *= 2;
  if (needs(lo) !== null) hi = lo;
  for (let i = 0; i < 100 && hi - lo > 1e-12 * hi; i++) {
    const mid = (lo + hi) / 2;
    if (needs(mid) === null) lo = mid; else hi = mid;
  }
  let stepS = hi;
  let ioBound = false;
  if (m.ioSamplesPerS !== null && batch / stepS > m.ioSamplesPerS) { stepS = batch / m.ioSamplesPerS; ioBound = true; }
  const n = needs(stepS) ?? { main: 1, worker: 1 };
  // What the main process's share of a step takes at the most CPU it can get, and so the data wait.
  let computeS: number;
  let loadStep: number;
  if (workers === 0) {
    const c = Math.min(1, avail);
    computeS = deviceS + mainCpu / c;
    loadStep = stepS - computeS;
    if (latency > loadCpu / c) ioBound = true;
  } else {
    // Under contention the scheduler gives the main process about a fair share of the cores.
    const mainMax = Math.max(n.main, Math.min(1, Math.max(avail - workers * n.worker, avail / (workers + 1))));
    computeS = Math.min(stepS, deviceS + mainCpu / mainMax);
    // The workers' pace: a batch per (its CPU at the share a worker can get + its storage wait) / workers.
    const workerMax = Math.max(n.worker, Math.min(1, (avail - n.main) / workers));
    loadStep = Math.min(stepS, (loadCpu / workerMax + latency) / workers);
    if (stepS > computeS * (1 + 1e-9) && latency > loadCpu) ioBound = true;
  }
  const waitS = Math.max(0, stepS - computeS);
  const mem = m.memFixedBytes + m.memPerSampleBytes * batch;
  // CPU actually used (CPU seconds per second): a worker waiting on storage holds no core.
  const mainUse = (mainCpu + (workers === 0 ? loadCpu : 0)) / stepS;
  const workerUse = workers > 0 ? loadCpu / (workers * stepS) : 0;
  return {
    stepS, computeS, dataWaitS: waitS, loadStepS: loadStep, throughput: batch / stepS,
    jobCores: Math.min(avail, mainUse + workers * workerUse),
    workerBusy: Math.min(1, workerUse),
    gpuUtil: m.cpuOnly ? 0 : Math.min(1, compute0 / stepS + 0.1 * (m.stepFixedS / stepS)),
    ioBound: ioBound && waitS > 0,
    memPeakBytes: mem,
    oom: !m.cpuOnly && mem > m.memCapacityBytes,
  };
}

export interface SearchSpace { batch: { min: number; max: number }; workers: { min: number; max: number } }

/** The best (batch, workers) by exhaustive search, OOM sizes excluded. */
export function oracle(m: JobModel, space: SearchSpace): { batch: number; workers: number; throughput: number } {
  let best = { batch: space.batch.min, workers: space.workers.min, throughput: 0 };
  for (let b = space.batch.min; b <= space.batch.max; b++) {
    if (!m.cpuOnly && m.memFixedBytes + m.memPerSampleBytes * b > m.memCapacityBytes) break;
    for (let w = space.workers.min; w <= space.workers.max; w++) {
      const t = steadyState(m, b, w).throughput;
      if (t > best.throughput) best = { batch: b, workers: w, throughput: t };
    }
  }
  return best;
}
