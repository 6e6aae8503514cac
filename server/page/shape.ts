// The live page's figures from the API's JSON: step reports into samples/s, step time p50/p90,
// data wait and loss over windows of steps; the process tree's cumulative CPU seconds into cores.
// Pure, DOM-free, served to the browser from dist/ like chart.ts. Samples/s is the job's over
// step time from tuner/throughput.ts itself (served to the page beside this file), so the page
// agrees with the summary, the report and the tuner.

import { jobStepRate } from '../../tuner/throughput.js';
import type { Point } from './chart.js';

/** One element of GET /v1/runs/:id/steps. */
export interface StepRow {
  step: number;
  ts: number;
  duration_s: number;
  data_wait_s: number;
  samples: number;
  loss: number | null;
  rank: number;
  world_size: number;
}

export interface StepFigures {
  samplesPerSecond: Point[];
  stepP50: Point[];
  stepP90: Point[];
  dataWait: Point[];
  loss: Point[];
  /** Steps in each window the points are taken over. */
  window: number;
}

/** Fewest steps a point is taken over: one step's time says little about p90. */
export const MIN_WINDOW = 20;

/** Linear-interpolated quantile of unsorted values (q in 0–1). */
export function quantile(values: readonly number[], q: number): number {
  const s = [...values].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo] + (s[hi] - s[lo]) * (pos - lo);
}

/**
 * Rank-0 steps (in step order) into at most `maxPoints` points per figure. Each point is the
 * trailing window of max(MIN_WINDOW, steps per point) steps ending at that point's step.
 */
export function stepFigures(rows: readonly StepRow[], maxPoints = 400): StepFigures {
  const r0 = rows.filter((r) => r.rank === 0);
  const per = Math.max(1, Math.ceil(r0.length / maxPoints));
  const window = Math.max(MIN_WINDOW, per);
  const out: StepFigures = { samplesPerSecond: [], stepP50: [], stepP90: [], dataWait: [], loss: [], window };
  const ends: number[] = [];
  for (let e = per - 1; e < r0.length; e += per) ends.push(e);
  if (r0.length > 0 && ends.at(-1) !== r0.length - 1) ends.push(r0.length - 1);
  for (const end of ends) {
    const w = r0.slice(Math.max(0, end - window + 1), end + 1);
    const t = r0[end].ts;
    const rate = jobStepRate(w.map((s) => ({ durationS: s.duration_s, samples: s.samples, worldSize: s.world_size })));
    const seconds = rate.seconds;
    let wait = 0;
    const losses: number[] = [];
    for (const s of w) {
      wait += s.data_wait_s;
      if (s.loss !== null && Number.isFinite(s.loss)) losses.push(s.loss);
    }
    out.samplesPerSecond.push([t, rate.samplesPerSecond]);
    const durations = w.map((s) => s.duration_s);
    out.stepP50.push([t, quantile(durations, 0.5)]);
    out.stepP90.push([t, quantile(durations, 0.9)]);
    out.dataWait.push([t, seconds > 0 ? wait / seconds : null]);
    out.loss.push([t, losses.length ? losses.reduce((a, b) => a + b, 0) / losses.length : null]);
  }
  return out;
}

/** Cumulative CPU seconds of the process tree into cores used between samples. */
export function cpuCores(points: readonly Point[]): Point[] {
  const out: Point[] = [];
  for (let i = 1; i < points.length; i++) {
    const [t0, c0] = points[i - 1];
    const [t1, c1] = points[i];
    if (c0 === null || c1 === null || !(t1 > t0)) continue;
    // A falling total is a tree that lost processes (a worker ended): no rate for that gap.
    if (c1 < c0) continue;
    out.push([t1, (c1 - c0) / (t1 - t0)]);
  }
  return out;
}

/** Appends the points newer than the series' last one (a series kept in time order). */
export function appendAfter(series: Point[], fresh: readonly Point[]): Point[] {
  const last = series.length ? series[series.length - 1][0] : -Infinity;
  for (const p of fresh) if (p[0] > last) series.push(p);
  return series;
}
