// One-line views of a run (the live line of `run` and `watch`, the rows of `status`) and the
// number formats the client commands share. Pure: data in, text out.
import type { Decision, Run } from './api-client.js';

export function fmtRate(x: number | null | undefined): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return '-';
  if (x >= 1000) return `${(x / 1000).toFixed(x >= 10_000 ? 0 : 1)}k`;
  return x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2);
}

export function fmtDuration(s: number | null | undefined): string {
  if (s === null || s === undefined || !Number.isFinite(s)) return '-';
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(Math.round(s % 60)).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

export function fmtBytes(b: number | null | undefined): string {
  if (b === null || b === undefined || !Number.isFinite(b)) return '-';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = b;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

export function fmtRatio(r: number | null | undefined): string {
  return r === null || r === undefined || !Number.isFinite(r) ? '-' : `${(r * 100).toFixed(0)}%`;
}

/** bs=64 lr=0.001 w=2 (×2 accum): the knobs the tuner moves, short. */
export function fmtConfig(c: Record<string, unknown> | null | undefined): string {
  if (!c) return 'no config';
  const parts = [`bs=${c.batch_size}`, `lr=${fmtNumber(c.learning_rate)}`, `w=${c.num_workers}`];
  if (typeof c.grad_accum_steps === 'number' && c.grad_accum_steps > 1) parts.push(`accum=${c.grad_accum_steps}`);
  return parts.join(' ');
}

export function fmtNumber(x: unknown): string {
  if (typeof x !== 'number') return x === null || x === undefined ? '-' : String(x);
  if (Number.isInteger(x)) return String(x);
  return Math.abs(x) >= 1e-3 && Math.abs(x) < 1e6 ? String(Number(x.toPrecision(4))) : x.toExponential(3);
}

/** "num_workers increase 2→4" — what a decision changed or recommends; advice alone by its title. */
export function fmtDecision(d: Decision): string {
  if (d.knob === 'none') return adviceTitle(d);
  const before = d.config_before[d.knob];
  const after = d.config_after[d.knob];
  const change = `${d.knob} ${d.action}${before !== after ? ` ${fmtNumber(before)}→${fmtNumber(after)}` : ''}`;
  return d.recommend_only ? `advice: ${change}` : change;
}

/** "advice: Give the job more CPU cores (+2 more)" for a decision that only advises. */
export function adviceTitle(d: Decision): string {
  const first = d.advice[0];
  if (!first) return `advice: ${d.action}`;
  return `advice: ${String(first.title ?? first.code)}${d.advice.length > 1 ? ` (+${d.advice.length - 1} more)` : ''}`;
}

/** The live line: state, steps, samples/s, data wait, bottleneck, config, last decision. */
export function statusLine(run: Run, last: Decision | undefined, elapsedS: number): string {
  const s = run.summary;
  const parts = [
    `${run.name} ${run.state}`,
    fmtDuration(elapsedS),
    `${s.steps} steps`,
    `${fmtRate(s.samples_per_second)} samples/s`,
    `wait ${fmtRatio(s.data_wait_ratio)}`,
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
