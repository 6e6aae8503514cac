// The learning-rate policy: the learning rate follows the batch size by a rule fit for
// the optimizer, ramped in by the client; or, with keep_global_batch, the micro-batch and
// grad_accum_steps move together so the global batch (and so the learning rate) stay.
import type { LrScaling, Optimizer, RunConfig, TuneSettings } from '../domain/config.js';

/**
 * Steps over which the client ramps the learning rate up to a new, larger value. Goyal
 * et al. 2017 ("Accurate, Large Minibatch SGD", §2.2) show a sudden jump after a batch
 * increase destabilises early training and fix it with a gradual warm-up; a mid-run
 * change needs a short ramp, not their five epochs. Decreases apply at once.
 */
export const LR_RAMP_STEPS = 50;

/**
 * `auto` by optimizer: linear for SGD-family (Goyal et al. 2017; LARS, You et al. 2017),
 * square root for Adam-family (Malladi et al. 2022, "On the SDEs and Scaling Rules for
 * Adaptive Gradient Algorithms"; LAMB, You et al. 2020, uses the same), and none for an
 * optimizer we know nothing about.
 */
export function scalingRule(tune: Pick<TuneSettings, 'lr_scaling' | 'optimizer'>): Exclude<LrScaling, 'auto'> {
  if (tune.lr_scaling !== 'auto') return tune.lr_scaling;
  const byOptimizer: Record<Optimizer, Exclude<LrScaling, 'auto'>> = {
    sgd: 'linear', lars: 'linear', adam: 'sqrt', adamw: 'sqrt', lamb: 'sqrt', other: 'none',
  };
  return byOptimizer[tune.optimizer];
}

export function scaledLearningRate(lr: number, fromBatch: number, toBatch: number, rule: Exclude<LrScaling, 'auto'>): number {
  const k = toBatch / fromBatch;
  if (rule === 'linear') return lr * k;
  if (rule === 'sqrt') return lr * Math.sqrt(k);
  return lr;
}

/** Micro-batch sizes that divide the global batch exactly, ascending. */
export function microBatchSizes(globalBatch: number): number[] {
  const out: number[] = [];
  for (let d = 1; d <= globalBatch; d++) if (globalBatch % d === 0) out.push(d);
  return out;
}

export interface BatchChange {
  config: RunConfig;
  /** What happened to the learning rate, for the decision's evidence. */
  lrRule: string;
}

/**
 * The config with a new (micro-)batch size and everything that follows from it.
 * keep_global_batch: grad_accum_steps = global / batch (the caller picks a divisor).
 */
export function withBatchSize(config: RunConfig, batch: number, tune: TuneSettings): BatchChange {
  if (tune.keep_global_batch) {
    const global = config.batch_size * config.grad_accum_steps;
    return {
      config: { ...config, batch_size: batch, grad_accum_steps: Math.max(1, Math.round(global / batch)) },
      lrRule: 'keep_global_batch',
    };
  }
  const rule = tune.knobs.includes('learning_rate') ? scalingRule(tune) : 'none';
  let lr = scaledLearningRate(config.learning_rate, config.batch_size, batch, rule);
  const b = tune.bounds.learning_rate;
  let note: string = rule;
  if (b && (lr < b.min || lr > b.max)) {
    lr = Math.min(b.max, Math.max(b.min, lr));
    note = `${rule}, clamped to bounds`;
  }
  const next: RunConfig = { ...config, batch_size: batch, learning_rate: lr };
  if (lr !== config.learning_rate) next.lr_warmup_steps = lr > config.learning_rate ? LR_RAMP_STEPS : 0;
  return { config: next, lrRule: note };
}
