// A run's config and its tune settings: what the API takes, the store keeps, the tuner changes
// and the client applies. The API's schemas (server/schemas/runs.ts) are built from these arrays,
// so a value added here is accepted, stored and shown everywhere at once.

export const KNOBS = ['batch_size', 'learning_rate', 'num_workers', 'prefetch_factor', 'persistent_workers', 'pin_memory'] as const;
export type Knob = (typeof KNOBS)[number];
/**
 * The data loader's knobs beside its workers (issue 22): tuned only on a run whose config carries
 * the field (a job that can apply it says so by sending it; an older client never does).
 */
export const LOADER_KNOBS = ['prefetch_factor', 'persistent_workers', 'pin_memory'] as const;
export type LoaderKnob = (typeof LOADER_KNOBS)[number];
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
  /** Batches each data-loader worker keeps loaded ahead (torch's prefetch_factor; only with workers). */
  prefetch_factor?: number;
  /** Workers kept alive between epochs (torch's persistent_workers; only with workers). */
  persistent_workers?: boolean;
  /** Batches copied into page-locked host memory for faster device copies (CUDA jobs only). */
  pin_memory?: boolean;
}

export interface Bound { min: number; max: number }

export interface TuneSettings {
  mode: TuneMode;
  knobs: Knob[];
  optimizer: Optimizer;
  lr_scaling: LrScaling;
  keep_global_batch: boolean;
  bounds: Partial<Record<Knob, Bound>>;
  /**
   * The host memory the whole job (its process tree) may hold, bytes, overriding the cgroup limit or
   * available memory the data-loader knobs are otherwise kept within (tuner/host-memory.ts).
   */
  host_memory_budget_bytes?: number;
}

/** A knob's value as a number (a switch is 0 or 1), for the words and figures of a decision. */
export function knobValue(config: RunConfig, knob: Knob): number {
  const v = config[knob];
  return typeof v === 'boolean' ? Number(v) : v ?? 0;
}
