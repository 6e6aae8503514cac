// In-memory state of live runs: what metrics and the tuner need every second without SQL. It holds
// only what SQLite does not (the process-tree readings, the tuner's status) and the one cache of
// step reports (the recent ones and running totals); run records, events and decisions are cached
// by the store's repos, each in one place.
import type { GpuReading, ProcessTreeReading } from '../../collectors/readings.js';
import type { RunStatusUpdate } from '../../tuner/decide.js';
import type { StepPoint } from '../../domain/steps.js';
import { jobStepRate } from '../../tuner/throughput.js';
import { WARMUP_STEPS } from '../../tuner/measure.js';
import { POWER_HISTORY, runPower, stepsEnergy, type PowerPoint } from './energy.js';

/** Recent steps kept in memory per run (the tuner's window and metrics' ratios). */
export const RECENT_STEPS = 512;

/** Process-tree readings kept per run: ~30 s at 1 s sampling, enough for the tuner to see idle workers. */
export const PROCESS_HISTORY = 30;

/** What the tuner last said of the run (tuner/decide.ts). */
export type RunStatus = RunStatusUpdate;

export interface LiveRun {
  recent: StepPoint[];
  stepsTotal: number;
  samplesTotal: number;
  lastLoss: number | null;
  lastStepTs: number | null;
  status: RunStatus | null;
  process: ProcessTreeReading | null;
  processHistory: Array<ProcessTreeReading & { ts: number }>;
  /** The run's GPUs' summed power per tick (energy.ts), oldest first, bounded. */
  power: PowerPoint[];
  /** Energy of the steps the power trace covered since this sidecar watched the run; null before any. */
  energy: RunEnergy | null;
  /** The run's first config's own rank-0 steps, summed: the start the run view compares with. */
  start: StartTally | null;
  /**
   * The newest rank-0 steps that carried both gradient norms, however old: the job's side samples
   * them sparsely on a large model (one pair every few thousand steps), so the recent window alone
   * would seldom hold one.
   */
  normSteps: StepPoint[];
}

/** Norm-bearing steps kept per run (live.normSteps). */
export const NORM_STEPS = 32;

/**
 * Rank-0 steps of the config a run started with, summed as they arrive (O(1) a step): the start's
 * own samples/s, measured before the first change, as the report computes it (cli/report-data.ts):
 * its first WARMUP_STEPS steps dropped once it has twice as many. `changed` once a step of a newer
 * config has arrived: only then is there a start to compare the run's present with.
 */
export interface StartTally {
  version: number;
  steps: number;
  samples: number;
  seconds: number;
  /** The same sums over the first WARMUP_STEPS steps (a loader filling up), dropped from the rate. */
  warmSamples: number;
  warmSeconds: number;
  changed: boolean;
}

export interface RunEnergy {
  joules: number;
  /** Samples (of the whole job) of the steps counted. */
  samples: number;
  steps: number;
  /** GPU indexes last attributed to the run. */
  gpus: number[];
}

export function newLiveRun(): LiveRun {
  return {
    recent: [],
    stepsTotal: 0,
    samplesTotal: 0,
    lastLoss: null,
    lastStepTs: null,
    status: null,
    process: null,
    processHistory: [],
    power: [],
    energy: null,
    start: null,
    normSteps: [],
  };
}

/** Counts rank-0 steps of the start config into the tally (steps in step order; a newer config ends it). */
export function tallyStart(live: LiveRun, steps: readonly StepPoint[]): void {
  for (const s of steps) {
    if (s.rank !== 0) continue;
    const t = (live.start ??= { version: s.configVersion, steps: 0, samples: 0, seconds: 0, warmSamples: 0, warmSeconds: 0, changed: false });
    if (s.configVersion !== t.version) {
      if (s.configVersion > t.version) t.changed = true;
      continue;
    }
    if (t.changed) continue;
    const samples = s.samples * s.worldSize;
    t.steps += 1;
    t.samples += samples;
    t.seconds += s.durationS;
    if (t.steps <= WARMUP_STEPS) {
      t.warmSamples += samples;
      t.warmSeconds += s.durationS;
    }
  }
}

/** Samples/s of a tally: the job's over step time, less the warm-up when it has steps to spare. */
export function tallyRate(t: StartTally): number | null {
  const spare = t.steps > 2 * WARMUP_STEPS;
  const seconds = spare ? t.seconds - t.warmSeconds : t.seconds;
  const samples = spare ? t.samples - t.warmSamples : t.samples;
  return seconds > 0 ? samples / seconds : null;
}

/**
 * The run's present against its start (issue 21: a summary that compared quarters read ×1.02 on a
 * run whose first quarter already ran the change): the start config's own samples/s against the
 * current config's own recent steps, each less its warm-up. Null until the config has changed.
 */
export function sinceStart(live: LiveRun): { startVersion: number; startSamplesPerSecond: number; nowVersion: number; nowSamplesPerSecond: number; ratio: number } | null {
  const t = live.start;
  if (!t || !t.changed) return null;
  const start = tallyRate(t);
  const last = live.recent.filter((s) => s.rank === 0).at(-1);
  if (start === null || !last || last.configVersion === t.version) return null;
  const own = live.recent.filter((s) => s.rank === 0 && s.configVersion === last.configVersion);
  const now = jobStepRate(own.length > 2 * WARMUP_STEPS ? own.slice(WARMUP_STEPS) : own).samplesPerSecond;
  if (now === null) return null;
  return { startVersion: t.version, startSamplesPerSecond: start, nowVersion: last.configVersion, nowSamplesPerSecond: now, ratio: now / start };
}

/** Adds steps to a live run, keeping the recent window in step order and bounded. */
export function addLiveSteps(live: LiveRun, steps: StepPoint[]): void {
  let outOfOrder = false;
  const last = live.recent.at(-1);
  let prev = last ? last.step : -Infinity;
  for (const s of steps) {
    if (s.step < prev) outOfOrder = true;
    prev = s.step;
    live.recent.push(s);
    live.stepsTotal += 1;
    live.samplesTotal += s.samples;
    if (s.loss !== null) live.lastLoss = s.loss;
    if (live.lastStepTs === null || s.ts > live.lastStepTs) live.lastStepTs = s.ts;
    if (s.rank === 0 && s.gradSqNorm !== null && s.gradSqNormSmall !== null) live.normSteps.push(s);
  }
  if (live.normSteps.length > NORM_STEPS) live.normSteps.splice(0, live.normSteps.length - NORM_STEPS);
  tallyStart(live, steps);
  if (live.power.length > 0) {
    const e = stepsEnergy(live.power, steps);
    if (e.steps > 0) {
      const was = live.energy ?? { joules: 0, samples: 0, steps: 0, gpus: [] };
      live.energy = { joules: was.joules + e.joules, samples: was.samples + e.samples, steps: was.steps + e.steps, gpus: was.gpus };
    }
  }
  if (outOfOrder) live.recent.sort((a, b) => a.step - b.step || a.rank - b.rank);
  if (live.recent.length > RECENT_STEPS) live.recent.splice(0, live.recent.length - RECENT_STEPS);
}

export function addProcessReading(live: LiveRun, p: ProcessTreeReading, ts: number, gpus: readonly GpuReading[] | null = null): void {
  live.process = p;
  const power = runPower(gpus, p);
  if (power) {
    live.power.push({ ts, watts: power.watts });
    if (live.power.length > POWER_HISTORY) live.power.shift();
    if (live.energy) live.energy.gpus = power.gpus;
    else live.energy = { joules: 0, samples: 0, steps: 0, gpus: power.gpus };
  }
  live.processHistory.push({ ...p, ts });
  if (live.processHistory.length > PROCESS_HISTORY) live.processHistory.shift();
}
