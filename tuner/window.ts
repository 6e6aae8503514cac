// The tuner's input: an immutable window of one run's recent history.
// The hub builds it (tuner/run-window.ts); the tuner only reads it.
import type { GpuReading, HostReading, ProcessTreeReading } from '../collectors/readings.js';
import type { RunConfig, TuneSettings } from '../domain/config.js';
import type { DecisionRecord } from '../domain/decisions.js';
import type { RunEventPoint } from '../domain/events.js';
import type { StepPoint } from '../domain/steps.js';
import type { HostMemoryBudget } from './host-memory.js';

export interface Window {
  runId: string;
  now: number; // unix seconds
  config: RunConfig;
  configVersion: number;
  /** The newest version the job has acknowledged with config_applied (1 at start). */
  appliedVersion: number;
  tune: TuneSettings;
  /** Recent step reports, oldest first (all ranks; the tuner picks what it needs). */
  steps: StepPoint[];
  events: RunEventPoint[];
  decisions: DecisionRecord[];
  /** Batch sizes that hit an OOM; the tuner never proposes one at or above the smallest. */
  oomBatchSizes: number[];
  host: HostReading | null;
  gpus: GpuReading[] | null; // the run's GPUs when known, else every GPU on the host
  process: ProcessTreeReading | null;
  /**
   * Recent process-tree readings of the run, oldest first (the newest equals `process`).
   * With two or more, the tuner can tell how busy data-loader workers are (CPU seconds
   * per second); without them it never steps workers down for idleness.
   */
  processHistory?: Array<ProcessTreeReading & { ts: number }>;
  /** The room the job's process tree may grow into: the host-memory budget (tuner/host-memory.ts). */
  memoryBudget?: HostMemoryBudget | null;
  /**
   * The run's newest rank-0 steps that carried both gradient norms, however old, oldest first: the
   * job's side samples the norms sparsely, so a measured config's own steps often hold none.
   */
  normSteps?: StepPoint[];
}
