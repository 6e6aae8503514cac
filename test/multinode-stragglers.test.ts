// tuner/stragglers.ts: which ranks hold a data-parallel job back, on which node, and why.
import { describe, expect, it } from 'vitest';
import { findStragglers, rankFigures, type RankData, type RankInterval } from '../tuner/stragglers.js';

/** Intervals of 25 steps each with a per-step time and data wait, a little jitter (seeded). */
function intervals(n: number, stepS: number, waitS: number, jitter = 0.02): RankInterval[] {
  let seed = Math.round(stepS * 1e4 + waitS * 1e6);
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1;
  return Array.from({ length: n }, () => {
    const f = 1 + jitter * rand();
    return { steps: 25, durationS: 25 * stepS * f, dataWaitS: 25 * waitS * f, samples: 25 * 8 };
  });
}

const rank = (r: number, node: string, stepS: number, waitS: number, extra: Partial<RankData> = {}): RankData =>
  ({ rank: r, node, intervals: intervals(4, stepS, waitS), lastStep: 100, nodeVerdict: null, ...extra });

describe('findStragglers', () => {
  it('names the slow node\'s ranks by their data wait, with the node, its verdict and the advice', () => {
    const s = findStragglers([
      rank(0, 'node-a', 0.04, 0.001), rank(1, 'node-a', 0.04, 0.001),
      rank(2, 'node-b', 0.04, 0.03, { nodeVerdict: 'input_bound' }), rank(3, 'node-b', 0.04, 0.031, { nodeVerdict: 'input_bound' }),
    ]);
    expect(s).not.toBeNull();
    expect(s!.ranks).toEqual([2, 3]);
    expect(s!.nodes).toEqual(['node-b']);
    expect(s!.cause).toBe('data_loading');
    expect(s!.evidence).toMatchObject({ stragglers: [2, 3], straggler_nodes: ['node-b'], straggler_cause: 'data_loading', straggler_node_verdict: 'input_bound', straggler_action: 'advise' });
    expect(s!.evidence.straggler_data_wait_ratio as number).toBeCloseTo(0.76, 1);
    expect(s!.evidence.others_data_wait_ratio as number).toBeCloseTo(0.025, 2);
    expect(s!.evidence.straggler_why).toBe("Ranks 2, 3 on node-b wait 76 % of each step for data, the other ranks 2.5 %; node-b's sidecar sees input_bound");
    expect(s!.advice.code).toBe('stragglers_data_loading');
    expect(s!.advice.why).toMatch(/one config for all its ranks, so trainpilot does not change it for one node: it advises/);
  });

  it('names a rank with slower steps and no more data wait by its node\'s verdict', () => {
    const cases = [
      ['gpu_throttled', 'gpu_throttled', 'stragglers_gpu_throttled'],
      ['cpu_saturated', 'host_saturated', 'stragglers_host_saturated'],
      ['host_memory_pressure', 'host_saturated', 'stragglers_host_saturated'],
      [null, 'compute', 'stragglers_compute'],
    ] as const;
    for (const [verdict, cause, code] of cases) {
      const s = findStragglers([rank(0, 'a', 0.05, 0.001), rank(1, 'a', 0.05, 0.001), rank(2, 'a', 0.05, 0.001), rank(3, 'b', 0.08, 0.001, { nodeVerdict: verdict })]);
      expect(s?.ranks, String(verdict)).toEqual([3]);
      expect(s!.cause).toBe(cause);
      expect(s!.advice.code).toBe(code);
      expect(s!.evidence.straggler_why).toMatch(/^Rank 3 on b takes 8\d(\.\d)? ms a step, the other ranks (49|50)(\.\d)? ms/);
    }
  });

  it('names nobody when the ranks differ within noise or under 5 % of the step', () => {
    expect(findStragglers([rank(0, 'a', 0.04, 0.001), rank(1, 'b', 0.04, 0.0015)])).toBeNull(); // 0.5 ms of a 40 ms step
    const noisy = (r: number, w: number): RankData => ({ rank: r, node: 'a', lastStep: 1, nodeVerdict: null, intervals: intervals(6, 0.04, w, 0.9) });
    expect(findStragglers([noisy(0, 0.01), noisy(1, 0.01), noisy(2, 0.013), noisy(3, 0.01)])).toBeNull();
  });

  it('names nobody on too little data: one interval, or under 20 steps', () => {
    const one = (r: number, w: number): RankData => ({ rank: r, node: 'a', lastStep: 1, nodeVerdict: null, intervals: intervals(1, 0.04, w) });
    expect(findStragglers([one(0, 0.001), one(1, 0.03)])).toBeNull();
    const few = (r: number, w: number): RankData => ({ rank: r, node: 'a', lastStep: 1, nodeVerdict: null, intervals: intervals(3, 0.04, w).map((i) => ({ ...i, steps: 5 })) });
    expect(findStragglers([few(0, 0.001), few(1, 0.03)])).toBeNull();
    expect(findStragglers([rank(0, 'a', 0.04, 0.001)])).toBeNull();
  });

  it('never calls a majority stragglers: the fast minority is not "holding the others back"', () => {
    expect(findStragglers([rank(0, 'a', 0.04, 0.001), rank(1, 'b', 0.04, 0.03), rank(2, 'b', 0.04, 0.03), rank(3, 'b', 0.04, 0.03)])).toBeNull();
  });
});

describe('rankFigures', () => {
  it('sums the intervals into samples/s over step time, mean step time and data-wait ratio', () => {
    const f = rankFigures({ rank: 2, node: 'n', lastStep: 99, nodeVerdict: null, intervals: [
      { steps: 10, durationS: 1, dataWaitS: 0.25, samples: 80 }, { steps: 10, durationS: 1, dataWaitS: 0.75, samples: 80 },
    ] });
    expect(f).toEqual({ rank: 2, node: 'n', samplesPerSecond: 80, stepSeconds: 0.1, dataWaitRatio: 0.5, lastStep: 99 });
    expect(rankFigures({ rank: 0, node: null, lastStep: null, nodeVerdict: null, intervals: [] }))
      .toEqual({ rank: 0, node: null, samplesPerSecond: null, stepSeconds: null, dataWaitRatio: null, lastStep: null });
  });
});
