// A run's config and its tune settings: what the API takes, the store keeps, the tuner changes
// and the client applies. The API's schemas (server/schemas/runs.ts) are built from these arrays,
// so a value added here is accepted, stored and shown everywhere at once.

export const KNOBS = ['batch_size', 'learning_rate', 'num_workers'] as const;
export type Knob = (typeof KNOBS)[number];
/** `advise` records decisions as recommendations only; `off` only observes. */
export const TUNE_MODES = ['auto', 'advise', 'off'] as const;
export type TuneMode = (typeof TUNE_MODES)[number];
/** The optimizer decides the learning-rate rule under `lr_scaling: auto` (tuner/lr.ts). */
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
