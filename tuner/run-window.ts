// The one window builder: from what is known of a run to the tuner's Window. Production runs
// (server/runs/tuner-ports.ts) and simulated or replayed ones (server/runs/simulate.ts,
// server/runs/replay.ts) all come through here, so the rules below hold for every one of them.
import type { GpuReading, HostReading, ProcessTreeReading } from '../collectors/readings.js';
import type { DecisionRecord } from '../domain/decisions.js';
import type { RunConfig, TuneSettings } from '../domain/config.js';
import type { RunEventPoint } from '../domain/events.js';
import type { StepPoint } from '../domain/steps.js';
import type { HostMemoryBudget } from './host-memory.js';
import type { Window } from './window.js';

/** What a window is built from: a run as stored, its live readings, its recent history. */
export interface RunWindowParts {
  run: {
    id: string;
    state: string;
    /** null for a watch-only run: the job never said what it runs with. */
    config: RunConfig | null;
    configVersion: number;
    appliedVersion: number;
    tune: TuneSettings;
  };
  now: number;
  /** Recent step reports, oldest first. */
  steps: readonly StepPoint[];
  events: readonly RunEventPoint[];
  decisions: readonly DecisionRecord[];
  /** Batch sizes that ran out of memory over the run's whole history (not just the recent events). */
  oomBatchSizes: readonly number[];
  host: HostReading | null;
  /** Every GPU of the host; classify.runGpus picks the ones the run's processes hold memory on. */
  gpus: readonly GpuReading[] | null;
  process: ProcessTreeReading | null;
  processHistory: ReadonlyArray<ProcessTreeReading & { ts: number }>;
  /** The room the job's process tree may grow into (tuner/host-memory.ts), when known. */
  memoryBudget?: HostMemoryBudget | null;
  /** The newest norm-bearing steps, however old (Window.normSteps). */
  normSteps?: readonly StepPoint[];
}

/** What a watch-only run is shown and classified with; never applied (batch 0 means "unknown"). */
export const NO_CONFIG: RunConfig = Object.freeze({ batch_size: 0, learning_rate: 0, num_workers: 0, grad_accum_steps: 1 });

/**
 * The tune settings the tuner may act on. A watch-only run can be classified and advised, never
 * changed: there is no config to change and no job that would apply one.
 */
function effectiveTune(run: RunWindowParts['run']): TuneSettings {
  if (run.config) return run.tune;
  return { ...run.tune, mode: run.tune.mode === 'off' ? 'off' : 'advise', knobs: [] };
}

/** The run's window, or undefined when the run is not running (nothing to tune). */
export function buildWindow(p: RunWindowParts): Window | undefined {
  if (p.run.state !== 'running') return undefined;
  return Object.freeze({
    runId: p.run.id,
    now: p.now,
    config: p.run.config ?? NO_CONFIG,
    configVersion: p.run.configVersion,
    appliedVersion: p.run.appliedVersion,
    tune: effectiveTune(p.run),
    steps: p.steps.slice(),
    events: p.events.slice(),
    decisions: p.decisions.slice(),
    oomBatchSizes: [...new Set(p.oomBatchSizes.filter((b) => Number.isInteger(b) && b > 0))],
    host: p.host,
    gpus: p.gpus ? p.gpus.slice() : null,
    process: p.process,
    processHistory: p.processHistory.slice(),
    memoryBudget: p.memoryBudget ?? null,
    normSteps: p.normSteps ? p.normSteps.slice() : [],
  });
}

/** Whether a decision is applied as a new config version, or recorded as a recommendation only. */
export function appliesDecision(run: RunWindowParts['run'], d: { recommendOnly: boolean }): boolean {
  return !d.recommendOnly && run.tune.mode === 'auto' && run.config !== null && run.state === 'running';
}
