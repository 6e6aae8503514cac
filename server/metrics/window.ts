// Window ratios for one run, from its recent step reports. Pure: the same
// steps give the same figures, whenever they are scraped.
import type { StepPoint } from '../../tuner/window.js';

/**
 * Seconds of step history behind the ratios, counted back from the newest
 * step. One minute matches the rate window the dashboards use, so the gauge
 * and rate(trainpilot_run_samples_total[1m]) agree on a steady run.
 */
export const RATE_WINDOW_S = 60;

export interface WindowStats {
  /** Share of step time spent waiting for the input pipeline, 0–1; null without steps. */
  dataWaitRatio: number | null;
  /** Samples per wall-clock second over the window, every rank counted; null when the window spans no time. */
  samplesPerSecond: number | null;
}

export function windowStats(steps: readonly StepPoint[], windowS = RATE_WINDOW_S): WindowStats {
  if (steps.length === 0) return { dataWaitRatio: null, samplesPerSecond: null };
  // The store hands steps oldest first, but ranks report out of order: take the max.
  let newest = -Infinity;
  for (const s of steps) if (s.ts > newest) newest = s.ts;
  const from = newest - windowS;
  let duration = 0;
  let wait = 0;
  let samples = 0;
  let start = Infinity;
  for (const s of steps) {
    if (s.ts < from) continue;
    duration += s.durationS;
    wait += s.dataWaitS;
    samples += s.samples;
    // A step's report arrives when it ends; its work began durationS earlier.
    const began = s.ts - s.durationS;
    if (began < start) start = began;
  }
  const span = newest - start;
  return {
    dataWaitRatio: duration > 0 ? clamp01(wait / duration) : null,
    // Wall clock, not summed step durations: gaps between steps (logging,
    // evaluation) cost throughput too, and data-parallel ranks overlap in time.
    samplesPerSecond: span > 0 ? samples / span : null,
  };
}

function clamp01(x: number): number {
  return x < 0 ? 0 : x > 1 ? 1 : x;
}
