// Window ratios for one run, from its recent step reports. Pure: the same
// steps give the same figures, whenever they are scraped.
import { jobWallRate } from '../../tuner/throughput.js';
import type { StepPoint } from '../../domain/steps.js';

/**
 * Seconds of step history behind the ratios, counted back from the newest
 * step. One minute matches the rate window the dashboards use, so the gauge
 * and rate(trainpilot_run_samples_total[1m]) agree on a steady run.
 */
export const RATE_WINDOW_S = 60;

export interface WindowStats {
  /** Share of step time spent waiting for the input pipeline, 0–1; null without steps. */
  dataWaitRatio: number | null;
  /** The job's samples per wall-clock second over the window, across ranks; null when it spans no time. */
  samplesPerSecond: number | null;
}

export function windowStats(steps: readonly StepPoint[], windowS = RATE_WINDOW_S): WindowStats {
  if (steps.length === 0) return { dataWaitRatio: null, samplesPerSecond: null };
  // The store hands steps oldest first, but ranks report out of order: take the max.
  let newest = -Infinity;
  for (const s of steps) if (s.ts > newest) newest = s.ts;
  const from = newest - windowS;
  const inWindow = steps.filter((s) => s.ts >= from);
  let duration = 0;
  let wait = 0;
  for (const s of inWindow) {
    duration += s.durationS;
    wait += s.dataWaitS;
  }
  return {
    dataWaitRatio: duration > 0 ? clamp01(wait / duration) : null,
    // The job's samples/s over wall time across ranks (tuner/throughput.ts): gaps between steps
    // (logging, evaluation) cost throughput too, which summed step durations would hide.
    samplesPerSecond: jobWallRate(inWindow),
  };
}

function clamp01(x: number): number {
  return x < 0 ? 0 : x > 1 ? 1 : x;
}
