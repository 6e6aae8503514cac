// The tuning defaults, once: what a run is tuned with when it does not say, and the documented
// example that tests, fixtures and the simulator start from.
import { KNOBS, type TuneSettings } from './config.js';

/**
 * What POST /v1/runs gives a run that sends no `tune` (or leaves fields out): every knob,
 * automatic learning-rate scaling, no bounds beyond the API's own limits. The optimizer is
 * unknown, so `other`: under `lr_scaling: auto` the learning rate then stays put when batch
 * size moves (lr.ts), rather than following a rule meant for another optimizer.
 */
export const DEFAULT_TUNE: TuneSettings = {
  mode: 'auto',
  knobs: [...KNOBS],
  optimizer: 'other',
  lr_scaling: 'auto',
  keep_global_batch: false,
  bounds: {},
};

/**
 * The registration example of DESIGN §4: an Adam job with batch size kept to 8–1024 and data-loader
 * workers to 0–16. Tests, replay fixtures and the simulator's scenarios start from it.
 */
export const EXAMPLE_TUNE: TuneSettings = {
  ...DEFAULT_TUNE,
  knobs: [...KNOBS],
  optimizer: 'adam',
  bounds: { batch_size: { min: 8, max: 1024 }, num_workers: { min: 0, max: 16 } },
};
