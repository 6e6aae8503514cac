// The tuner's input: an immutable window of one run's recent history.
// The store builds it (store/); the tuner only reads it.
import type { GpuReading, HostReading, ProcessTreeReading } from '../collectors/readings.js';

// What a run's tune settings may say. The API's schemas (server/schemas/runs.ts) are built from
// these arrays, so a value added here is accepted, stored and shown everywhere at once.
export const KNOBS = ['batch_size', 'learning_rate', 'num_workers'] as const;
export type Knob = (typeof KNOBS)[number];
/** `advise` records decisions as recommendations only; `off` only observes. */
export const TUNE_MODES = ['auto', 'advise', 'off'] as const;
export type TuneMode = (typeof TUNE_MODES)[number];
/** The optimizer decides the learning-rate rule under `lr_scaling: auto` (lr.ts). */
export const OPTIMIZERS = ['sgd', 'adam', 'adamw', 'lamb', 'lars', 'other'] as const;
export type Optimizer = (typeof OPTIMIZERS)[number];
export const LR_SCALINGS = ['auto', 'linear', 'sqrt', 'none'] as const;
export type LrScaling = (typeof LR_SCALINGS)[number];

export interface RunConfig {
  batch_size: number;
  learning_rate: number;
  num_workers: number;
  grad_accum_steps: number;
  /** Steps over which the client ramps the learning rate to a new value (0 = at once). */
  lr_warmup_steps?: number;
}

export interface Bound { min: number; max: number }

export interface TuneSettings {
  mode: TuneMode;
  knobs: Knob[];
  optimizer: Optimizer;
  lr_scaling: LrScaling;
  keep_global_batch: boolean;
  bounds: Partial<Record<Knob, Bound>>;
}

/** One step report as stored (base units). */
export interface StepPoint {
  step: number;
  ts: number; // unix seconds, when the step ended
  durationS: number;
  dataWaitS: number;
  samples: number;
  loss: number | null;
  memPeakBytes: number | null;
  gradSqNorm: number | null;
  gradSqNormSmall: number | null;
  rank: number;
  worldSize: number;
  configVersion: number; // the config version the step ran under
}

export type RunEventKind =
  | 'started' | 'oom' | 'epoch_end' | 'config_applied' | 'checkpoint'
  | 'finished' | 'failed' | 'exited' | 'note';

export interface RunEventPoint {
  ts: number;
  kind: RunEventKind;
  step: number | null;
  data: Record<string, unknown>;
}

export type DecisionOutcome =
  | { status: 'pending' }
  | { status: 'kept'; gainRatio: number; note?: string; after?: Record<string, number | null> }
  | { status: 'rolled_back'; gainRatio: number; note: string; after?: Record<string, number | null> }
  | { status: 'superseded'; note?: string };

/** A decision as the tuner returns it; the store adds id, ts, run and version. */
export interface Decision {
  knob: Knob | 'none';
  action: 'increase' | 'decrease' | 'rollback' | 'set' | 'advise';
  reason: string;
  evidence: Record<string, number | string | boolean | null>;
  configBefore: RunConfig;
  configAfter: RunConfig;
  advice: Advice[];
  /** When true the store does not create a config version (advise mode, or advice-only). */
  recommendOnly: boolean;
}

export interface Advice {
  code: string; // e.g. 'mixed_precision', 'gradient_checkpointing', 'faster_storage'
  title: string;
  why: string;
}

/** A stored decision: what the tuner returned plus bookkeeping. */
export interface DecisionRecord extends Decision {
  id: number;
  ts: number;
  step: number | null;
  configVersion: number | null; // the version it created, null for recommendations
  outcome: DecisionOutcome;
}

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
}
