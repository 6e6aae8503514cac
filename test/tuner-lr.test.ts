// The learning-rate rule that follows a batch-size change (tuner/lr.ts): by optimizer, ramps, bounds.
import { describe, expect, it } from 'vitest';
import { LR_RAMP_STEPS, scalingRule, withBatchSize } from '../tuner/lr.js';
import { BASE_CONFIG, BASE_TUNE } from '../tuner/window-fixtures.js';
import type { TuneSettings } from '../domain/config.js';

describe('learning-rate policy', () => {
  it.each([
    ['sgd', 'auto', 'linear', 0.2],
    ['lars', 'auto', 'linear', 0.2],
    ['adam', 'auto', 'sqrt', 0.1 * Math.SQRT2],
    ['adamw', 'auto', 'sqrt', 0.1 * Math.SQRT2],
    ['other', 'auto', 'none', 0.1],
    ['adam', 'linear', 'linear', 0.2],
    ['sgd', 'none', 'none', 0.1],
  ] as const)('%s with lr_scaling %s scales by %s', (optimizer, lr_scaling, rule, lr) => {
    const t: TuneSettings = { ...BASE_TUNE, optimizer, lr_scaling };
    expect(scalingRule(t)).toBe(rule);
    const c = withBatchSize({ ...BASE_CONFIG, learning_rate: 0.1 }, 128, t).config;
    expect(c.learning_rate).toBeCloseTo(lr, 12);
    expect(c.batch_size).toBe(128);
  });

  it('ramps a larger learning rate in; applies a smaller one at once', () => {
    expect(withBatchSize({ ...BASE_CONFIG, learning_rate: 0.1 }, 128, BASE_TUNE).config.lr_warmup_steps).toBe(LR_RAMP_STEPS);
    expect(withBatchSize({ ...BASE_CONFIG, learning_rate: 0.1 }, 32, BASE_TUNE).config.lr_warmup_steps).toBe(0);
  });

  it('leaves the learning rate alone when it is not a tuned knob', () => {
    const t: TuneSettings = { ...BASE_TUNE, knobs: ['batch_size'] };
    expect(withBatchSize({ ...BASE_CONFIG, learning_rate: 0.1 }, 128, t).config.learning_rate).toBe(0.1);
  });

  it('clamps to the learning-rate bounds', () => {
    const t: TuneSettings = { ...BASE_TUNE, optimizer: 'sgd', bounds: { ...BASE_TUNE.bounds, learning_rate: { min: 0.01, max: 0.15 } } };
    const r = withBatchSize({ ...BASE_CONFIG, learning_rate: 0.1 }, 128, t);
    expect(r.config.learning_rate).toBe(0.15);
    expect(r.lrRule).toMatch(/clamped/);
  });
});
