// Measuring one config version from the window's step reports: the steady steps
// (warm-up discarded) and robust figures over them. Every comparison the tuner
// makes (classify, policies, outcomes) goes through one Measurement.
import { findShift, type JobShift } from './job-change.js';
import { median, robustSigma, trimmedMean } from './stats.js';
import { jobStepRate } from './throughput.js';
import type { RunConfig } from '../domain/config.js';
import type { MeasuredPoint } from '../domain/measured.js';
import type { StepPoint } from '../domain/steps.js';
import type { Window } from './window.js';

/**
 * Steps discarded after a config change. A rebuilt data loader refills its prefetch
 * queue (prefetch_factor × workers batches, PyTorch DataLoader docs), cuDNN's autotuner
 * (torch.backends.cudnn.benchmark) times algorithms for each new input shape, and the
 * caching allocator grows its pools: the first steps say nothing about the new config.
 */
export const WARMUP_STEPS = 5;
/** Fewest steady steps to measure a config; below it the figures are mostly noise. */
export const MIN_MEASURE_STEPS = 20;
/** Most recent steady steps used; older ones may describe a different phase of training. */
export const MAX_MEASURE_STEPS = 200;
/**
 * A measurement is complete once the relative standard error of its mean step time is
 * at most this (1 %: a 5 % gain is then 3.5 σ of the difference of two windows), or
 * once MAX_MEASURE_STEPS steady steps have been seen (noisy jobs must still decide).
 */
export const TARGET_REL_NOISE = 0.01;
/** Trimmed share at each end of the step-time distribution (GC pauses, checkpoints). */
export const TRIM = 0.1;

export interface Measurement {
  version: number;
  batch: number;
  workers: number;
  accum: number;
  steps: number;
  /**
   * The job's samples/s over step time (throughput.ts) of a typical steady step: the median samples
   * per rank × world size over the trimmed-mean step time, so a pause between steps or a rare slow
   * step (GC, checkpoint) does not count against the config. 0 when the steps take no time.
   */
  throughput: number;
  stepS: number;
  /** Step time minus data wait: the device's share of a step. */
  computeS: number;
  dataWaitS: number;
  waitRatio: number;
  /** Relative standard error of the mean step time. */
  relNoise: number;
  memPeakBytes: number | null;
  loss: number | null;
  /** Median loss of the newest MIN_MEASURE_STEPS steps: a jump shows there first. */
  lossRecent: number | null;
  lossSigma: number;
  lossNonFinite: boolean;
  /** Gradient-norm figures for the noise scale, when reported. */
  gradSqNorm: number | null;
  gradSqNormSmall: number | null;
  samplesPerRank: number;
  worldSize: number;
  lastStep: number;
  lastTs: number;
  /** The job changed under this version (job-change.ts): only the steps since are measured. */
  shift: JobShift | null;
}

/** The config a version stood for: the current one, or the one a decision created. */
export function configOfVersion(w: Window, version: number): RunConfig | undefined {
  if (version === w.configVersion) return w.config;
  const d = w.decisions.find((x) => x.configVersion === version);
  if (d) return d.configAfter;
  // Versions created before any decision (registration) or since forgotten: the config
  // before the first decision that followed it.
  const next = w.decisions.find((x) => x.configVersion !== null && x.configVersion > version);
  return next?.configBefore;
}

/** The lowest rank's steps, in step order (each rank sees the same step times under DDP). */
export function primarySteps(steps: readonly StepPoint[]): StepPoint[] {
  if (steps.length === 0) return [];
  let rank = Infinity;
  for (const s of steps) if (s.rank < rank) rank = s.rank;
  return steps.filter((s) => s.rank === rank).sort((a, b) => a.step - b.step);
}

/** Steps the job has run under `version` in view, warm-up included. */
export function stepsUnder(w: Window, version: number): number {
  return primarySteps(w.steps).filter((s) => s.configVersion === version).length;
}

/** Steps of `version` after its warm-up, newest MAX_MEASURE_STEPS of them. */
export function steadySteps(w: Window, version: number): StepPoint[] {
  const steps = primarySteps(w.steps);
  let start = 0;
  for (let i = 0; i < steps.length; i++) if (steps[i].configVersion !== version) start = i + 1;
  const ofVersion = steps.slice(start).filter((s) => s.configVersion === version);
  // When the version began before the window's oldest step, nothing in view is warm-up.
  const beganInView = start > 0 || (ofVersion.length > 0 && ofVersion[0].step <= WARMUP_STEPS) || appliedInView(w, version);
  const steady = beganInView ? ofVersion.slice(WARMUP_STEPS) : ofVersion;
  return steady.slice(-MAX_MEASURE_STEPS);
}

function appliedInView(w: Window, version: number): boolean {
  return w.events.some((e) => e.kind === 'config_applied' && Number(e.data.version ?? e.data.config_version) === version);
}

export function measure(w: Window, version: number): Measurement | undefined {
  const steady = steadySteps(w, version);
  // A lasting shift at this config is the job changing, not noise: measure what it is now.
  const shift = findShift(steady, MIN_MEASURE_STEPS);
  const steps = shift ? steady.filter((s) => s.step >= shift.step) : steady;
  const config = configOfVersion(w, version);
  if (steps.length === 0 || !config) return undefined;
  const durations = steps.map((s) => s.durationS);
  const waits = steps.map((s) => Math.min(s.dataWaitS, s.durationS));
  const computes = steps.map((s) => Math.max(0, s.durationS - Math.min(s.dataWaitS, s.durationS)));
  const stepS = trimmedMean(durations, TRIM);
  const dataWaitS = trimmedMean(waits, TRIM);
  const worldSize = Math.max(1, median(steps.map((s) => s.worldSize)));
  const samplesPerRank = median(steps.map((s) => s.samples));
  const med = median(durations);
  const mems = steps.map((s) => s.memPeakBytes).filter((x): x is number => x !== null);
  const losses = steps.map((s) => s.loss).filter((x): x is number => x !== null);
  const finite = losses.filter((x) => Number.isFinite(x));
  const norms = normsOf(steps, w.normSteps ?? [], samplesPerRank, worldSize);
  const gsq = norms.map((s) => s.gradSqNorm!);
  const gsqSmall = norms.map((s) => s.gradSqNormSmall!);
  const last = steps[steps.length - 1];
  return {
    version,
    batch: config.batch_size,
    workers: config.num_workers,
    accum: config.grad_accum_steps,
    steps: steps.length,
    throughput: jobStepRate([{ samples: samplesPerRank, worldSize, durationS: stepS }]).samplesPerSecond ?? 0,
    stepS,
    computeS: trimmedMean(computes, TRIM),
    dataWaitS,
    waitRatio: stepS > 0 ? dataWaitS / stepS : 0,
    relNoise: med > 0 ? robustSigma(durations) / med / Math.sqrt(steps.length) : 0,
    memPeakBytes: mems.length > 0 ? Math.max(...mems) : null,
    loss: finite.length > 0 ? median(finite) : null,
    lossRecent: finite.length > 0 ? median(finite.slice(-MIN_MEASURE_STEPS)) : null,
    lossSigma: robustSigma(finite),
    lossNonFinite: finite.length < losses.length,
    gradSqNorm: gsq.length > 0 ? trimmedMean(gsq, TRIM) : null,
    gradSqNormSmall: gsq.length > 0 ? trimmedMean(gsqSmall, TRIM) : null,
    samplesPerRank,
    worldSize,
    lastStep: last.step,
    lastTs: last.ts,
    shift,
  };
}

const hasNorms = (s: StepPoint) => s.gradSqNorm !== null && s.gradSqNormSmall !== null && Number.isFinite(s.gradSqNorm) && Number.isFinite(s.gradSqNormSmall);

/**
 * The steps whose two gradient norms a measurement averages: the measured steps' own, else the run's
 * newest norm-bearing steps at the same batch (samples per rank and ranks): the job's side samples
 * the norms sparsely, and a norm is over its step's batch, so only steps of the same batch average
 * with each other (the noise scale itself does not depend on the loader or the other knobs).
 */
function normsOf(steps: readonly StepPoint[], older: readonly StepPoint[], samplesPerRank: number, worldSize: number): StepPoint[] {
  const own = steps.filter(hasNorms);
  if (own.length > 0) return own;
  return older.filter((s) => hasNorms(s) && s.samples === samplesPerRank && Math.max(1, s.worldSize) === worldSize);
}

/** Enough steady steps to act on, or to judge a change by. */
export function isComplete(m: Measurement | undefined): m is Measurement {
  if (!m || m.steps < MIN_MEASURE_STEPS) return false;
  return m.relNoise <= TARGET_REL_NOISE || m.steps >= MAX_MEASURE_STEPS;
}

/**
 * The figures a decision keeps of a measured window (domain/measured.ts), rounded as they are
 * stored; with the process tree's CPU use read beside it and, before a change, the device memory held.
 */
export function measuredPoint(m: Measurement, use: { processCpuCores: number | null; workerBusyRatio: number | null }, gpuMemoryUsedBytes?: number | null): MeasuredPoint {
  return {
    batchSize: m.batch,
    numWorkers: m.workers,
    gradAccumSteps: m.accum,
    steps: m.steps,
    samplesPerSecond: round(m.throughput), // the job's, over step time
    stepSeconds: round(m.stepS),
    computeSeconds: round(m.computeS),
    dataWaitRatio: round(m.waitRatio),
    relNoise: round(m.relNoise),
    memPeakBytes: m.memPeakBytes,
    loss: m.loss === null ? null : round(m.loss),
    lossSigma: round(m.lossSigma),
    ...(gpuMemoryUsedBytes !== undefined ? { gpuMemoryUsedBytes } : {}),
    processCpuCores: use.processCpuCores,
    workerBusyRatio: use.workerBusyRatio,
  };
}

export function round(x: number, digits = 6): number {
  if (!Number.isFinite(x)) return x;
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
