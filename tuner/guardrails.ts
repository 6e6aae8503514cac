// Guardrails around every policy: bounds, one knob per decision, cooldown, minimum gain,
// precision before acting, and the last check on every decision (judge.ts judges outcomes).
import type { CpuBudget } from './budget.js';
import { changes, oomCeilings } from './history.js';
import { MAX_MEASURE_STEPS, MIN_MEASURE_STEPS, TARGET_REL_NOISE, type Measurement } from './measure.js';
import type { Bound, Knob, RunConfig } from '../domain/config.js';
import { userBound } from '../domain/bounds.js';
import type { Decision } from '../domain/decisions.js';
import type { Window } from './window.js';

export interface TunerThresholds {
  /**
   * Least time between two config changes. Each change makes the job rebuild its data
   * loader (seconds of lost work): at most one per cooldown bounds that cost however
   * fast the steps are. Steps are bounded by the measurement itself (measure.ts).
   */
  cooldownS: number;
  /**
   * Least predicted gain to act (hysteresis). 3 %: with 5 %, doubling stops where a saturating
   * curve b/(α + βb) is at 90 % of its top; 3 % stops past 94 %, and the model's longer jumps go on.
   */
  minPredictedGain: number;
  /** A batch increase is kept only for a measured gain of at least this (it costs memory and moves the learning rate). */
  minBatchGain: number;
  /** Two windows differ "beyond noise" when the gap exceeds this many standard errors. */
  noiseZ: number;
  /** The least band taken as noise: throughput drifts by about 1 % between windows even when steps look quiet. */
  noiseFloor: number;
  /** A loss that rises this much (relative) over the window before, beyond its own noise, is a jump. */
  lossJumpRatio: number;
  /** Most trials (config changes made to measure a candidate) in one run; rollbacks and safety moves do not count. */
  maxTrials: number;
}

export const DEFAULT_THRESHOLDS: TunerThresholds = {
  cooldownS: 5,
  minPredictedGain: 0.03,
  minBatchGain: 0.03,
  noiseZ: 2.5,
  noiseFloor: 0.01,
  lossJumpRatio: 0.25,
  maxTrials: 16,
};

/** Batch size's bounds: the user's, else the defaults (domain/bounds.ts). Workers are bounded in params.ts by the job's cores. */
export function batchBound(w: Window): Bound {
  const { min, max } = userBound(w.tune, 'batch_size');
  return { min, max };
}

export function knobEnabled(w: Window, knob: Knob): boolean {
  return w.tune.knobs.includes(knob);
}

/** Seconds since the newest config change, or Infinity. */
export function sinceLastChange(w: Window): number {
  const last = changes(w).at(-1);
  return last ? w.now - last.ts : Infinity;
}

export function inCooldown(w: Window, s: TunerThresholds): boolean {
  return sinceLastChange(w) < s.cooldownS;
}

/**
 * Whether a measurement is precise enough to act on for an expected effect: a large
 * predicted gain is visible through more noise than a marginal one. Complete
 * measurements always are.
 */
export function preciseEnough(m: Measurement, predictedGain: number | null, s: TunerThresholds): boolean {
  if (m.steps < MIN_MEASURE_STEPS) return false;
  if (m.relNoise <= TARGET_REL_NOISE || m.steps >= MAX_MEASURE_STEPS) return true;
  const effect = Math.max(predictedGain ?? s.minPredictedGain, s.minPredictedGain);
  return s.noiseZ * Math.SQRT2 * m.relNoise <= effect / 2;
}

/** Config fields a decision on each knob may change: the learning rate and accumulation follow batch size. */
export const KNOB_FIELDS: Record<Decision['knob'], ReadonlyArray<keyof RunConfig>> = {
  batch_size: ['batch_size', 'learning_rate', 'grad_accum_steps', 'lr_warmup_steps'],
  num_workers: ['num_workers'],
  learning_rate: ['learning_rate', 'lr_warmup_steps'],
  prefetch_factor: ['prefetch_factor'],
  persistent_workers: ['persistent_workers'],
  pin_memory: ['pin_memory'],
  none: [],
};

/**
 * The last check before a decision leaves the tuner: one knob (and what follows it), inside
 * the user's bounds, below every OOM size. Returns why it must not go out, or undefined.
 */
export function violation(w: Window, d: Decision, budget: CpuBudget | null): string | undefined {
  const changed = (Object.keys({ ...d.configBefore, ...d.configAfter }) as Array<keyof RunConfig>)
    .filter((k) => d.configBefore[k] !== d.configAfter[k]);
  const extra = changed.filter((k) => !KNOB_FIELDS[d.knob].includes(k));
  if (extra.length > 0) return `changes ${extra.join(', ')} besides ${d.knob}`;
  const a = d.configAfter;
  if (changed.includes('batch_size')) {
    const b = batchBound(w);
    if (a.batch_size < b.min || a.batch_size > b.max) return `batch ${a.batch_size} outside [${b.min}, ${b.max}]`;
    const ceiling = oomCeilings(w)[0];
    if (ceiling !== undefined && a.batch_size >= ceiling) return `batch ${a.batch_size} at or above the OOM ceiling ${ceiling}`;
  }
  if (changed.includes('num_workers')) {
    const { min: lo, max: hi } = userBound(w.tune, 'num_workers');
    if (a.num_workers < lo || a.num_workers > hi) return `workers ${a.num_workers} outside [${lo}, ${hi}]`;
  }
  if (changed.includes('prefetch_factor') && a.prefetch_factor !== undefined) {
    const { min: lo, max: hi } = userBound(w.tune, 'prefetch_factor');
    if (a.prefetch_factor < lo || a.prefetch_factor > hi) return `prefetch factor ${a.prefetch_factor} outside [${lo}, ${hi}]`;
  }
  if (changed.includes('learning_rate')) {
    const lr = w.tune.bounds.learning_rate;
    if (lr && (a.learning_rate < lr.min || a.learning_rate > lr.max)) return `learning rate ${a.learning_rate} outside [${lr.min}, ${lr.max}]`;
  }
  return undefined;
}

/**
 * The noise band a change is judged with (judge.ts): both windows' relative noise, at least the
 * floor. Readers of a judged decision (model-record.ts, search.ts) take the same band from its figures.
 */
export function noiseBand(s: Pick<TunerThresholds, 'noiseZ' | 'noiseFloor'>, relNoiseBefore: number, relNoiseAfter: number): number {
  return Math.max(s.noiseFloor, s.noiseZ * Math.hypot(relNoiseBefore, relNoiseAfter));
}
