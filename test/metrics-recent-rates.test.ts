// Window ratios: data-wait share and wall-clock samples per second.
import { describe, expect, it } from 'vitest';
import { RATE_WINDOW_S, windowStats } from '../server/metrics/recent-rates.js';
import type { StepPoint } from '../domain/steps.js';

const step = (ts: number, durationS: number, dataWaitS: number, samples: number, rank = 0): StepPoint => ({
  step: 0, ts, durationS, dataWaitS, samples, loss: null, memPeakBytes: null,
  gradSqNorm: null, gradSqNormSmall: null, rank, worldSize: 1, configVersion: 1,
});

describe('windowStats', () => {
  it('is null without steps', () => {
    expect(windowStats([])).toEqual({ dataWaitRatio: null, samplesPerSecond: null });
  });

  it('divides summed wait by summed duration, and samples by the wall-clock span', () => {
    // Steps of 0.5 s back to back from t=100: they cover 100 … 102 s.
    const s = [step(100.5, 0.5, 0.1, 32), step(101, 0.5, 0.2, 32), step(101.5, 0.5, 0, 32), step(102, 0.5, 0.1, 32)];
    const w = windowStats(s);
    expect(w.dataWaitRatio).toBeCloseTo(0.4 / 2, 12);
    expect(w.samplesPerSecond).toBeCloseTo(128 / 2, 12);
  });

  it('counts gaps between steps against throughput', () => {
    const s = [step(101, 1, 0, 10), step(104, 1, 0, 10)]; // 1 s of work, 2 s idle, 1 s of work
    expect(windowStats(s).samplesPerSecond).toBeCloseTo(20 / 4, 12);
  });

  it('adds data-parallel ranks that overlap in time', () => {
    const s = [step(101, 1, 0.5, 10, 0), step(101, 1, 0.25, 10, 1)];
    const w = windowStats(s);
    expect(w.samplesPerSecond).toBeCloseTo(20, 12);
    expect(w.dataWaitRatio).toBeCloseTo(0.375, 12);
  });

  it(`keeps only the last ${RATE_WINDOW_S} s of steps, whatever their order`, () => {
    const s = [step(1000, 1, 1, 1000), step(1000 + RATE_WINDOW_S + 10, 2, 0, 10), step(1000 + RATE_WINDOW_S + 8, 2, 0, 10)];
    const w = windowStats(s);
    expect(w.dataWaitRatio).toBe(0);
    expect(w.samplesPerSecond).toBeCloseTo(20 / 4, 12);
  });

  it('clamps a wait longer than its step to 1', () => {
    expect(windowStats([step(10, 1, 3, 1)]).dataWaitRatio).toBe(1);
  });
});
