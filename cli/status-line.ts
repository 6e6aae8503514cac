// One-line views of a run (the live line of `run` and `watch`, the rows of `status`). Pure: data
// in, text out; every number goes through tuner/format.ts, the one formatting module.
import { fmtChange, fmtNum, fmtPercent, fmtRate, fmtSeconds } from '../tuner/format.js';
import type { Decision, Run } from './api-client.js';

/** bs=64 lr=0.001 w=2 (×2 accum): the knobs the tuner moves, short. */
export function fmtConfig(c: Record<string, unknown> | null | undefined): string {
  if (!c) return 'no config';
  const parts = [`bs=${fmtValue(c.batch_size)}`, `lr=${fmtValue(c.learning_rate)}`, `w=${fmtValue(c.num_workers)}`];
  if (typeof c.grad_accum_steps === 'number' && c.grad_accum_steps > 1) parts.push(`accum=${c.grad_accum_steps}`);
  return parts.join(' ');
}

/** A config value or other loosely typed figure: numbers through fmtNum, unknowns as "—". */
export function fmtValue(x: unknown): string {
  if (typeof x === 'number') return fmtNum(x);
  return x === null || x === undefined ? '—' : String(x);
}

/** "num_workers increase 2 → 4" — what a decision changed or recommends; advice alone by its title. */
export function fmtDecision(d: Decision): string {
  if (d.knob === 'none') return adviceTitle(d);
  const change = fmtChange({ knob: d.knob, action: d.action, before: d.config_before[d.knob], after: d.config_after[d.knob] });
  return d.recommend_only ? `advice: ${change}` : change;
}

/** "advice: Give the job more CPU cores, and 2 more remedies" for a decision that only advises. */
export function adviceTitle(d: Decision): string {
  const first = d.advice[0];
  if (!first) return `advice: ${d.action}`;
  const more = d.advice.length - 1;
  return `advice: ${String(first.title ?? first.code)}${more > 0 ? `, and ${more} more ${more === 1 ? 'remedy' : 'remedies'}` : ''}`;
}

/** The live line: state, steps, samples/s, data wait, bottleneck, config, last decision. */
export function statusLine(run: Run, last: Decision | undefined, elapsedS: number): string {
  const s = run.summary;
  const parts = [
    `${run.name} ${run.state}`,
    fmtSeconds(Math.round(elapsedS)),
    `${s.steps} steps`,
    fmtRate(s.samples_per_second),
    `data wait ${fmtPercent(s.data_wait_ratio)}`,
    run.bottleneck ? run.bottleneck.kind : 'no bottleneck yet',
    fmtConfig(run.config),
  ];
  if (last) parts.push(`last: ${fmtDecision(last)}`);
  return parts.join(' | ');
}

/** Fits a line to the terminal: a wrapped status line could not be redrawn in place. */
export function fitWidth(line: string, columns: number | undefined): string {
  const w = Math.max(20, (columns || 80) - 1); // 0 or undefined: a terminal that did not say
  return line.length <= w ? line : `${line.slice(0, w - 1)}…`;
}
