// The job changing under a fixed config (issue 21): a lasting shift of step time within one
// version is found and placed; noise and spikes are not a change; a trial whose window straddles
// the change is not judged (nor rolled back) on a reading the change made.
import { describe, expect, it } from 'vitest';
import { findShift, type JobShift } from '../tuner/job-change.js';
import { median, robustSigma } from '../tuner/stats.js';
import type { StepPoint } from '../domain/steps.js';
import { judge } from '../tuner/judge.js';
import { DEFAULT_THRESHOLDS } from '../tuner/guardrails.js';
import { BASE_CONFIG, makeSteps, makeWindow, record, figures } from '../tuner/window-fixtures.js';

const shifted = (at: number, factor: number, version = 1) => {
  const a = makeSteps({ n: at, durationS: 0.1, jitter: 0.05, version });
  const b = makeSteps({ n: 120 - at, durationS: 0.1 * factor, jitter: 0.05, version, startStep: at + 1, startTs: a.at(-1)!.ts });
  return [...a, ...b];
};

describe('findShift', () => {
  it('finds a lasting change of step time and where it began', () => {
    const s = findShift(shifted(60, 1.8), 20);
    expect(s).not.toBeNull();
    expect(Math.abs(s!.step - 61)).toBeLessThanOrEqual(5);
    expect(s!.ratio).toBeCloseTo(1.8, 1);
  });

  it('sees no change in steady noise, in a change under 15 %, or one too recent to last', () => {
    expect(findShift(makeSteps({ n: 120, durationS: 0.1, jitter: 0.2 }), 20)).toBeNull();
    expect(findShift(shifted(60, 1.1), 20)).toBeNull();
    expect(findShift(shifted(110, 3), 20)).toBeNull();
  });
});

// findShift as it was written before it kept its two sides sorted (issue 23): slices, sorted each time.
function findShiftBySlices(steps: readonly StepPoint[], minSide: number): JobShift | null {
  const n = steps.length;
  if (n < 2 * minSide) return null;
  const d = steps.map((s) => s.durationS);
  let best: JobShift | null = null;
  let bestScore = 0;
  for (let k = minSide; k <= n - minSide; k += 5) {
    const a = d.slice(0, k);
    const b = d.slice(k);
    const ma = median(a);
    const mb = median(b);
    if (!(ma > 0 && mb > 0)) continue;
    const se = Math.hypot(robustSigma(a) / Math.sqrt(a.length), robustSigma(b) / Math.sqrt(b.length));
    const ratio = mb / ma;
    if (Math.abs(ratio - 1) < 0.15 || Math.abs(mb - ma) < 4 * se) continue;
    const score = Math.abs(mb - ma) / Math.max(se, 1e-12);
    if (score > bestScore) { bestScore = score; best = { step: steps[k].step, ts: steps[k].ts, ratio }; }
  }
  return best;
}

describe('findShift, kept sorted', () => {
  it('gives what sorting slices gave, on random windows with ties, spikes and shifts', () => {
    let seed = 23;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    let found = 0;
    for (let t = 0; t < 400; t++) {
      const n = 20 + Math.floor(rand() * 200);
      const at = Math.floor(rand() * n);
      const factor = [1, 1.1, 1.5, 2, 0.5][t % 5];
      const steps = makeSteps({ n, durationS: 0.1, jitter: 0.05 });
      for (let i = 0; i < n; i++) {
        let d = rand() < 0.2 ? 0.1 : 0.1 * (1 + (rand() - 0.5) * 0.1); // ties
        if (rand() < 0.03) d *= 10; // spikes
        if (i >= at) d *= factor;
        steps[i] = { ...steps[i], durationS: t % 17 === 0 ? Math.round(d * 100) / 100 : d };
      }
      const want = findShiftBySlices(steps, 20);
      expect(findShift(steps, 20)).toEqual(want);
      if (want) found++;
    }
    expect(found).toBeGreaterThan(50); // the shifts were there to be found
  });
});

describe('a trial across a change of the job', () => {
  it('is measured again from the change on, not rolled back on the reading the change made', () => {
    const trial = record({
      id: 3, configVersion: 2, knob: 'num_workers',
      configBefore: { ...BASE_CONFIG, num_workers: 1 }, configAfter: { ...BASE_CONFIG, num_workers: 2 },
      before: figures({ samplesPerSecond: 640, relNoise: 0.005, batchSize: 64, numWorkers: 1, computeSeconds: 0.1, stepSeconds: 0.1 }),
    });
    // Under version 2 the job's steps turn 2× slower halfway (its data moved to slow storage).
    const w = makeWindow({ config: { ...BASE_CONFIG, num_workers: 2 }, configVersion: 2, appliedVersion: 2, decisions: [trial], steps: shifted(60, 2, 2) });
    const j = judge(w, trial, DEFAULT_THRESHOLDS);
    expect(j?.rollback).toBeUndefined();
    expect(j?.outcome).toMatchObject({ status: 'superseded', note: expect.stringMatching(/the job changed at step \d+ while this was measured/) });
  });
});
