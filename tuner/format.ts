// Numbers in text for people: decision reasons, advice, the status line, the summary, the
// report and the page all format through here. The exact figures stay in the evidence; what a
// person reads is rounded to what matters ("53 %", "0.35 cores", "1.2 GB", "613 samples/s").
// Pure and dependency-free, so every layer may use it.

const finite = (x: number | null | undefined): x is number => typeof x === 'number' && Number.isFinite(x);

/** Significant digits that read well: 3 below 10, whole numbers from 100. */
function sig(x: number): string {
  const a = Math.abs(x);
  if (a >= 100) return Math.round(x).toLocaleString('en-US');
  if (a >= 10) return String(Math.round(x * 10) / 10);
  if (a >= 1) return String(Math.round(x * 100) / 100);
  if (a === 0) return '0';
  return String(Number(x.toPrecision(2)));
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
