// Phrases the report renderers (markdown, html, the end-of-run summary) share, as plain text;
// each renderer escapes for its own format. Numbers go through tuner/format.ts; evidence is a
// list of labelled, formatted items (the exact figures stay in the API's evidence).
import { evidenceItems, fmtChange, fmtBytes, fmtCount, fmtGain, fmtNum, fmtOffset as offset, fmtPercent, fmtRate, fmtSeconds, fmtTimes, tidyNumbers, type EvidenceItem } from '../tuner/format.js';
import type { Decision, Run } from './api-client.js';
import type { RunReport, Throughput } from './report-data.js';
import { adviceTitle, fmtConfig, fmtValue } from './status-line.js';

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** HTML: escapes text for element content and quoted attribute values alike. */
export const esc = (s: unknown): string => String(s).replace(/[&<>"']/g, (c) => ENTITIES[c]);

export type { EvidenceItem };

/** Bookkeeping that says nothing to a person reading a decision (it is in the API's evidence). */
const QUIET = ['tuner', 'config_version', 'applied_version'];

/** Evidence as labelled items; `why` and the bottleneck's kind are shown apart, so left out here. */
export function evidenceList(e: Record<string, unknown> | null | undefined): EvidenceItem[] {
  return evidenceItems(e, { omit: ['why', 'bottleneck', ...QUIET] });
}

/** Evidence in one line ("data wait: 53 %; host CPU busy: 95 %"), for a table cell or an event. */
export function fmtEvidence(e: Record<string, unknown> | null | undefined): string {
  const items = evidenceItems(e);
  return items.length ? items.map((i) => `${i.label}: ${i.text}`).join('; ') : '—';
}

/** The bottleneck in words: its kind and why ("cpu_saturated: steps wait 53 % for data and …"). */
export function fmtBottleneck(b: { kind: string; evidence: Record<string, unknown> } | null): string {
  if (!b) return 'none found';
  const why = typeof b.evidence.why === 'string' ? tidyNumbers(b.evidence.why) : '';
  return why ? `${b.kind}: ${why}` : b.kind;
}

const num = (x: unknown): number | null => (typeof x === 'number' && Number.isFinite(x) ? x : null);

/**
 * "kept: +81 % samples/s, 339 → 613": the stored gain is relative (0.81), the samples/s before are
 * the decision's evidence and after the outcome's measurement.
 */
export function fmtOutcome(d: Pick<Decision, 'outcome' | 'evidence'>): string {
  const o = d.outcome as Record<string, unknown> | null | undefined;
  if (!o || typeof o.status !== 'string') return '—';
  const after = (o.after ?? null) as Record<string, unknown> | null;
  const gain = num(o.gainRatio ?? o.gain_ratio);
  const before = num(d.evidence?.before_samples_per_second);
  const now = num(after?.samples_per_second);
  const parts: string[] = [];
  // A back-off after an OOM records −1 with nothing measured: the note says what happened.
  if (gain !== null && !(gain <= -1 && now === null)) parts.push(`${fmtGain(gain)} samples/s`);
  if (before !== null && now !== null) parts.push(`${fmtNum(before)} → ${fmtNum(now)}`);
  // The judge's note repeats the gain first; what follows it (the noise band, why) is worth keeping.
  const note = typeof o.note === 'string' ? tidyNumbers(o.note.replace(/^(gain [^,;]*|[+−-][\d.]+ % samples\/s)[,;]?\s*/, '')) : '';
  return `${o.status.replace(/_/g, ' ')}${parts.length ? `: ${parts.join(', ')}` : ''}${note ? ` (${note})` : ''}`;
}

export function fmtThroughput(t: Throughput | null): string {
  if (!t) return '—';
  return `${fmtRate(t.samples_per_second)} (${fmtCount(t.steps, 'step')}, data wait ${fmtPercent(t.data_wait_ratio)})`;
}

/** "+1 min 5 s": when something happened, relative to the run's start. */
export function fmtOffset(ts: number, start: number): string {
  return offset(ts - start);
}

export function fmtExit(r: RunReport): string {
  const e = r.exit;
  if (!e) return r.run.state;
  if (e.signal) return `${e.kind} (killed by ${e.signal})`;
  if (e.exit_code !== null) return `${e.kind} (exit ${e.exit_code})`;
  return e.kind;
}

/**
 * The run's GPU energy (DESIGN §11): "379 J on GPUs 0, 3 — 1.48 J per sample"; null for a run with
 * no GPU attributed (a CPU-only job has no energy figure, not a zero one).
 */
export function fmtEnergy(s: Run['summary']): string | null {
  if (s.energy_joules === null || s.energy_joules === undefined) return null;
  const gpus = s.energy_gpus?.length ? ` on GPU${s.energy_gpus.length > 1 ? 's' : ''} ${s.energy_gpus.join(', ')}` : '';
  const per = s.joules_per_sample === null || s.joules_per_sample === undefined ? 'no step covered yet' : `${fmtNum(s.joules_per_sample)} J per sample`;
  return `${fmtNum(s.energy_joules)} J${gpus} — ${per}`;
}

/** Headline facts as label/value pairs, in the order every format shows them. */
export function headline(r: RunReport): Array<[string, string]> {
  const t = r.throughput;
  const rows: Array<[string, string]> = [
    ['run', `${r.run.name} (${r.run.id})`],
    ['state', fmtExit(r)],
    ['duration', fmtSeconds(r.duration_s)],
    ['steps', `${fmtNum(r.run.summary.steps)} (${fmtNum(r.run.summary.samples)} samples)`],
    ['tuning', r.run.tune.mode],
    ['config now', fmtConfig(r.run.config)],
    ['samples/s at start', fmtThroughput(t.start)],
    ['samples/s at end', `${fmtThroughput(t.end)}${t.end_over_start !== null ? `, ${fmtTimes(t.end_over_start)} the start` : ''}`],
    ['bottleneck', fmtBottleneck(r.run.bottleneck)],
    ['decisions', String(r.decisions.length)],
  ];
  if (r.run.summary.last_loss !== null) rows.push(['last loss', fmtNum(r.run.summary.last_loss)]);
  const energy = fmtEnergy(r.run.summary);
  if (energy) rows.push(['GPU energy', energy]);
  if (r.peak_rss_bytes !== null) rows.push(['peak RSS (process tree)', fmtBytes(r.peak_rss_bytes)]);
  return rows;
}

/** What a decision changed: "num_workers increase 0 → 2", or advice by its title. */
export function decisionWhat(d: Decision): string {
  if (d.knob === 'none') return adviceTitle(d);
  return `${fmtChange({ knob: d.knob, action: d.action, before: d.config_before[d.knob], after: d.config_after[d.knob] })}${d.recommend_only ? ' (recommended only)' : ''}`;
}

/** One decision as a title, its details and its evidence as a list. */
export function decisionParts(d: Decision, start: number): { title: string; rows: Array<[string, string]>; evidence: EvidenceItem[] } {
  const reason = tidyNumbers(d.reason);
  return {
    title: `#${d.id} ${fmtOffset(d.ts, start)}${d.step !== null ? ` step ${d.step}` : ''}: ${decisionWhat(d)}`,
    // Advice alone changes no config and has no outcome: its reason and evidence are all there is.
    rows: d.knob === 'none'
      ? [['reason', reason]]
      : [
          ['reason', reason],
          ['before', fmtConfig(d.config_before)],
          ['after', fmtConfig(d.config_after)],
          ['outcome', fmtOutcome(d)],
        ],
    evidence: evidenceList(d.evidence),
  };
}
