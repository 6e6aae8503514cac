// The job changing under a fixed config (issue 21): a lasting shift of step time within one
// version is found and placed; noise and spikes are not a change; a trial whose window straddles
// the change is not judged (nor rolled back) on a reading the change made.
import { describe, expect, it } from 'vitest';
import { findShift } from '../tuner/job-change.js';
import { judge } from '../tuner/judge.js';
import { DEFAULT_THRESHOLDS } from '../tuner/guardrails.js';
import { BASE_CONFIG, makeSteps, makeWindow, record } from '../tuner/window-fixtures.js';

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

describe('a trial across a change of the job', () => {
  it('is measured again from the change on, not rolled back on the reading the change made', () => {
    const trial = record({
      id: 3, configVersion: 2, knob: 'num_workers',
      configBefore: { ...BASE_CONFIG, num_workers: 1 }, configAfter: { ...BASE_CONFIG, num_workers: 2 },
      evidence: { before_samples_per_second: 640, before_rel_noise: 0.005, before_batch_size: 64, before_compute_seconds: 0.1, before_step_seconds: 0.1 },
    });
    // Under version 2 the job's steps turn 2× slower halfway (its data moved to slow storage).
    const w = makeWindow({ config: { ...BASE_CONFIG, num_workers: 2 }, configVersion: 2, appliedVersion: 2, decisions: [trial], steps: shifted(60, 2, 2) });
    const j = judge(w, trial, DEFAULT_THRESHOLDS);
    expect(j?.rollback).toBeUndefined();
    expect(j?.outcome).toMatchObject({ status: 'superseded', note: expect.stringMatching(/the job changed at step \d+ while this was measured/) });
  });
});
