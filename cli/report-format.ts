// Phrases the report renderers (markdown, html, the end-of-run summary) share, as plain text;
// each renderer escapes for its own format.
import type { Decision } from './api-client.js';
import type { RunReport, Throughput } from './report-data.js';
import { adviceTitle, fmtBytes, fmtConfig, fmtDuration, fmtNumber, fmtRate, fmtRatio } from './status-line.js';

/** Evidence as k=v pairs, unknowns (null) left out; `brief` keeps the first few, `why` first. */
const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** HTML: escapes text for element content and quoted attribute values alike. */
export const esc = (s: unknown): string => String(s).replace(/[&<>"']/g, (c) => ENTITIES[c]);

const BRIEF_EVIDENCE = 4;

export function fmtEvidence(e: Record<string, unknown> | null | undefined, brief = false): string {
  if (!e) return '-';
  let entries = Object.entries(e).filter(([, v]) => v !== null && v !== undefined);
  if (brief) {
    const why = entries.find(([k]) => k === 'why');
    if (why) return String(why[1]);
    entries = entries.slice(0, BRIEF_EVIDENCE);
  }
  const parts = entries.map(([k, v]) => `${k}=${typeof v === 'number' ? fmtNumber(v) : typeof v === 'object' ? JSON.stringify(v) : String(v)}`);
  return parts.length ? parts.join(', ') : '-';
}

export function fmtOutcome(o: Record<string, unknown> | null | undefined): string {
  if (!o || typeof o.status !== 'string') return '-';
  const gain = typeof o.gainRatio === 'number' ? ` (×${o.gainRatio.toFixed(2)} samples/s)` : '';
  const note = typeof o.note === 'string' && o.note ? `: ${o.note}` : '';
  return `${o.status.replace(/_/g, ' ')}${gain}${note}`;
}

export function fmtThroughput(t: Throughput | null): string {
  if (!t) return '-';
  return `${fmtRate(t.samples_per_second)} samples/s (${t.steps} steps, data wait ${fmtRatio(t.data_wait_ratio)})`;
}

/** "+1m05s": when something happened, relative to the run's start. */
export function fmtOffset(ts: number, start: number): string {
  return `+${fmtDuration(Math.max(0, ts - start))}`;
}

export function fmtExit(r: RunReport): string {
  const e = r.exit;
  if (!e) return r.run.state;
  if (e.signal) return `${e.kind} (killed by ${e.signal})`;
  if (e.exit_code !== null) return `${e.kind} (exit ${e.exit_code})`;
  return e.kind;
}

/** Headline facts as label/value pairs, in the order every format shows them. */
export function headline(r: RunReport): Array<[string, string]> {
  const t = r.throughput;
  const rows: Array<[string, string]> = [
    ['run', `${r.run.name} (${r.run.id})`],
    ['state', fmtExit(r)],
    ['duration', fmtDuration(r.duration_s)],
    ['steps', `${r.run.summary.steps} (${fmtNumber(r.run.summary.samples)} samples)`],
    ['tuning', r.run.tune.mode],
    ['config now', fmtConfig(r.run.config)],
    ['samples/s at start', fmtThroughput(t.start)],
    ['samples/s at end', `${fmtThroughput(t.end)}${t.end_over_start !== null ? `, ×${t.end_over_start.toFixed(2)} the start` : ''}`],
    ['bottleneck', r.run.bottleneck ? `${r.run.bottleneck.kind} (${fmtEvidence(r.run.bottleneck.evidence)})` : 'none found'],
    ['decisions', String(r.decisions.length)],
  ];
  if (r.run.summary.last_loss !== null) rows.push(['last loss', fmtNumber(r.run.summary.last_loss)]);
  if (r.peak_rss_bytes !== null) rows.push(['peak RSS (process tree)', fmtBytes(r.peak_rss_bytes)]);
  return rows;
}

/** One decision as a title plus its details. */
export function decisionParts(d: Decision, start: number): { title: string; rows: Array<[string, string]> } {
  const before = d.config_before[d.knob];
  const after = d.config_after[d.knob];
  const what = d.knob === 'none' ? adviceTitle(d) : `${d.knob} ${d.action} ${fmtNumber(before)} → ${fmtNumber(after)}${d.recommend_only ? ' (recommended only)' : ''}`;
  return {
    title: `#${d.id} ${fmtOffset(d.ts, start)}${d.step !== null ? ` step ${d.step}` : ''}: ${what}`,
    // Advice alone changes no config and has no outcome: its reason and evidence are all there is.
    rows: d.knob === 'none'
      ? [['reason', d.reason], ['evidence', fmtEvidence(d.evidence)]]
      : [
          ['reason', d.reason],
          ['evidence', fmtEvidence(d.evidence)],
          ['before', fmtConfig(d.config_before)],
          ['after', fmtConfig(d.config_after)],
          ['outcome', fmtOutcome(d.outcome)],
        ],
  };
}
