// Judging a change against the window before it: kept, or rolled back with the decision
// that undoes it. Increases must pay, decreases must not cost, a loss jump undoes anything.
import { cpuUse } from './budget.js';
import { measuredPoints, oomCeilings, pointFromMeasurement } from './history.js';
import { fmtChange, fmtGain, fmtNum, fmtPercent, knobName } from './format.js';
import { KNOB_FIELDS, noiseBand, type TunerThresholds } from './guardrails.js';
import { isComplete, measure, measuredPoint, MIN_MEASURE_STEPS, round, stepsUnder, type Measurement } from './measure.js';
import { efficiency } from './goodput.js';
import { fitPerfModel, predictRatio } from './perf-model.js';
import type { Decision, DecisionOutcome, DecisionRecord } from '../domain/decisions.js';
import { pointEvidence } from '../domain/measured.js';
import { knobValue, type RunConfig } from '../domain/config.js';
import type { Window } from './window.js';

export interface Judgement {
  decisionId: number;
  outcome: DecisionOutcome;
  /** The decision that undoes it, when it is rolled back. */
  rollback?: Decision;
}

/**
 * Judges the newest pending change once its version has enough steady steps (and, for a
 * learning rate ramped in, once the ramp is done). Increases must pay (batch: ≥
 * minBatchGain; workers: beyond noise); decreases must not cost beyond noise; any change
 * whose loss jumps is undone. Rollbacks and OOM back-offs are safety moves and are kept.
 * Undefined while the verdict is still open.
 */
export function judge(w: Window, d: DecisionRecord, s: TunerThresholds): Judgement | undefined {
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
  if (m.shift && d.action !== 'rollback' && d.basis?.safety !== true) {
    // The job changed under the trial: its reading says what the change did, not what the move did.
    return { decisionId: d.id, outcome: { status: 'superseded', note: `the job changed at step ${m.shift.step} while this was measured (steps ${fmtGain(m.shift.ratio - 1)} at a fixed config): not judged on that reading; the search starts again from here` } };
  }
  const complete = isComplete(m);
  const before = d.before?.samplesPerSecond ?? null;
  const use = cpuUse(w.processHistory, m.workers);
  const after = measuredPoint(m, { processCpuCores: use ? round(use.treeCores) : null, workerBusyRatio: use?.workerBusyRatio == null ? null : round(use.workerBusyRatio) });
  if (d.action === 'rollback') {
    // A rollback is judged against the trial it undid: it reads as the way back, not as a loss.
    const rejected = d.rejected?.samplesPerSecond ?? null;
    const gain = rejected ? m.throughput / rejected - 1 : 0;
    return { decisionId: d.id, outcome: { status: 'kept', gainRatio: round(gain), note: `rolled back: ${round(m.throughput, 1)} samples/s again${rejected ? `, ${fmtGain(gain)} over the change undone` : ''}`, after } };
  }
  if (before === null || before <= 0 || d.basis?.safety === true) {
    const gain = before ? m.throughput / before - 1 : 0;
    return { decisionId: d.id, outcome: { status: 'kept', gainRatio: round(gain), note: 'safety move', after } };
  }
  const gain = objectiveGain(d, m, before);
  // Standard error of the gap between the two windows, as a share of throughput.
  const se = Math.hypot(d.before?.relNoise ?? 0, m.relNoise);
  const band = noiseBand(s, d.before?.relNoise ?? 0, m.relNoise);
  const lossBefore = d.before?.loss ?? null;
  const lossSigma = d.before?.lossSigma ?? 0;
  const lossJump = m.lossNonFinite || (lossBefore !== null && m.lossRecent !== null
    && m.lossRecent - lossBefore > Math.max(s.lossJumpRatio * Math.abs(lossBefore), 3 * lossSigma));
  // A stepping stone only has to not cost: the move it opens is judged on its own. A descent (a
  // trial of a smaller batch, search-measured.ts) must pay like an increase: the user's batch stays
  // unless a smaller one measures better.
  // A return to the best configuration measured (search-measured.ts) was already measured better
  // beyond noise: it must not cost, like a decrease; asked to pay again it is a coin toss near the bar,
  // and losing it leaves the run on a configuration another one beat (issue 21: never end there).
  const increase = (d.action === 'increase' && d.basis?.search !== 'stepping_stone' && d.basis?.search !== 'return') || d.basis?.search === 'descent';
  let note: string | undefined;
  if (lossJump) {
    note = m.lossNonFinite
      ? `the loss turned non-finite (NaN or inf; it was ${lossBefore === null ? 'finite' : round(lossBefore, 4)})`
      : `the loss jumped from ${lossBefore} to ${round(m.lossRecent!, 4)}, beyond its noise`;
  } else if (increase) {
    // An increase must pay, beyond the two windows' noise band: batch by at least minBatchGain
    // too. A gain inside the band is not told from noise, and keeping it would let the config
    // drift on noise. Decided as soon as the gain is clear of the bar by the windows' noise (a
    // sequential test), else on the point estimate once the measurement is complete.
    const bar = Math.max(d.knob === 'batch_size' ? s.minBatchGain : s.noiseFloor, band);
    const z = s.noiseZ * se;
    if (!complete && Math.abs(gain - bar) <= z) return undefined;
    // Within noise of the bar, a batch change is settled by the step model refitted over
    // every size measured (this one included): a regression over many windows sees
    // through noise that a comparison of two windows cannot.
    const model = d.knob === 'batch_size' && gain < bar && gain >= bar - z ? modelGain(w, d, m) : null;
    if (gain < bar && (model === null || model < bar)) {
      note = `${fmtGain(gain)} samples/s, below the ${fmtGain(bar)} this change had to show${model === null ? '' : ` (step model: ${fmtGain(model)})`}`;
    }
  } else {
    // A decrease (freeing workers, shrinking for goodput) must not cost beyond noise.
    // Decided early when it clearly costs nothing or clearly costs; else once complete.
    if (!complete && gain < 0 && gain > -2 * band) return undefined;
    if (gain < -band) note = `throughput fell ${fmtPercent(-gain)}, beyond the ${fmtPercent(band)} noise band`;
  }
  if (note === undefined && d.basis?.search === 'descent') {
    // A/B/A: a smaller batch that measured better is not kept on that reading alone. The size it
    // left was measured earlier in the run, and a job that speeds up as it runs (caches filling, other
    // work on the host ending) flatters whatever is measured later. So the way back is taken and the
    // old size measured again; the search returns to the smaller one only if it still beats that
    // fresh reading beyond noise (search-measured.ts, `wayBack`).
    const [from, to] = [fmtNum(d.configBefore.batch_size), fmtNum(d.configAfter.batch_size)];
    note = `${fmtGain(gain)} samples/s, ${from} is measured again before ${to} is kept, as it must beat ${from} measured after it too`;
  }
  if (note === undefined) {
    return { decisionId: d.id, outcome: { status: 'kept', gainRatio: round(gain), note: `${fmtGain(gain)} samples/s, noise band ${fmtPercent(band)}`, after } };
  }
  const ceiling = oomCeilings(w)[0];
  if (d.knob === 'batch_size' && ceiling !== undefined && d.configBefore.batch_size >= ceiling) {
    // Never back into a size that ran out of memory, even to undo a change.
    return { decisionId: d.id, outcome: { status: 'kept', gainRatio: round(gain), note: `${note}; not rolled back: batch ${d.configBefore.batch_size} is at or above the OOM ceiling ${ceiling}`, after } };
  }
  return {
    decisionId: d.id,
    outcome: { status: 'rolled_back', gainRatio: round(gain), note, after, cause: lossJump ? 'loss' : 'throughput' },
    rollback: {
      knob: d.knob,
      action: 'rollback',
      reason: rollbackWords(d, gain, note, lossJump),
      evidence: {
        rolled_back_decision: d.id,
        gain_ratio: round(gain),
        noise_band: round(band),
        ...(d.before ? pointEvidence(d.before, 'before_') : {}),
        ...pointEvidence(after, 'rejected_'),
      },
      ...(d.before ? { before: d.before } : {}),
      rejected: after,
      configBefore: w.config,
      configAfter: restore(w.config, d),
      advice: [],
      recommendOnly: false,
    },
  };
}

/** The current config with the decision's knob (and what follows it) put back as it was. */
export function restore(config: RunConfig, d: Decision): RunConfig {
  const out: RunConfig = { ...config };
  for (const k of KNOB_FIELDS[d.knob]) {
    const v = d.configBefore[k];
    if (v === undefined) delete out[k];
    else (out as unknown as Record<string, unknown>)[k] = v;
  }
  return out;
}

/** The performance model's gain for a batch decision, refitted with the new measurement (the search's one model). */
function modelGain(w: Window, d: DecisionRecord, m: Measurement): number | null {
  const workers = d.configAfter.num_workers;
  const model = fitPerfModel(measuredPoints(w, pointFromMeasurement(m, null)), { budgetCores: null, gpuUtil: null, treeCores: null, workerBusy: null, freeHostCores: null, workers });
  const r = predictRatio(model, { batch: d.configBefore.batch_size, workers }, { batch: d.configAfter.batch_size, workers });
  if (!r || r.assumed) return null;
  return r.ratio * goodputFactor(d) - 1;
}

/** The statistical efficiency of the decision's batch change when it was chosen by goodput, else 1. */
function goodputFactor(d: DecisionRecord): number {
  const bNoise = d.basis?.bNoise ?? null;
  return d.knob !== 'batch_size' || bNoise === null ? 1 : efficiency(bNoise, d.configBefore.batch_size, d.configAfter.batch_size);
}

/** Gain by the decision's own objective: throughput, or goodput when it was chosen by it. */
function objectiveGain(d: DecisionRecord, m: Measurement, before: number): number {
  return (m.throughput / before) * goodputFactor(d) - 1;
}

/** "back to 1 data-loader worker: 2 measured −15 % samples/s (noise band 3 %)": a rollback reads as one. */
export function rollbackWords(d: DecisionRecord, gain: number, note: string, lossJump: boolean): string {
  const k = d.knob === 'none' ? 'config' : d.knob;
  const from = d.knob === 'none' ? '' : fmtNum(knobValue(d.configBefore, d.knob));
  const to = d.knob === 'none' ? '' : fmtNum(knobValue(d.configAfter, d.knob));
  const rest = note.replace(/^[+−-]?[\d.]+ % samples\/s,?\s*/, '');
  const why = lossJump ? `at ${to} ${note}` : `${to} measured ${fmtGain(gain)} samples/s${rest ? ` (${rest})` : ''}`;
  return `back to ${knobName(k)} ${from}: ${why} (undoes decision ${d.id})`;
}

export function describe(d: Pick<Decision, 'knob' | 'configBefore' | 'configAfter'>): string {
  const k = d.knob;
  if (k === 'none') return '';
  return fmtChange({ knob: k, action: '', before: d.configBefore[k], after: d.configAfter[k] }, { values: true });
}

