// Run data in words for people. Numbers go through the one formatting module (tuner/format.ts,
// served from dist/); and so are the knobs' names; the words for bottlenecks and outcomes are the page's.
import * as fmt from '/page/lib/tuner/format.js';

export { fmt };

const BOTTLENECKS = {
  input_bound: 'input-bound: the job waits for data',
  gpu_underutilized: 'GPU under-used',
  gpu_memory_pressure: 'GPU memory nearly full',
  host_memory_pressure: 'host memory nearly full',
  cpu_saturated: 'CPU saturated',
  io_bound: 'waiting on disk I/O',
  gpu_throttled: 'GPU throttled (power or temperature)',
  compute_bound: 'compute-bound (healthy: the device is busy)',
  tensor_cores_idle: 'tensor cores idle (busy GPU doing FP32 math: a mixed-precision candidate)',
  warming_up: 'warming up (too few steady steps to say)',
};

export function bottleneckWords(kind) {
  if (!kind) return 'not classified yet';
  return BOTTLENECKS[kind] ?? kind.replace(/_/g, ' ');
}

export const knobWords = (k) => fmt.knobName(String(k));

/** Evidence as labelled items: the formatting module's when it has them, else key and number. */
export function evidence(e) {
  if (typeof fmt.evidenceItems === 'function') return fmt.evidenceItems(e);
  return Object.entries(e ?? {}).filter(([, v]) => v !== null && v !== undefined)
    .map(([key, v]) => ({ key, label: key.replace(/_/g, ' '), text: typeof v === 'number' ? fmt.fmtNum(v) : String(v) }));
}

/** Free text that may carry raw floats (older reasons). */
export const tidy = (s) => (typeof fmt.tidyNumbers === 'function' ? fmt.tidyNumbers(String(s ?? '')) : String(s ?? ''));

export function knobValue(knob, v) {
  if (v === null || v === undefined) return '—';
  return typeof v === 'number' ? fmt.fmtNum(v) : String(v);
}

/** "num_workers 0 → 2" from a decision's configs. */
export function change(d) {
  if (d.knob === 'none') return d.action === 'advise' ? 'advice' : d.action;
  const fields = Object.keys(d.config_after ?? {}).filter((k) => d.config_before?.[k] !== d.config_after?.[k]);
  const shown = fields.length ? fields : [d.knob];
  return shown.map((k) => `${knobWords(k)} ${knobValue(k, d.config_before?.[k])} → ${knobValue(k, d.config_after?.[k])}`).join(', ');
}

/**
 * "kept: +81 % samples/s, 339 → 613", by the rules of cli/report-format.ts fmtOutcome: the gain
 * is relative, samples/s before from the decision's evidence and after from the outcome.
 */
export function outcomeWords(d, ended = false) {
  const o = d.outcome;
  if (!o || o.status === 'pending') return ended ? 'not judged: the run ended first' : 'being judged';
  const num = (x) => (typeof x === 'number' && Number.isFinite(x) ? x : null);
  const gain = num(o.gainRatio ?? o.gain_ratio);
  const before = num(d.evidence?.before_samples_per_second);
  const now = num(o.after?.samples_per_second);
  const parts = [];
  // A back-off after an OOM records −1 with nothing measured: the note says what happened.
  if (gain !== null && !(gain <= -1 && now === null)) parts.push(`${fmt.fmtGain(gain)} samples/s`);
  if (before !== null && now !== null) parts.push(`${fmt.fmtNum(before)} → ${fmt.fmtNum(now)}`);
  const note = typeof o.note === 'string' ? tidy(o.note.replace(/^gain [^,;]*[,;]?\s*/, '')) : '';
  return `${String(o.status).replace(/_/g, ' ')}${parts.length ? `: ${parts.join(', ')}` : ''}${note ? ` (${note})` : ''}`;
}

export function configWords(c) {
  if (!c) return 'no config yet';
  const parts = [];
  if (c.batch_size !== undefined) parts.push(`batch ${fmt.fmtNum(c.batch_size)}`);
  if (c.learning_rate !== undefined) parts.push(`lr ${fmt.fmtNum(c.learning_rate)}`);
  if (c.num_workers !== undefined) parts.push(fmt.fmtCount(c.num_workers, 'worker'));
  if (c.grad_accum_steps !== undefined && c.grad_accum_steps !== 1) parts.push(`accumulating ${fmt.fmtNum(c.grad_accum_steps)} steps`);
  return parts.join(' · ');
}

export const clock = (t) => (typeof t === 'number' ? new Date(t * 1000).toLocaleTimeString() : '—');
export const started = (t) => (typeof t === 'number' ? new Date(t * 1000).toLocaleString() : '—');
