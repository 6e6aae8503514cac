// The job changing under a fixed configuration (issue 21): a new phase, data moved to slower
// storage, a curriculum step. Seen as a lasting shift of step time within one config version's
// steady steps — the config did not move, the job did. The search then marks the points measured
// before it stale and opens again; a trial whose window straddles the shift is not judged on a
// reading the change made.
import type { DecisionRecord } from '../domain/decisions.js';
import type { StepPoint } from '../domain/steps.js';

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
 *
 * The tuner runs this for every active run every tick (bench/load: 64 runs each second), so the
 * two sides are kept sorted as the split moves (a step moves from one to the other: one shift of
 * a typed array) and their medians and MADs are read from the sorted sides without copies: the
 * same figures as median() and robustSigma() of stats.ts on slices, with no sort and no
 * allocation per candidate split (the slice-and-sort version was 7 % of a loaded sidecar's CPU).
 */
export function findShift(steps: readonly StepPoint[], minSide: number): JobShift | null {
  const n = steps.length;
  if (n < 2 * minSide) return null;
  const left = new Float64Array(n);
  const right = new Float64Array(n);
  let nl = minSide;
  for (let i = 0; i < nl; i++) left[i] = steps[i].durationS;
  for (let i = nl; i < n; i++) right[i - nl] = steps[i].durationS;
  let nr = n - nl;
  left.subarray(0, nl).sort();
  right.subarray(0, nr).sort();
  let best: JobShift | null = null;
  let bestScore = 0;
  // Candidate splits every few steps: enough to place the change, cheap on a 200-step window.
  for (let k = minSide; k <= n - minSide; k += 5) {
    for (; nl < k; nl++, nr--) {
      const x = steps[nl].durationS;
      removeSorted(right, nr, x);
      insertSorted(left, nl, x);
    }
    const ma = sortedMedian(left, nl);
    const mb = sortedMedian(right, nr);
    if (!(ma > 0 && mb > 0)) continue;
    const se = Math.hypot((1.4826 * sortedMad(left, nl, ma)) / Math.sqrt(nl), (1.4826 * sortedMad(right, nr, mb)) / Math.sqrt(nr));
    const ratio = mb / ma;
    if (Math.abs(ratio - 1) < SHIFT_RATIO || Math.abs(mb - ma) < SHIFT_Z * se) continue;
    const score = Math.abs(mb - ma) / Math.max(se, 1e-12);
    if (score > bestScore) { bestScore = score; best = { step: steps[k].step, ts: steps[k].ts, ratio }; }
  }
  return best;
}

/** The median of the first n values of a sorted array (stats.ts median()). */
function sortedMedian(s: Float64Array, n: number): number {
  const m = n >> 1;
  return n % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * The median of |x − m| over the first n values of a sorted array, m their median: the
 * deviations below m (walking down from it) and above it (walking up) are each in increasing
 * order, so merging the two walks to the middle finds it (stats.ts robustSigma() before 1.4826).
 */
function sortedMad(s: Float64Array, n: number, m: number): number {
  if (n < 2) return 0;
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (s[mid] <= m) lo = mid + 1;
    else hi = mid;
  }
  let down = lo - 1; // values ≤ m, nearest first
  let up = lo; // values > m, nearest first
  const want = n >> 1; // the index (in the merged order) of the upper middle deviation
  let prev = NaN;
  let cur = NaN;
  for (let i = 0; i <= want; i++) {
    const a = down >= 0 ? Math.abs(s[down] - m) : Infinity;
    const b = up < n ? Math.abs(s[up] - m) : Infinity;
    prev = cur;
    if (a <= b) { cur = a; down--; } else { cur = b; up++; }
  }
  return n % 2 === 1 ? cur : (prev + cur) / 2;
}

/** Inserts x into the sorted first n values (n + 1 after). */
function insertSorted(s: Float64Array, n: number, x: number): void {
  let i = n;
  while (i > 0 && s[i - 1] > x) { s[i] = s[i - 1]; i--; }
  s[i] = x;
}

/** Removes one x from the sorted first n values (n − 1 after). */
function removeSorted(s: Float64Array, n: number, x: number): void {
  let lo = 0;
  let hi = n - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (s[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  s.copyWithin(lo, lo + 1, n);
}

/** When the job last changed, as the decision log recorded it (the decisions' basis), or null. */
export function recordedChange(decisions: readonly DecisionRecord[]): number | null {
  let at: number | null = null;
  for (const d of decisions) {
    const v = d.basis?.jobChangedAt;
    if (typeof v === 'number' && Number.isFinite(v)) at = Math.max(at ?? -Infinity, v);
  }
  return at;
}
