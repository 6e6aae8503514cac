// In-memory state of live runs: what metrics and the tuner need every second without SQL. It holds
// only what SQLite does not (the process-tree readings, the tuner's status) and the one cache of
// step reports (the recent ones and running totals); run records, events and decisions are cached
// by the store's repos, each in one place.
import type { GpuReading, ProcessTreeReading } from '../../collectors/readings.js';
import type { RunStatusUpdate } from '../../tuner/decide.js';
import type { StepPoint } from '../../domain/steps.js';
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
  };
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
  }
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
