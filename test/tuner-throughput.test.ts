// Samples per second in its named variants (tuner/throughput.ts), table by table.
import { describe, expect, it } from 'vitest';
import { jobStepRate, jobWallRate, rankWallRates, type RateStep } from '../tuner/throughput.js';

/** A step ending at `ts` after `durationS`, of `samples` on `rank` of `worldSize` ranks. */
const st = (ts: number, durationS: number, samples: number, rank = 0, worldSize = 1): RateStep => ({ ts, durationS, samples, rank, worldSize });

/** `n` back-to-back steps of one rank from t = 100. */
const run = (n: number, durationS: number, samples: number, rank = 0, worldSize = 1): RateStep[] =>
  Array.from({ length: n }, (_, i) => st(100 + (i + 1) * durationS, durationS, samples, rank, worldSize));

describe('jobWallRate: the job\'s samples/s over wall time across ranks', () => {
  const table: Array<[string, RateStep[], number | null]> = [
    ['no steps', [], null],
    ['one step: its samples over its duration', [st(101, 0.5, 32)], 64],
    ['back-to-back steps of one rank', run(4, 0.5, 32), 64],
    ['gaps between steps count against it', [st(101, 1, 10), st(104, 1, 10)], 5],
    ['steps that take no time span none', [st(101, 0, 10), st(101, 0, 10)], null],
    ['ranks side by side add up', [...run(10, 0.05, 32, 0, 2), ...run(10, 0.05, 32, 1, 2)], 1280],
    ['a rank a batch behind still counts at its own rate', [...run(20, 0.05, 32, 0, 2), ...run(10, 0.05, 32, 1, 2)], 1280],
    ['ranks that sent nothing count at the reporting ranks\' mean', run(10, 0.05, 32, 0, 4), 2560],
    ['ranks reported past world_size count as ranks', [st(101, 1, 10, 0), st(101, 1, 10, 1)], 20],
    ['the newest report\'s world size wins', [st(101, 1, 10, 0, 4), st(102, 1, 10, 0, 2)], 20],
    ['order does not matter', [...run(4, 0.5, 32)].reverse(), 64],
  ];
  it.each(table)('%s', (_, steps, want) => {
    const got = jobWallRate(steps);
    if (want === null) expect(got).toBeNull();
    else expect(got).toBeCloseTo(want, 9);
  });
});

describe('rankWallRates: per rank, over wall time', () => {
  it('gives each rank its own span, in rank order', () => {
    const steps = [...run(4, 0.5, 10, 1, 2), ...run(2, 1, 10, 0, 2), st(200, 0, 5, 2, 3)];
    expect(rankWallRates(steps)).toEqual([
      { rank: 0, samplesPerSecond: 10 },
      { rank: 1, samplesPerSecond: 20 },
      { rank: 2, samplesPerSecond: null },
    ]);
  });
});

describe('jobStepRate: the job\'s samples/s over step time', () => {
  const table: Array<[string, Parameters<typeof jobStepRate>[0], { samples: number; seconds: number; samplesPerSecond: number | null }]> = [
    ['no steps', [], { samples: 0, seconds: 0, samplesPerSecond: null }],
    ['one rank: samples over summed durations', run(4, 0.5, 10), { samples: 40, seconds: 2, samplesPerSecond: 20 }],
    ['a rank\'s share times the ranks', run(10, 0.05, 32, 0, 2), { samples: 640, seconds: 0.5, samplesPerSecond: 1280 }],
    ['one typical step', [{ samples: 32, worldSize: 2, durationS: 0.05 }], { samples: 64, seconds: 0.05, samplesPerSecond: 1280 }],
    ['steps that take no time', [{ samples: 8, worldSize: 1, durationS: 0 }], { samples: 8, seconds: 0, samplesPerSecond: null }],
  ];
  it.each(table)('%s', (_, steps, want) => {
    const got = jobStepRate(steps);
    expect(got.samples).toBe(want.samples);
    expect(got.seconds).toBeCloseTo(want.seconds, 12);
    if (want.samplesPerSecond === null) expect(got.samplesPerSecond).toBeNull();
    else expect(got.samplesPerSecond).toBeCloseTo(want.samplesPerSecond, 9);
  });

  it('ignores gaps that jobWallRate counts', () => {
    const steps = [st(101, 1, 10), st(104, 1, 10)];
    expect(jobStepRate(steps).samplesPerSecond).toBe(10);
    expect(jobWallRate(steps)).toBe(5);
  });
});
