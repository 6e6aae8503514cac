// The job changing under a fixed configuration (issue 21): a new phase, data moved to slower
// storage, a curriculum step. Seen as a lasting shift of step time within one config version's
// steady steps — the config did not move, the job did. The search then marks the points measured
// before it stale and opens again; a trial whose window straddles the shift is not judged on a
// reading the change made.
import type { DecisionRecord } from '../domain/decisions.js';
import type { StepPoint } from '../domain/steps.js';
import { median, robustSigma } from './stats.js';

/** A shift smaller than this (relative step time) is not a change of the job, whatever the noise. */
export const SHIFT_RATIO = 0.15;
/** Standard errors the two sides' medians must differ by. */
export const SHIFT_Z = 4;

export interface JobShift {
  /** The first step (and its time) after the shift. */
  step: number;
  ts: number;
  /** Step time after over before: 1.5 is 50 % slower steps. */
  ratio: number;
}

/**
 * The most marked lasting shift of step time within these steps (one config version), null when
 * none clears both SHIFT_RATIO and SHIFT_Z standard errors. Each side needs `minSide` steps, so a
 * shift is seen only once it has lasted that long (measure.ts passes MIN_MEASURE_STEPS).
 */
export function findShift(steps: readonly StepPoint[], minSide: number): JobShift | null {
  const n = steps.length;
  if (n < 2 * minSide) return null;
  const d = steps.map((s) => s.durationS);
  let best: JobShift | null = null;
  let bestScore = 0;
  // Candidate splits every few steps: enough to place the change, cheap on a 200-step window.
  for (let k = minSide; k <= n - minSide; k += 5) {
    const a = d.slice(0, k);
    const b = d.slice(k);
    const ma = median(a);
    const mb = median(b);
    if (!(ma > 0 && mb > 0)) continue;
    const se = Math.hypot(robustSigma(a) / Math.sqrt(a.length), robustSigma(b) / Math.sqrt(b.length));
    const ratio = mb / ma;
    if (Math.abs(ratio - 1) < SHIFT_RATIO || Math.abs(mb - ma) < SHIFT_Z * se) continue;
    const score = Math.abs(mb - ma) / Math.max(se, 1e-12);
    if (score > bestScore) { bestScore = score; best = { step: steps[k].step, ts: steps[k].ts, ratio }; }
  }
  return best;
}

/** When the job last changed, as the decision log recorded it (evidence job_changed_at), or null. */
export function recordedChange(decisions: readonly DecisionRecord[]): number | null {
  let at: number | null = null;
  for (const d of decisions) {
    const v = d.evidence.job_changed_at;
    if (typeof v === 'number' && Number.isFinite(v)) at = Math.max(at ?? -Infinity, v);
  }
  return at;
}
