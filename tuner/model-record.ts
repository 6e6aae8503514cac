// Has the performance model earned a jump? (issue 21: "a jump that skips untried sizes is taken
// only when the model has earned it, its past predictions on this run within their noise"). Each
// change the model predicted and the judge measured is one entry: the measured gain against the
// predicted one, as a ratio error, beside the noise band the judge used for that change (both
// windows' noise, judge.ts). While none of the newest fell short of its prediction beyond that band
// the model may move a knob past sizes not yet measured; otherwise the search takes one step of the knob's rule (batch
// ×2, workers ×2 or 0 → 1) and lets measurement, not the model, go further.
import { changes } from './history.js';
import { noiseBand, type TunerThresholds } from './guardrails.js';
import type { Window } from './window.js';

/** The newest judged predictions that must all be within noise for the model to jump. */
export const RECORD_SPAN = 3;

export interface RecordEntry {
  decisionId: number;
  knob: 'batch_size' | 'num_workers';
  predicted: number;
  measured: number;
  /** (1 + measured) / (1 + predicted) − 1. */
  error: number;
  band: number;
  within: boolean;
}

export interface ModelRecord {
  entries: RecordEntry[];
  /** The model may jump past untried sizes: at least one judged prediction, none of the newest RECORD_SPAN short of it beyond noise. */
  earned: boolean;
  words: string;
}

/** The model's predictions on this run (since the job last changed) against what was measured. */
export function modelRecord(w: Window, since: number | null, s: Pick<TunerThresholds, 'noiseZ' | 'noiseFloor'>): ModelRecord {
  const entries: RecordEntry[] = [];
  for (const d of changes(w)) {
    if (d.action === 'rollback' || d.basis?.search !== 'predicted' || (since !== null && d.ts <= since)) continue;
    if (d.knob !== 'batch_size' && d.knob !== 'num_workers') continue;
    const o = d.outcome;
    if (o.status !== 'kept' && o.status !== 'rolled_back') continue;
    if (o.status === 'rolled_back' && o.cause === 'loss') continue;
    const predicted = d.basis?.predictedGain ?? null;
    if (predicted === null || predicted <= -1) continue;
    const band = noiseBand(s, d.before?.relNoise ?? 0, o.after?.relNoise ?? 0);
    const error = (1 + o.gainRatio) / (1 + predicted) - 1;
    // Over-promised: measured short of the prediction beyond noise. A model that under-promised (the
    // move paid more than it said) jumps no further than it said it would pay; one that over-promised
    // may jump past an optimum it cannot see (its lines cannot bend), so it steps until measured right.
    entries.push({ decisionId: d.id, knob: d.knob, predicted, measured: o.gainRatio, error, band, within: error >= -band });
  }
  const recent = entries.slice(-RECORD_SPAN);
  const earned = recent.length > 0 && recent.every((e) => e.within);
  const pct = (x: number) => `${x >= 0 ? '+' : '−'}${Math.abs(Math.round(x * 100))} %`;
  const words = recent.length === 0
    ? 'no prediction of the model judged yet on this run'
    : recent.map((e) => `decision ${e.decisionId}: predicted ${pct(e.predicted)}, measured ${pct(e.measured)} (${e.within ? 'not short of it beyond' : 'short of it beyond'} its ${Math.round(e.band * 100)} % noise band)`).join('; ');
  return { entries, earned, words };
}

/** One step of a knob's rule from `from`, upward: batch ×2, workers 0 → 1 then ×2. */
export function oneStepUp(knob: 'batch_size' | 'num_workers', from: number): number {
  return knob === 'num_workers' && from === 0 ? 1 : 2 * from;
}

/** A move past untried sizes: beyond one step of the knob's rule, up or down. */
export function isJump(knob: 'batch_size' | 'num_workers', from: number, to: number): boolean {
  return to > from ? to > oneStepUp(knob, from) : to < Math.floor(from / 2);
}
