// Guardrails around every policy: bounds, one knob per decision, cooldown, minimum gain,
// and the judgement of each change against the window before it (kept or rolled back).
import type { CpuBudget } from './budget.js';
import { changes, measuredPoints, oomCeilings, pointFromMeasurement } from './history.js';
import { throughputRatio } from './models.js';
import { measure, isComplete, measurementEvidence, round, MIN_MEASURE_STEPS, MAX_MEASURE_STEPS, TARGET_REL_NOISE, stepsUnder, type Measurement } from './measure.js';
import type { Bound, Decision, DecisionOutcome, DecisionRecord, Knob, RunConfig, Window } from './window.js';

export interface TunerSettings {
  /**
   * Least time between two config changes. Each change makes the job rebuild its data
   * loader (seconds of lost work): at most one per cooldown bounds that cost however
   * fast the steps are. Steps are bounded by the measurement itself (measure.ts).
   */
  cooldownS: number;
  /** Least predicted gain to act (hysteresis): 5 %, the gain the batch policy must show. */
  minPredictedGain: number;
  /** A batch increase is kept only for a measured gain of at least this (the issue: 5 %). */
  minBatchGain: number;
  /** Two windows differ "beyond noise" when the gap exceeds this many standard errors. */
  noiseZ: number;
  /** The least band taken as noise: throughput drifts by about 1 % between windows even when steps look quiet. */
  noiseFloor: number;
  /** A loss that rises this much (relative) over the window before, beyond its own noise, is a jump. */
  lossJumpRatio: number;
}

export const DEFAULT_SETTINGS: TunerSettings = {
  cooldownS: 5,
  minPredictedGain: 0.05,
  minBatchGain: 0.05,
  noiseZ: 2.5,
  noiseFloor: 0.01,
  lossJumpRatio: 0.25,
};

/** The batch size a run may never reach without a user bound: far beyond any device. */
export const DEFAULT_MAX_BATCH = 65536;

/** A knob's bound: the user's, else a default from the budget. */
export function boundOf(w: Window, knob: 'batch_size' | 'num_workers', budget: CpuBudget | null): Bound {
  const user = w.tune.bounds[knob];
  if (knob === 'batch_size') return { min: Math.max(1, user?.min ?? 1), max: user?.max ?? DEFAULT_MAX_BATCH };
  // Default worker ceiling: one worker per budgeted core but the main process's own.
  const cores = budget?.cores ?? w.host?.cpuCount ?? 1;
  return { min: Math.max(0, user?.min ?? 0), max: user?.max ?? Math.max(0, Math.floor(cores) - 1) };
}

export function knobEnabled(w: Window, knob: Knob): boolean {
  return w.tune.knobs.includes(knob);
}

/** Seconds since the newest config change, or Infinity. */
export function sinceLastChange(w: Window): number {
  const last = changes(w).at(-1);
  return last ? w.now - last.ts : Infinity;
}

export function inCooldown(w: Window, s: TunerSettings): boolean {
  return sinceLastChange(w) < s.cooldownS;
}

/** The band within which two windows' throughputs are the same. */
export function noiseBand(a: number, b: number, s: TunerSettings): number {
  return Math.max(s.noiseFloor, s.noiseZ * Math.sqrt(a * a + b * b));
}

/**
 * Whether a measurement is precise enough to act on for an expected effect: a large
 * predicted gain is visible through more noise than a marginal one. Complete
 * measurements always are.
 */
export function preciseEnough(m: Measurement, predictedGain: number | null, s: TunerSettings): boolean {
  if (m.steps < MIN_MEASURE_STEPS) return false;
  if (m.relNoise <= TARGET_REL_NOISE || m.steps >= MAX_MEASURE_STEPS) return true;
  const effect = Math.max(predictedGain ?? s.minPredictedGain, s.minPredictedGain);
  return s.noiseZ * Math.SQRT2 * m.relNoise <= effect / 2;
}

export interface Judgement {
  decisionId: number;
  outcome: DecisionOutcome;
  /** The decision that undoes it, when it is rolled back. */
  rollback?: Decision;
}

function numberOf(r: Record<string, unknown>, k: string): number | null {
  const v = r[k];
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

/**
 * Judges the newest pending change once its version has a complete measurement.
 * Increases must pay (batch: ≥ minBatchGain; workers: beyond noise); decreases must not
 * cost beyond noise; any change whose loss jumps is undone. Rollbacks and OOM back-offs
 * are safety moves and are kept.
 */
export function judge(w: Window, d: DecisionRecord, s: TunerSettings): Judgement | undefined {
  if (d.outcome.status !== 'pending' || d.configVersion === null || d.recommendOnly) return undefined;
  if (w.appliedVersion > d.configVersion || w.configVersion > d.configVersion) {
    return { decisionId: d.id, outcome: { status: 'superseded', note: `version ${d.configVersion} replaced before it was measured` } };
  }
  if (w.appliedVersion < d.configVersion) return undefined;
  const m = measure(w, d.configVersion);
  if (!m || m.steps < MIN_MEASURE_STEPS) return undefined;
  // A learning rate ramped in is judged once it has arrived: a loss that diverges at the
  // new rate does so only after the ramp.
  const ramp = d.configAfter.learning_rate > d.configBefore.learning_rate ? d.configAfter.lr_warmup_steps ?? 0 : 0;
  if (ramp > 0 && stepsUnder(w, d.configVersion) < ramp + MIN_MEASURE_STEPS) return undefined;
  const complete = isComplete(m);
  const before = numberOf(d.evidence, 'before_samples_per_second');
  const after = measurementEvidence(m);
  if (before === null || before <= 0 || d.action === 'rollback' || d.evidence.safety === true) {
    const gain = before ? m.throughput / before - 1 : 0;
    return { decisionId: d.id, outcome: { status: 'kept', gainRatio: round(gain), note: 'safety move', after } };
  }
  const gain = objectiveGain(d, m, before);
  // Standard error of the gap between the two windows, as a share of throughput.
  const se = Math.sqrt((numberOf(d.evidence, 'before_rel_noise') ?? 0) ** 2 + m.relNoise ** 2);
  const band = Math.max(s.noiseFloor, s.noiseZ * se);
  const lossBefore = numberOf(d.evidence, 'before_loss');
  const lossSigma = numberOf(d.evidence, 'before_loss_sigma') ?? 0;
  const lossJump = m.lossNonFinite || (lossBefore !== null && m.lossRecent !== null
    && m.lossRecent - lossBefore > Math.max(s.lossJumpRatio * Math.abs(lossBefore), 3 * lossSigma));
  const increase = d.action === 'increase';
  let note: string | undefined;
  if (lossJump) {
    note = `loss jumped from ${lossBefore} to ${m.lossRecent === null ? 'non-finite' : round(m.lossRecent, 4)}`;
  } else if (increase) {
    // An increase must pay: batch by minBatchGain, workers beyond the noise floor. Decided as
    // soon as the gain is clear of the bar by the windows' noise (a sequential test), else
    // on the point estimate once the measurement is complete.
    const bar = d.knob === 'batch_size' ? s.minBatchGain : s.noiseFloor;
    const z = s.noiseZ * se;
    if (!complete && Math.abs(gain - bar) <= z) return undefined;
    // Within noise of the bar, a batch change is settled by the step model refitted over
    // every size measured (this one included): a regression over many windows sees
    // through noise that a comparison of two windows cannot.
    const model = d.knob === 'batch_size' && gain < bar && gain >= bar - z ? modelGain(w, d, m) : null;
    if (gain < bar && (model === null || model < bar)) {
      note = `gain ${pct(gain)} below the ${pct(bar)} this change had to show${model === null ? '' : ` (step model: ${pct(model)})`}`;
    }
  } else {
    // A decrease (freeing workers, shrinking for goodput) must not cost beyond noise.
    // Decided early when it clearly costs nothing or clearly costs; else once complete.
    if (!complete && gain < 0 && gain > -2 * band) return undefined;
    if (gain < -band) note = `throughput fell ${pct(-gain)}, beyond the ${pct(band)} noise band`;
  }
  if (note === undefined) {
    return { decisionId: d.id, outcome: { status: 'kept', gainRatio: round(gain), note: `gain ${pct(gain)}, noise band ${pct(band)}`, after } };
  }
  const ceiling = oomCeilings(w)[0];
  if (ceiling !== undefined && d.configBefore.batch_size >= ceiling) {
    // Never back into a size that ran out of memory, even to undo a change.
    return { decisionId: d.id, outcome: { status: 'kept', gainRatio: round(gain), note: `${note}; not rolled back: batch ${d.configBefore.batch_size} is at or above the OOM ceiling ${ceiling}`, after } };
  }
  return {
    decisionId: d.id,
    outcome: { status: 'rolled_back', gainRatio: round(gain), note, after },
    rollback: {
      knob: d.knob,
      action: 'rollback',
      reason: `roll back decision ${d.id} (${d.knob} ${describe(d)}): ${note}`,
      evidence: {
        rolled_back_decision: d.id,
        gain_ratio: round(gain),
        noise_band: round(band),
        ...Object.fromEntries(Object.entries(d.evidence).filter(([k]) => k.startsWith('before_'))),
        ...Object.fromEntries(Object.entries(after).map(([k, v]) => [`rejected_${k}`, v])),
      },
      configBefore: w.config,
      configAfter: restore(w.config, d),
      advice: [],
      recommendOnly: false,
    },
  };
}

/** The current config with the decision's knob (and what follows it) put back as it was. */
function restore(config: RunConfig, d: Decision): RunConfig {
  const out: RunConfig = { ...config };
  for (const k of KNOB_FIELDS[d.knob]) {
    const v = d.configBefore[k];
    if (v === undefined) delete out[k];
    else (out as unknown as Record<string, number>)[k] = v;
  }
  return out;
}

/** The step model's gain for a batch decision, refitted with the new measurement. */
function modelGain(w: Window, d: DecisionRecord, m: Measurement): number | null {
  const ratio = throughputRatio(d.configBefore.batch_size, d.configAfter.batch_size, measuredPoints(w, pointFromMeasurement(m, null)), null).ratio;
  if (ratio === null) return null;
  const bNoise = numberOf(d.evidence, 'b_noise');
  return ratio * (bNoise === null ? 1 : (bNoise + d.configBefore.batch_size) / (bNoise + d.configAfter.batch_size)) - 1;
}

/** Gain by the decision's own objective: throughput, or goodput when it was chosen by it. */
function objectiveGain(d: DecisionRecord, m: Measurement, before: number): number {
  const ratio = m.throughput / before;
  const bNoise = numberOf(d.evidence, 'b_noise');
  if (d.knob !== 'batch_size' || bNoise === null) return ratio - 1;
  const from = d.configBefore.batch_size;
  const to = d.configAfter.batch_size;
  return ratio * ((bNoise + from) / (bNoise + to)) - 1;
}

export function describe(d: Pick<Decision, 'knob' | 'configBefore' | 'configAfter'>): string {
  const k = d.knob;
  if (k === 'none') return '';
  return `${d.configBefore[k]} → ${d.configAfter[k]}`;
}

export function pct(x: number): string {
  return `${Math.round(x * 1000) / 10} %`;
}

/** Config fields a decision on each knob may change: the learning rate and accumulation follow batch size. */
export const KNOB_FIELDS: Record<Decision['knob'], ReadonlyArray<keyof RunConfig>> = {
  batch_size: ['batch_size', 'learning_rate', 'grad_accum_steps', 'lr_warmup_steps'],
  num_workers: ['num_workers'],
  learning_rate: ['learning_rate', 'lr_warmup_steps'],
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
    const b = boundOf(w, 'batch_size', budget);
    if (a.batch_size < b.min || a.batch_size > b.max) return `batch ${a.batch_size} outside [${b.min}, ${b.max}]`;
    const ceiling = oomCeilings(w)[0];
    if (ceiling !== undefined && a.batch_size >= ceiling) return `batch ${a.batch_size} at or above the OOM ceiling ${ceiling}`;
  }
  if (changed.includes('num_workers')) {
    const user = w.tune.bounds.num_workers;
    const lo = user?.min ?? 0;
    const hi = user?.max ?? Infinity;
    if (a.num_workers < lo || a.num_workers > hi) return `workers ${a.num_workers} outside [${lo}, ${hi}]`;
  }
  if (changed.includes('learning_rate')) {
    const lr = w.tune.bounds.learning_rate;
    if (lr && (a.learning_rate < lr.min || a.learning_rate > lr.max)) return `learning rate ${a.learning_rate} outside [${lr.min}, ${lr.max}]`;
  }
  return undefined;
}
