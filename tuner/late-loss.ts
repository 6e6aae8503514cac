// A kept change whose loss turns non-finite later, past its judging window (issue 21, deliver 7): the
// judge saw finite losses and kept it, but the job diverges under it afterwards (an SGD job near its
// stability edge can run a few hundred steps before its iterates overflow). Repeated non-finite losses
// under the kept version undo it with cause 'loss', as the judge would have (a batch size where that
// happened is then a ceiling, history.ts lossCeilings). One non-finite step can be a bad batch the
// job skips (AMP's GradScaler skips those steps itself); several are a divergence.
import { oomCeilings } from './history.js';
import { restore, rollbackWords } from './judge.js';
import { round } from './measure.js';
import type { Decision, DecisionOutcome, DecisionRecord } from '../domain/decisions.js';
import type { Window } from './window.js';

/** Non-finite losses under a kept version that undo it: more than a skipped bad batch. */
export const LATE_NON_FINITE_STEPS = 3;

export interface LateLoss {
  outcome: DecisionOutcome;
  rollback: Decision;
}

/** The rollback of `d`, kept and still the job's version, once its steps report a non-finite loss repeatedly. */
export function lateLossRollback(w: Window, d: DecisionRecord): LateLoss | undefined {
  if (d.outcome.status !== 'kept' || d.action === 'rollback' || d.basis?.safety === true || d.recommendOnly || d.knob === 'none') return undefined;
  if (d.configVersion === null || w.appliedVersion !== d.configVersion || w.configVersion !== d.configVersion) return undefined;
  const bad = w.steps.filter((p) => p.configVersion === d.configVersion && p.loss !== null && !Number.isFinite(p.loss));
  if (bad.length < LATE_NON_FINITE_STEPS) return undefined;
  const ceiling = oomCeilings(w)[0];
  // Never back into a size that ran out of memory.
  if (d.knob === 'batch_size' && ceiling !== undefined && d.configBefore.batch_size >= ceiling) return undefined;
  const gain = d.outcome.gainRatio;
  const note = `the loss turned non-finite ${bad.length} times after it was kept (from step ${bad[0].step})`;
  return {
    outcome: { status: 'rolled_back', gainRatio: gain, note, after: d.outcome.after, cause: 'loss' },
    rollback: {
      knob: d.knob,
      action: 'rollback',
      reason: rollbackWords(d, gain, note, true),
      evidence: {
        rolled_back_decision: d.id,
        gain_ratio: round(gain),
        non_finite_steps: bad.length,
        first_non_finite_step: bad[0].step,
      },
      configBefore: w.config,
      configAfter: restore(w.config, d),
      advice: [],
      recommendOnly: false,
    },
  };
}
