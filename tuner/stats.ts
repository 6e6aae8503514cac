// Robust statistics for the tuner: a window of steps is noisy (GC pauses, checkpoints,
// other tenants), so every figure the tuner acts on is a median or a trimmed mean.

/** A sorted copy; typed-array sort is numeric and several times faster than a comparator. */
function sorted(xs: readonly number[]): Float64Array {
  return Float64Array.from(xs).sort();
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = sorted(xs);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Median absolute deviation, scaled by 1.4826 so it estimates σ for normal data. */
export function robustSigma(xs: readonly number[]): number {
  if (xs.length < 2) return 0;
  const m = median(xs);
  return 1.4826 * median(xs.map((x) => Math.abs(x - m)));
}

/** Mean after dropping `cut` of the values at each end (0.1 → the 10 % trimmed mean). */
export function trimmedMean(xs: readonly number[], cut = 0.1): number {
  if (xs.length === 0) return NaN;
  const s = sorted(xs);
  const k = Math.floor(s.length * cut);
  let sum = 0;
  for (let i = k; i < s.length - k; i++) sum += s[i];
  return sum / (s.length - 2 * k);
}

export function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return NaN;
  const s = sorted(xs);
  const pos = Math.min(s.length - 1, Math.max(0, q * (s.length - 1)));
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo] + (s[hi] - s[lo]) * (pos - lo);
}

export interface LinearFit { intercept: number; slope: number; points: number }

/** Least-squares y ≈ intercept + slope·x; undefined with fewer than two distinct x. */
export function linearFit(points: ReadonlyArray<readonly [number, number]>): LinearFit | undefined {
  const n = points.length;
  if (n < 2) return undefined;
  const mx = points.reduce((a, p) => a + p[0], 0) / n;
  const my = points.reduce((a, p) => a + p[1], 0) / n;
  let sxx = 0;
  let sxy = 0;
  for (const [x, y] of points) {
    sxx += (x - mx) * (x - mx);
    sxy += (x - mx) * (y - my);
  }
  if (sxx <= 0) return undefined;
  const slope = sxy / sxx;
  return { intercept: my - slope * mx, slope, points: n };
}

export function clamp(x: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, x));
}
