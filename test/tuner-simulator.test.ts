// The tuner against the job simulator, scenario by scenario (in-process; the HTTP run is
// tuner-e2e.test.ts). Thresholds are the DESIGN §7 budget, checked on shorter runs.
import { describe, expect, it } from 'vitest';
import { simulate, throughputOf, type SimResult } from '../server/runs/simulate.js';
import { scenarioByName, SCENARIOS } from '../tuner/simulator-scenarios.js';
import { createRng, oracle, steadyState, DEFAULT_MODEL } from '../tuner/simulator.js';

const STEPS = 3000;
const runs = new Map<string, SimResult>();
const run = (name: string): SimResult => {
  let r = runs.get(name);
  if (!r) runs.set(name, (r = simulate(scenarioByName(name), { steps: STEPS, seed: 7 })));
  return r;
};
const endShare = (r: SimResult) => throughputOf(r.model, r.configs.at(-1)!, r.configs.length - 1) / r.oracle.throughput;
const configChanges = (r: SimResult) => r.decisions.filter((d) => !d.recommendOnly);

describe('job simulator', () => {
  it('is deterministic for a seed', () => {
    const a = createRng(42);
    const b = createRng(42);
    expect([a.next(), a.normal(), a.next()]).toEqual([b.next(), b.normal(), b.next()]);
    expect(simulate(scenarioByName('noisy'), { steps: 300, seed: 3 }).samplesTotal).toBe(simulate(scenarioByName('noisy'), { steps: 300, seed: 3 }).samplesTotal);
  });

  it('models input-bound, memory and OOM as functions of batch and workers', () => {
    const m = { ...DEFAULT_MODEL, loadCpuPerSampleS: 0.002 };
    expect(steadyState(m, 128, 1).dataWaitS).toBeGreaterThan(0);
    expect(steadyState(m, 128, 8).dataWaitS).toBe(0);
    expect(steadyState(m, 128, 8).throughput).toBeGreaterThan(steadyState(m, 128, 1).throughput);
    expect(steadyState(m, 800, 8).oom).toBe(true);
    const o = oracle(m, { batch: { min: 8, max: 1024 }, workers: { min: 0, max: 15 } });
    expect(o.batch).toBe(720); // (40 GB − 4 GB) / 50 MB
  });
});

describe.each(SCENARIOS.map((s) => [s.name]))('scenario %s', (name) => {
  it('ends at ≥ 95 % of the exhaustive-search optimum, never repeating an OOM size', () => {
    const r = run(name);
    expect(endShare(r)).toBeGreaterThanOrEqual(0.95);
    expect(new Set(r.ooms).size).toBe(r.ooms.length);
    const reached = r.expected.findIndex((x) => x >= 0.95 * r.oracle.throughput);
    expect(reached).toBeGreaterThanOrEqual(0);
    expect(reached).toBeLessThanOrEqual(0.05 * 20000); // within 5 % of a 20 000-step run
  }, 120_000); // a simulation and an exhaustive oracle: seconds alone, more on a shared 2-core host
});

describe('scenario behaviour', () => {
  it('storage-slows-halfway: after the change the search opens again and reaches ≥ 95 % of the new best', () => {
    const r = simulate(scenarioByName('storage-slows-halfway'), { steps: 14000, seed: 7 });
    expect(r.phaseStarts).toEqual([0, 10000]);
    expect(endShare(r)).toBeGreaterThanOrEqual(0.95);
    const after = r.shares.slice(10000).findIndex((x) => x >= 0.95);
    expect(after).toBeGreaterThanOrEqual(0);
    expect(after).toBeLessThanOrEqual(1000);
  }, 120_000);

  it('interior-batch-peak and kernel-cliff: batch sizes between measured ones, found from above as well as below', () => {
    for (const name of ['interior-batch-peak', 'kernel-cliff']) {
      const r = run(name);
      const sizes = r.configs.map((c) => c.batch_size);
      const top = Math.max(...sizes);
      // It went past the best, then came back down into the bracket.
      expect(sizes.at(-1)!).toBeLessThan(top);
      expect(r.decisions.some((d) => d.evidence.search === 'bracket')).toBe(true);
    }
  });

  it('blind-memory-ceiling: one bisection probe below the OOM, at most 2 OOMs', () => {
    const r = run('blind-memory-ceiling');
    expect(r.ooms.length).toBeLessThanOrEqual(2);
    expect(r.decisions.filter((d) => d.evidence.search === 'bisect')).toHaveLength(1);
  });

  it.each(['already-optimal', 'optimal-at-memory'])('%s: no lasting change', (name) => {
    const r = run(name);
    expect(r.configs.at(-1)).toEqual(r.configs[0]);
    // A trial (a descent included) may be measured and rolled back; no change of the config is kept.
    expect(configChanges(r).filter((d) => d.outcome.status === 'kept' && d.action !== 'rollback')).toEqual([]);
  });

  it('CPU-starved host: advice, and no thrash', () => {
    const r = run('cpu-starved');
    // At most one trial and its rollback, and at most one descent (a smaller batch tried once) and its rollback.
    const descents = configChanges(r).filter((d) => d.evidence.search === 'descent');
    expect(descents.length).toBeLessThanOrEqual(1);
    const undone = new Set(descents.map((d) => d.id));
    expect(configChanges(r).filter((d) => !undone.has(d.id) && !(d.action === 'rollback' && undone.has(Number(d.evidence.rolled_back_decision)))).length).toBeLessThanOrEqual(2);
    const advice = r.decisions.flatMap((d) => d.advice.map((a) => a.code));
    expect(advice).toContain('more_cpu');
    expect(new Set(advice).size).toBe(advice.length); // each remedy once
    expect(r.status?.bottleneck).toBe('cpu_saturated');
  });

  it('throttled GPU: names cooling among the advice', () => {
    const r = run('throttled');
    expect(r.status?.advice.map((a) => a.code)).toContain('cooling');
  });

  it('input-bound: climbs workers first, and every change has its reason and evidence', () => {
    const r = run('input-bound');
    expect(configChanges(r)[0]).toMatchObject({ knob: 'num_workers', action: 'increase' });
    for (const d of r.decisions) {
      expect(d.reason.length).toBeGreaterThan(10);
      expect(Object.keys(d.evidence).length).toBeGreaterThan(3);
    }
  });

  it('blind (step reports only): finds its way by doubling, backs off OOMs, each size once', () => {
    const r = run('blind');
    expect(r.ooms.length).toBeGreaterThan(0);
    expect(r.configs.at(-1)!.batch_size).toBeLessThan(Math.min(...r.ooms));
  });

  it('learning rate follows batch size (Adam: square root)', () => {
    const r = run('small-batch');
    const last = r.configs.at(-1)!;
    expect(last.learning_rate).toBeCloseTo(0.001 * Math.sqrt(last.batch_size / 8), 10);
  });

  it('rolls back a change after which the loss jumps', () => {
    const s = scenarioByName('small-batch');
    const r = simulate({ ...s, tune: { ...s.tune, optimizer: 'sgd' }, model: { ...s.model, lrDivergeAbove: 0.0015 } }, { steps: 1500, seed: 1 });
    const rolled = r.decisions.find((d) => d.outcome.status === 'rolled_back');
    expect(rolled?.outcome).toMatchObject({ note: expect.stringMatching(/loss jumped/) });
    expect(r.configs.at(-1)!.learning_rate).toBeLessThanOrEqual(0.0015);
  });

  it('rolls back a change after which the loss turns non-finite, and says so in words', () => {
    // SGD near its stability edge: a batch increase scales the learning rate past it (issue 21).
    const s = scenarioByName('small-batch');
    const r = simulate({ ...s, tune: { ...s.tune, optimizer: 'sgd' }, model: { ...s.model, lossBlowsUpAboveLr: 0.0015 } }, { steps: 1500, seed: 1 });
    const rollback = r.decisions.find((d) => d.action === 'rollback');
    expect(rollback?.reason).toMatch(/^back to batch size 8: at \d+ the loss turned non-finite/);
    expect(r.decisions.find((d) => d.outcome.status === 'rolled_back')?.outcome).toMatchObject({ note: expect.stringMatching(/non-finite/) });
    expect(r.configs.at(-1)!.learning_rate).toBeLessThanOrEqual(0.0015);
    // The job trains on: finite losses again at the end.
    expect(r.recentSteps.slice(-20).every((p) => p.loss !== null && Number.isFinite(p.loss))).toBe(true);
  });

  it('advise mode: recommendations only, the job keeps its config', () => {
    const r = simulate(scenarioByName('input-bound'), { steps: 1500, seed: 1, mode: 'advise' });
    expect(r.decisions.length).toBeGreaterThan(0);
    expect(r.decisions.every((d) => d.recommendOnly && d.configVersion === null)).toBe(true);
    expect(new Set(r.configs.map((c) => JSON.stringify(c))).size).toBe(1);
  });

  it('keep_global_batch: micro-batch and accumulation move together, the learning rate stays', () => {
    const s = scenarioByName('small-batch');
    const r = simulate({ ...s, config: { ...s.config, batch_size: 8, grad_accum_steps: 32 }, tune: { ...s.tune, keep_global_batch: true } }, { steps: 2000, seed: 1 });
    for (const c of r.configs) {
      expect(c.batch_size * c.grad_accum_steps).toBe(256);
      expect(c.learning_rate).toBe(0.001);
    }
    expect(r.configs.at(-1)!.batch_size).toBeGreaterThan(8);
  });

  it('goodput: with a small gradient noise scale, the batch stops growing sooner', () => {
    const s = scenarioByName('small-batch');
    const plain = simulate(s, { steps: 2500, seed: 1 });
    const noisy = simulate({ ...s, model: { ...s.model, gradNoiseScale: 32 } }, { steps: 2500, seed: 1 });
    expect(noisy.configs.at(-1)!.batch_size).toBeLessThan(plain.configs.at(-1)!.batch_size);
    expect(noisy.decisions.some((d) => /goodput/.test(d.reason))).toBe(true);
  });
});
