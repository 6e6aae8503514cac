// Numbers in text for people: decision reasons, advice, the status line, the summary, the
// report and the page all format through here. The exact figures stay in the evidence; what a
// person reads is rounded to what matters ("53 %", "0.35 cores", "1.2 GB", "613 samples/s").
// Pure and dependency-free, so every layer may use it.

const finite = (x: number | null | undefined): x is number => typeof x === 'number' && Number.isFinite(x);

/**
 * A whole number with commas between thousands: 1234567 → "1,234,567". By hand rather than
 * toLocaleString('en-US'): that loads ICU's locale data into the sidecar (~6 MB of resident
 * memory, docs/footprint.md) for one comma.
 */
function grouped(n: number): string {
  const digits = String(Math.abs(n));
  if (!/^\d+$/.test(digits)) return String(n); // 1e21 and above print with an exponent
  let out = digits.slice(0, ((digits.length - 1) % 3) + 1);
  for (let i = out.length; i < digits.length; i += 3) out += `,${digits.slice(i, i + 3)}`;
  return n < 0 ? `-${out}` : out;
}

/** Significant digits that read well: 3 below 10, whole numbers from 100. */
function sig(x: number): string {
  const a = Math.abs(x);
  if (a >= 100) return grouped(Math.round(x));
  if (a >= 10) return String(Math.round(x * 10) / 10);
  if (a >= 1) return String(Math.round(x * 100) / 100);
  if (a === 0) return '0';
  // Small numbers (a learning rate, say) that would need four or more decimals read better with
  // an exponent than with a row of zeros: 0.001 stays, 0.00141 → "1.4e-3", 0.0003 → "3e-4".
  const r = String(Number(x.toPrecision(2)));
  return a < 1e-3 || /\.\d{4,}/.test(r) ? x.toExponential(1).replace(/\.0e/, 'e') : r;
}

/** A number in plain text: "0.35", "12.5", "1,234". */
export function fmtNum(x: number | null | undefined): string {
  return finite(x) ? sig(x) : '—';
}

/** A share (0–1) as a percentage: 0.5312 → "53 %", 0.0042 → "0.4 %". */
export function fmtPercent(ratio: number | null | undefined): string {
  if (!finite(ratio)) return '—';
  const p = ratio * 100;
  const a = Math.abs(p);
  const digits = a >= 10 || a === 0 ? 0 : 1;
  return `${p.toFixed(digits).replace(/\.0$/, '')} %`;
}

/** A relative change with its sign: 0.81 → "+81 %", -0.123 → "−12 %". */
export function fmtGain(gain: number | null | undefined): string {
  if (!finite(gain)) return '—';
  const s = fmtPercent(Math.abs(gain));
  return gain < 0 ? `−${s}` : `+${s}`;
}

/** A ratio of two throughputs: 1.8123 → "×1.81". */
export function fmtTimes(ratio: number | null | undefined): string {
  return finite(ratio) ? `×${ratio.toFixed(2)}` : '—';
}

/** CPU cores: 0.303 → "0.3 cores", 1 → "1 core", 7.96 → "8 cores". */
export function fmtCores(cores: number | null | undefined): string {
  if (!finite(cores)) return '—';
  const r = cores >= 10 ? Math.round(cores) : Math.round(cores * 10) / 10;
  return `${r} ${r === 1 ? 'core' : 'cores'}`;
}

/** Bytes in decimal units: 1_234_567_890 → "1.23 GB", 40e9 → "40 GB". */
export function fmtBytes(bytes: number | null | undefined): string {
  if (!finite(bytes)) return '—';
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let v = Math.abs(bytes);
  let i = 0;
  while (v >= 1000 && i < units.length - 1) { v /= 1000; i++; }
  const n = i === 0 ? String(Math.round(v)) : v >= 100 ? String(Math.round(v)) : v >= 10 ? v.toFixed(1).replace(/\.0$/, '') : v.toFixed(2).replace(/0$/, '').replace(/\.$/, '');
  return `${bytes < 0 ? '−' : ''}${n} ${units[i]}`;
}

/** Seconds for people: 0.0123 → "12.3 ms", 1.5 → "1.5 s", 95 → "1 min 35 s", 7300 → "2 h 1 min". */
export function fmtSeconds(s: number | null | undefined): string {
  if (!finite(s)) return '—';
  const a = Math.abs(s);
  if (a === 0) return '0 s';
  if (a < 1e-3) return `${sig(s * 1e6)} µs`;
  if (a < 1) return `${sig(s * 1e3)} ms`;
  if (a < 60) return `${sig(s)} s`;
  const total = Math.round(a);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const sec = total % 60;
  return h > 0 ? `${h} h ${m} min` : `${m} min ${sec} s`;
}

/** Samples per second: 612.7 → "613 samples/s". */
export function fmtRate(samplesPerS: number | null | undefined): string {
  return finite(samplesPerS) ? `${sig(samplesPerS)} samples/s` : '—';
}

/** A count with its noun, pluralised: (1, 'worker') → "1 worker", (3, 'worker') → "3 workers". */
export function fmtCount(n: number, noun: string): string {
  return `${fmtNum(n)} ${n === 1 ? noun : `${noun}s`}`;
}

/** A duration since a start, for a timeline: 65 → "+1 min 5 s". */
export function fmtOffset(seconds: number): string {
  return `+${fmtSeconds(Math.max(0, Math.round(seconds * 10) / 10))}`;
}

/**
 * Free text from older versions or other writers (reasons, notes) may carry raw floats such as
 * "host 0.949748743718593": each number with four or more decimals is rewritten by fmtNum.
 */
export function tidyNumbers(text: string): string {
  return text.replace(/-?\d+\.\d{4,}(?:e[-+]?\d+)?/gi, (m) => fmtNum(Number(m)));
}

// ---- evidence for people ------------------------------------------------------------------
// The API keeps the exact evidence; these turn it into labelled, formatted items. Units come
// from the key's suffix (STYLE: base units, `_ratio`, `_bytes`, `_seconds`), so keys added by a
// policy read right without being listed here.

/**
 * A decision's change on one line, the one wording every view uses (the log, the CLI's status
 * line and report, replay, a rollback's reason): "num_workers increase 0 → 2"; the values alone
 * ("0 → 2") with `values: true`. An unchanged value is said once.
 */
export function fmtChange(c: { knob: string; action: string; before: unknown; after: unknown }, opts: { values?: boolean } = {}): string {
  const v = (x: unknown) => (typeof x === 'number' ? fmtNum(x) : x === null || x === undefined ? '—' : String(x));
  const values = c.before === c.after ? v(c.after) : `${v(c.before)} → ${v(c.after)}`;
  return opts.values ? values : `${c.knob} ${c.action} ${values}`;
}

/** The knobs' names for people: the reasons, the CLI and the live page (server/page/static/words.js) all say these. */
export const KNOB_NAMES: Readonly<Record<string, string>> = {
  batch_size: 'batch size', learning_rate: 'learning rate', num_workers: 'data-loader workers',
  prefetch_factor: 'prefetch factor', persistent_workers: 'persistent workers', pin_memory: 'pinned memory',
  grad_accum_steps: 'gradient accumulation steps', none: 'no knob',
};

/** A knob's (or config field's) name for people; an unknown key with its underscores as spaces. */
export function knobName(knob: string): string {
  return KNOB_NAMES[knob] ?? knob.replace(/_/g, ' ');
}

const LABELS: Record<string, string> = {
  why: 'why', bottleneck: 'bottleneck', tuner: 'tuner',
  steady_steps: 'steady steps measured', steps: 'steps measured',
  samples_per_second: 'samples/s', step_seconds: 'step time', compute_seconds: 'compute per step',
  data_wait_ratio: 'data wait', rel_noise: 'noise between steps',
  gpu_utilization_ratio: 'GPU busy', gpu_memory_ratio: 'GPU memory peak (of capacity)',
  gpu_throttle_reasons: 'GPU clocks held down by', host_cpu_utilization_ratio: 'host CPU busy',
  host_cpu_iowait_ratio: 'host CPU in iowait', host_memory_available_ratio: 'host memory available',
  host_swap_used_bytes: 'swap in use', process_cpu_cores: 'CPU used by the job',
  worker_busy_ratio: 'data-loader workers busy', cpu_budget_cores: 'CPU budget',
  predicted_gain: 'predicted gain', predicted_throughput_ratio: 'predicted samples/s ratio',
  safety: 'safety move', mem_peak_bytes: 'memory peak', loss_sigma: 'loss noise',
  config_version: 'config version', applied_version: 'config version applied by the job',
  ...KNOB_NAMES, gain_ratio: 'gain', noise_band: 'noise band',
  worker_rss_bytes: 'memory per worker',
  load_seconds_per_batch: 'loading time per batch', device_memory_bytes: 'device memory',
  memory_per_sample_bytes: 'memory per sample', memory_fixed_bytes: 'memory fixed part',
  largest_fitting_batch: 'largest batch that fits', oom_batch_size: 'batch size that ran out of memory',
  gpu_memory_used_bytes: 'GPU memory used', gpu_sm_active_ratio: 'SMs active (GPM)',
  gpu_tensor_active_ratio: 'tensor cores active (GPM)', gpu_fp32_active_ratio: 'FP32 math active (GPM)',
  cuda_reserved_bytes: 'CUDA memory reserved', cuda_allocated_bytes: 'CUDA memory allocated',
  cuda_alloc_retries: 'cudaMalloc retries', lr_rule: 'learning-rate rule', b_noise: 'gradient noise scale',
  statistical_efficiency_ratio: 'statistical efficiency per sample', noise_scale: 'gradient noise',
};

/** Shown first, in this order; everything else follows in the evidence's own order. */
const FIRST = ['why', 'bottleneck', 'data_wait_ratio', 'samples_per_second', 'host_cpu_utilization_ratio', 'process_cpu_cores', 'cpu_budget_cores', 'gpu_utilization_ratio', 'gpu_memory_ratio'];

const PREFIXES: Array<[string, string]> = [['before_', 'before'], ['rejected_', 'rejected']];

function splitPrefix(key: string): { prefix: string | null; base: string } {
  for (const [p, label] of PREFIXES) if (key.startsWith(p)) return { prefix: label, base: key.slice(p.length) };
  return { prefix: null, base: key };
}

/** "data_wait_ratio" → "data wait"; "before_samples_per_second" → "samples/s before". */
export function evidenceLabel(key: string): string {
  const { prefix, base } = splitPrefix(key);
  const label = LABELS[base] ?? base.replace(/_(ratio|bytes|seconds|cores|s)$/, '').replace(/_/g, ' ');
  return prefix ? `${label} ${prefix}` : label;
}

/** One evidence value for people, by what its key says it is. */
export function evidenceValue(key: string, v: unknown): string {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  if (typeof v === 'string') return tidyNumbers(v);
  if (typeof v !== 'number') return tidyNumbers(JSON.stringify(v));
  const { base } = splitPrefix(key);
  if (base === 'samples_per_second') return fmtRate(v);
  if (base === 'predicted_gain' || base === 'gain_ratio') return fmtGain(v);
  if (base === 'predicted_throughput_ratio') return fmtTimes(v);
  if (base.endsWith('_ratio') || base === 'rel_noise' || base === 'noise_band') return fmtPercent(v);
  if (base.endsWith('_bytes')) return fmtBytes(v);
  if (base.endsWith('_seconds') || base.endsWith('_s') || base.endsWith('_seconds_per_batch')) return fmtSeconds(v);
  if (base.endsWith('_cores')) return fmtCores(v);
  return fmtNum(v);
}

export interface EvidenceItem { key: string; label: string; text: string }

/** Evidence as labelled items, unknowns (null) left out, the telling ones first. */
export function evidenceItems(e: Record<string, unknown> | null | undefined, opts: { omit?: readonly string[] } = {}): EvidenceItem[] {
  if (!e) return [];
  const keys = Object.keys(e).filter((k) => e[k] !== null && e[k] !== undefined && !(opts.omit ?? []).includes(k));
  const rank = (k: string) => (FIRST.includes(k) ? FIRST.indexOf(k) : FIRST.length);
  keys.sort((a, b) => rank(a) - rank(b));
  return keys.map((key) => ({ key, label: evidenceLabel(key), text: evidenceValue(key, e[key]) }));
}
