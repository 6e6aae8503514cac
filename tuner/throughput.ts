// Samples per second: the one definition, in its named variants. Pure: every place that shows a
// rate (the API's run summary, /metrics, the report, the tuner's evidence) calls one of these and
// says which; what steps go in (a time window, one config version, warm-up dropped) is the
// caller's choice.
import type { StepPoint } from '../domain/steps.js';

/** What a rate reads of a step report: when it ended, how long it ran, its samples, whose it was. */
export type RateStep = Pick<StepPoint, 'ts' | 'durationS' | 'samples' | 'rank' | 'worldSize'>;

export interface RankRate {
  rank: number;
  /** The rank's samples over its own wall-clock span; null when its steps span no time. */
  samplesPerSecond: number | null;
}

/**
 * Variant "per rank, wall time": each rank's samples over its own wall-clock span, from the start
 * of its first step (`ts - durationS`: a report is sent when its step ends) to the end of its last.
 * Gaps between steps (logging, evaluation, checkpoints) count against the rank. Ranks in rank order.
 */
export function rankWallRates(steps: readonly RateStep[]): RankRate[] {
  const byRank = new Map<number, { samples: number; start: number; end: number }>();
  for (const s of steps) {
    const r = byRank.get(s.rank);
    const start = s.ts - s.durationS;
    if (!r) byRank.set(s.rank, { samples: s.samples, start, end: s.ts });
    else {
      r.samples += s.samples;
      if (start < r.start) r.start = start;
      if (s.ts > r.end) r.end = s.ts;
    }
  }
  return [...byRank.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([rank, r]) => ({ rank, samplesPerSecond: r.end > r.start ? r.samples / (r.end - r.start) : null }));
}

/**
 * Variant "job, wall time across ranks": the job's samples per wall-clock second. Data-parallel
 * ranks run side by side, so their spans overlap: the job's rate is the sum of the ranks' wall
 * rates (rankWallRates), not all ranks' samples over one span covering them all, which undercounts
 * whenever the ranks' recent reports cover different stretches (each rank sends its own batches,
 * so one is often a batch behind). Ranks the job has (`worldSize`, or as many as reported) that
 * sent nothing in `steps` are counted at the reporting ranks' mean rate, as a job that reports
 * from rank 0 only is still the whole job. Null without a rank whose steps span time.
 */
export function jobWallRate(steps: readonly RateStep[]): number | null {
  let sum = 0;
  let reporting = 0;
  for (const r of rankWallRates(steps)) {
    if (r.samplesPerSecond === null) continue;
    sum += r.samplesPerSecond;
    reporting++;
  }
  if (reporting === 0) return null;
  // The newest report says how many ranks the job has now (an elastic job may have changed).
  let newest = steps[0];
  for (const s of steps) if (s.ts > newest.ts) newest = s;
  const ranks = Math.max(newest.worldSize, reporting);
  return (sum / reporting) * ranks;
}

export interface StepTimeRate {
  /** The job's samples: each step's samples times its world size (every rank does a like share). */
  samples: number;
  /** The steps' own durations, summed. */
  seconds: number;
  samplesPerSecond: number | null;
}

/**
 * Variant "job, step time": the job's samples per second of stepping, from one rank's steps (under
 * data parallelism every rank takes the same step time): Σ samples × world size / Σ durations.
 * Time between steps does not count, so a pause that is not the config's doing (an evaluation, a
 * checkpoint) does not make it look slower: for comparing stretches of one run or configs. Pass a
 * single typical step (e.g. a trimmed-mean duration) for a robust figure.
 */
export function jobStepRate(rankSteps: ReadonlyArray<Pick<RateStep, 'durationS' | 'samples' | 'worldSize'>>): StepTimeRate {
  let samples = 0;
  let seconds = 0;
  for (const s of rankSteps) {
    samples += s.samples * s.worldSize;
    seconds += s.durationS;
  }
  return { samples, seconds, samplesPerSecond: seconds > 0 ? samples / seconds : null };
}
