// What a job meets in the world beyond the simulator's base costs (issue 21): caches a batch can
// outgrow, processes that crowd the main process off the cores, workers that hold host memory,
// storage that changes under a running job, and step times with a heavy tail. Each is a cost of
// the job's hardware or data, not a term of the tuner's performance model (a simulator written as
// the tuner's own equations tests nothing). simulator.ts applies them in steadyState; the job
// (simulator-job.ts) applies phases and the tail as it runs.
import type { JobModel } from './simulator.js';

/** The world's extra costs, all neutral by default (DEFAULT_MODEL). */
export interface WorldCosts {
  /**
   * The batch whose activations fill the device's (or a CPU job's last-level) cache, null for none.
   * Beyond it each sample's compute is slower, the more so the further past (memory bandwidth
   * shared by more spilled data): an interior optimum with no OOM.
   */
  cacheBatch: number | null;
  /** Extra per-sample compute per batch-size multiple past the cache (0.6: 60 % slower at twice it). */
  cacheSpill: number;
  /** Above this batch a different (slower) kernel path is taken: a cliff; null for none. */
  cliffBatch: number | null;
  /** Per-sample compute factor past the cliff. */
  cliffFactor: number;
  /**
   * Main-process slow-down per process beyond the cores (workers prefetch in bursts, preempt the
   * main process, evict its caches): 0.1 makes it 10 % slower per extra runnable process.
   */
  contentionPerProcess: number;
  /**
   * Host memory the job may hold before it pages; workers beyond it slow every step by
   * swapPenalty per GB over. null: no limit modelled.
   */
  hostMemoryLimitBytes: number | null;
  swapPenaltyPerGB: number;
  /** Changes of the job while it runs: from `atStep` on, these fields replace the job's own. */
  phases: Array<{ atStep: number; model: Partial<JobModel> }>;
  /**
   * SGD past its stability edge: with the learning rate above this the iterates grow until the loss
   * overflows (NaN/inf after a dozen steps); null: never.
   */
  lossBlowsUpAboveLr: number | null;
  /** Heavy-tailed steps: with this probability a step is multiplied by a Pareto(tailAlpha) draw. */
  tailProb: number;
  tailAlpha: number;
}

export const NO_WORLD_COSTS: WorldCosts = {
  cacheBatch: null,
  cacheSpill: 0,
  cliffBatch: null,
  cliffFactor: 1,
  contentionPerProcess: 0,
  hostMemoryLimitBytes: null,
  swapPenaltyPerGB: 0,
  phases: [],
  lossBlowsUpAboveLr: null,
  tailProb: 0,
  tailAlpha: 2,
};

/** Per-sample compute factor at `batch`: the cache it outgrows and the kernel cliff. */
export function perSampleFactor(m: WorldCosts, batch: number): number {
  let f = 1;
  if (m.cacheBatch !== null && batch > m.cacheBatch) f *= 1 + m.cacheSpill * (batch / m.cacheBatch - 1);
  if (m.cliffBatch !== null && batch > m.cliffBatch) f *= m.cliffFactor;
  return f;
}

/** The main process's slow-down with `workers` loaders on `avail` cores. */
export function contentionFactor(m: WorldCosts, workers: number, avail: number): number {
  return 1 + m.contentionPerProcess * Math.max(0, workers + 1 - avail);
}

/** Every step's slow-down once the job's processes hold more host memory than it may. */
export function swapFactor(m: WorldCosts & Pick<JobModel, 'mainRssBytes' | 'workerRssBytes'>, workers: number): number {
  if (m.hostMemoryLimitBytes === null) return 1;
  const over = m.mainRssBytes + workers * m.workerRssBytes - m.hostMemoryLimitBytes;
  return over > 0 ? 1 + m.swapPenaltyPerGB * (over / 1e9) : 1;
}

/** The job's model at `step`: its own fields, with each phase begun by then laid over them. */
export function phaseAt(m: JobModel, step: number): JobModel {
  let out = m;
  for (const p of m.phases) if (step >= p.atStep) out = { ...out, ...p.model };
  return out;
}

/** The model of the last phase: what the job is at the end (the bench's oracle is taken on it). */
export function lastPhase(m: JobModel): JobModel {
  return phaseAt(m, Infinity);
}

/** One heavy-tail draw: 1 most steps; a Pareto(α) factor ≥ 1 with probability tailProb. */
export function tailFactor(m: WorldCosts, u1: number, u2: number): number {
  if (m.tailProb <= 0 || u1 >= m.tailProb) return 1;
  return Math.min(50, (1 - u2) ** (-1 / m.tailAlpha));
}
