// The job simulator's model: step time, data-loading time and memory of a training job as
// functions of batch size and data-loader workers on a host with N cores. Deterministic
// given a seed. simulator-job.ts runs it step by step; the oracle searches it exhaustively.

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

export interface JobModel {
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
  /** Storage bandwidth in samples per second; null for data in page cache. */
  ioSamplesPerS: number | null;
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
  ioSamplesPerS: null,
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
 * The noise-free steady state of (batch, workers). Workers and the main process share the
 * cores the other tenants leave (fair share); a main process starved of CPU launches work
 * more slowly; more workers than cores thrash a little (context switches, cache misses).
 */
export function steadyState(m: JobModel, batch: number, workers: number): SteadyState {
  const avail = Math.max(0.25, m.cores - m.otherCpuCores);
  const compute0 = m.stepPerSampleS * batch / m.throttle;
  let thr = batch / (m.stepFixedS + compute0);
  let s: SteadyState | undefined;
  for (let i = 0; i < 60; i++) {
    const workerDemand = workers > 0 ? Math.min(workers, m.loadCpuPerSampleS * thr) : 0;
    const demand = 1 + workerDemand;
    const share = Math.min(1, avail / demand);
    const thrash = 1 / (1 + 0.03 * Math.max(0, workers + 1 - avail));
    const computeS = m.stepFixedS / share + compute0;
    let stepS: number;
    let waitS: number;
    let loadStep: number;
    let ioBound = false;
    if (workers === 0) {
      let loadS = (m.loadCpuPerSampleS * batch) / share;
      if (m.ioSamplesPerS !== null && batch / loadS > m.ioSamplesPerS) { loadS = batch / m.ioSamplesPerS; ioBound = true; }
      stepS = computeS + loadS;
      waitS = loadS;
      loadStep = loadS;
    } else {
      const cpuRate = (workers * Math.min(1, avail / (1 + workers)) * thrash) / m.loadCpuPerSampleS;
      const rate = m.ioSamplesPerS !== null ? Math.min(cpuRate, m.ioSamplesPerS) : cpuRate;
      ioBound = m.ioSamplesPerS !== null && m.ioSamplesPerS < cpuRate && batch / rate > computeS;
      loadStep = batch / rate;
      stepS = Math.max(computeS, loadStep);
      waitS = Math.max(0, loadStep - computeS);
    }
    const next = batch / stepS;
    const mem = m.memFixedBytes + m.memPerSampleBytes * batch;
    s = {
      stepS, computeS, dataWaitS: waitS, loadStepS: loadStep, throughput: next,
      jobCores: Math.min(avail, (m.stepFixedS + (workers === 0 ? m.loadCpuPerSampleS * batch : 0)) / stepS + (workers > 0 ? m.loadCpuPerSampleS * next : 0)),
      workerBusy: workers > 0 ? Math.min(1, (m.loadCpuPerSampleS * next) / workers) : 0,
      gpuUtil: Math.min(1, compute0 / stepS + 0.1 * (m.stepFixedS / stepS)),
      ioBound,
      memPeakBytes: mem,
      oom: mem > m.memCapacityBytes,
    };
    if (Math.abs(next - thr) < 1e-9 * thr) break;
    thr = 0.5 * thr + 0.5 * next;
  }
  return s as SteadyState;
}

export interface SearchSpace { batch: { min: number; max: number }; workers: { min: number; max: number } }

/** The best (batch, workers) by exhaustive search, OOM sizes excluded. */
export function oracle(m: JobModel, space: SearchSpace): { batch: number; workers: number; throughput: number } {
  let best = { batch: space.batch.min, workers: space.workers.min, throughput: 0 };
  for (let b = space.batch.min; b <= space.batch.max; b++) {
    if (m.memFixedBytes + m.memPerSampleBytes * b > m.memCapacityBytes) break;
    for (let w = space.workers.min; w <= space.workers.max; w++) {
      const t = steadyState(m, b, w).throughput;
      if (t > best.throughput) best = { batch: b, workers: w, throughput: t };
    }
  }
  return best;
}
