// The search over workers and batch size (tuner/search.ts, tuner/params.ts), its performance model
// and the safety moves. The learning rate, goodput and CPU-budget parsers have files of their own.
import { describe, expect, it } from 'vitest';
import { goodputShrink, oomBackoff } from '../tuner/batch.js';
import { classify } from '../tuner/classify.js';
import { tune } from '../tuner/decide.js';
import { noiseScale } from '../tuner/goodput.js';
import { DEFAULT_THRESHOLDS } from '../tuner/guardrails.js';
import { measure } from '../tuner/measure.js';
import { pointFromMeasurement } from '../tuner/history.js';
import { memoryModel, largestFitting } from '../tuner/memory-model.js';
import { BASE_CONFIG, BASE_TUNE, gpu, host, makeSteps, makeWindow, record, figures } from '../tuner/window-fixtures.js';
import type { ProcessTreeReading } from '../collectors/readings.js';
import type { RunConfig, TuneSettings } from '../domain/config.js';
import type { Window } from '../tuner/window.js';
import { fitPerfModel, predictRatio } from '../tuner/perf-model.js';

const budget16 = { cores: 16, source: 'test' };

/** The tuner's decision on a window, with a CPU budget. */
function decide(w: Window, budget = budget16) {
  return tune(w, { cpuBudget: budget }).decision;
}

function tree(workerCount: number, cpuPerWorker: number, ts: number, rss = 400e6, mainCpu = 1): ProcessTreeReading & { ts: number } {
  return {
    ts, runId: 'run-1', pid: 1, alive: true, cpuSecondsTotal: ts * (mainCpu + workerCount * cpuPerWorker), residentMemoryBytes: 3e9,
    children: Array.from({ length: workerCount }, (_, i) => ({ pid: 10 + i, name: 'w', cpuSecondsTotal: ts * cpuPerWorker, residentMemoryBytes: rss })),
    workerCount, gpuMemoryBytes: {},
  };
}

describe('search: data-loader workers', () => {
  const input = (over: Partial<Window> = {}, config: Partial<RunConfig> = {}) => makeWindow({
    steps: makeSteps({ n: 40, durationS: 0.1, dataWaitS: 0.06 }),
    config: { ...BASE_CONFIG, num_workers: 1, ...config },
    host: host(),
    ...over,
  });

  it('grows workers while loading holds the job back, predicting the gain from the model, and says what it weighed', () => {
    const d = decide(input())!;
    expect(d.knob).toBe('num_workers');
    expect(d.configAfter.num_workers).toBeGreaterThan(1);
    expect(Number(d.evidence.predicted_gain)).toBeGreaterThanOrEqual(DEFAULT_THRESHOLDS.minPredictedGain);
    expect(String(d.evidence.candidates)).toMatch(/batch size 64 → 128/);
    expect(d.evidence.cpu_budget_source).toBe('test');
    expect(d.reason).toMatch(/of each step waited for data/);
    expect(d.reason).not.toMatch(/\d\.\d{4,}/);
  });

  it('from 0 workers, one or more workers overlap loading with compute', () => {
    const d = decide(input({ steps: makeSteps({ n: 40, durationS: 0.1, dataWaitS: 0.05 }) }, { num_workers: 0 }))!;
    expect(d.knob).toBe('num_workers');
    expect(d.configAfter.num_workers).toBeGreaterThanOrEqual(1);
  });

  it('from 0 workers on a small, busy host, counts the core the main process spends loading as the loaders\' to take', () => {
    // 2 cores, the job's main process busy loading and computing (1 core), the host 70 % busy.
    const w = input({ steps: makeSteps({ n: 40, durationS: 0.1, dataWaitS: 0.05 }), processHistory: [tree(0, 0, 100), tree(0, 0, 110)], host: host({ cpuCount: 2, cpuUtilizationRatio: 0.7 }) }, { num_workers: 0 });
    const d = decide(w, { cores: 2, source: '/proc' });
    expect(d?.knob).toBe('num_workers');
    expect(Number(d?.evidence.predicted_gain)).toBeGreaterThan(0.2);
  });

  it('never past the user bound', () => {
    const d = decide(input({ tune: { ...BASE_TUNE, bounds: { num_workers: { min: 0, max: 2 } } } }));
    expect(d?.knob).toBe('num_workers');
    expect(d?.configAfter.num_workers).toBe(2);
  });

  it('up to the job\'s cores when loading is CPU work: 2 cores, 1 busy worker, the main process mostly waiting → 2 (not cores − 1)', () => {
    const w = input({ processHistory: [tree(1, 1, 100, 400e6, 0.4), tree(1, 1, 110, 400e6, 0.4)], host: host({ cpuCount: 2, cpuUtilizationRatio: 0.7 }) });
    const d = decide(w, { cores: 2, source: 'cgroup' });
    expect(d?.knob).toBe('num_workers');
    expect(d?.configAfter.num_workers).toBe(2);
  });

  it('not past the cores while the workers are CPU-bound', () => {
    const w = input({ processHistory: [tree(2, 1, 100), tree(2, 1, 110)], host: host({ cpuCount: 2, cpuUtilizationRatio: 0.99 }) }, { num_workers: 2 });
    const d = decide(w, { cores: 2, source: 'cgroup' });
    expect(d?.knob === 'num_workers' && d.configAfter.num_workers > 2).toBe(false);
  });

  it('past the cores when the workers mostly wait (little CPU per worker, idle host)', () => {
    const w = input({ processHistory: [tree(2, 0.05, 100), tree(2, 0.05, 110)], host: host({ cpuCount: 2, cpuUtilizationRatio: 0.15 }) }, { num_workers: 2 });
    const d = decide(w, { cores: 2, source: 'cgroup' });
    expect(d?.knob).toBe('num_workers');
    expect(d!.configAfter.num_workers).toBeGreaterThan(2);
  });

  it('never tries again a worker count measured not to pay, nor a larger one at that batch size', () => {
    const m1 = figures({ batchSize: 64, numWorkers: 1, samplesPerSecond: 640, stepSeconds: 0.1, computeSeconds: 0.04, dataWaitRatio: 0.6, relNoise: 0.005 });
    const rejected = record({
      knob: 'num_workers', configBefore: { ...BASE_CONFIG, num_workers: 1 }, configAfter: { ...BASE_CONFIG, num_workers: 3 }, before: m1,
      outcome: { status: 'rolled_back', gainRatio: 0, note: 'no gain', after: figures({ batchSize: 64, numWorkers: 3, samplesPerSecond: 645, stepSeconds: 0.099, computeSeconds: 0.04, dataWaitRatio: 0.6, relNoise: 0.005 }) },
    });
    const undo = record({ id: 2, knob: 'num_workers', action: 'rollback', configVersion: 3, configBefore: { ...BASE_CONFIG, num_workers: 3 }, configAfter: { ...BASE_CONFIG, num_workers: 1 }, outcome: { status: 'kept', gainRatio: 0 } });
    const w = input({ decisions: [rejected, undo], configVersion: 3, appliedVersion: 3, steps: makeSteps({ n: 40, durationS: 0.1, dataWaitS: 0.06, version: 3 }) });
    const d = decide(w);
    expect(d?.knob === 'num_workers' && d.configAfter.num_workers >= 3).toBe(false);
  });

  it('steps down idle workers, keeping them about 60 % busy', () => {
    const w = makeWindow({ config: { ...BASE_CONFIG, num_workers: 8 }, processHistory: [tree(8, 0.1, 100), tree(8, 0.1, 110)], gpus: [gpu()] });
    const d = decide(w);
    expect(d?.action).toBe('decrease');
    expect(d?.configAfter.num_workers).toBe(2);
  });

  it('halves workers under host memory pressure, as a safety move', () => {
    const w = makeWindow({ config: { ...BASE_CONFIG, num_workers: 8 }, host: host({ memoryAvailableBytes: 1e9 }) });
    const d = decide(w);
    expect(d).toMatchObject({ action: 'decrease' });
    expect(d?.evidence.safety).toBe(true);
    expect(d?.configAfter.num_workers).toBe(4);
  });
});

describe('search: batch size', () => {
  const underused = (over: Partial<Window> = {}) => makeWindow({ gpus: [gpu({ utilizationRatio: 0.4 })], ...over });

  it('grows while the GPU is under-used, predicting the gain from utilisation', () => {
    const d = decide(underused())!;
    expect(d.knob).toBe('batch_size');
    expect(d.configAfter.batch_size).toBeGreaterThan(64);
    const k = d.configAfter.batch_size / 64;
    expect(Number(d.evidence.predicted_gain)).toBeCloseTo(k / (0.6 + 0.4 * k) - 1, 3);
    expect(String(d.evidence.predicted_basis)).toMatch(/GPU utilisation/);
  });

  it('does not climb when the predicted gain is under the bar (its one batch move is a trial downward)', () => {
    const d = decide(makeWindow({ gpus: [gpu({ utilizationRatio: 0.99 })] }));
    expect(d?.knob === 'batch_size' && d.configAfter.batch_size > 64).toBe(false);
    if (d?.knob === 'batch_size') expect(d.evidence.search).toBe('descent');
  });

  it('on a CPU-only job with no readings, a doubling is a trial, measured and judged', () => {
    const d = decide(makeWindow())!;
    expect(d.configAfter.batch_size).toBe(128);
    expect(d.evidence.search).toBe('trial');
  });

  it('while the loader is the verdict and cannot grow, a bigger batch is still tried (the verdict orders, never gates)', () => {
    const w = makeWindow({ steps: makeSteps({ n: 40, durationS: 0.1, dataWaitS: 0.06 }), config: { ...BASE_CONFIG, num_workers: 1 }, tune: { ...BASE_TUNE, bounds: { num_workers: { min: 0, max: 1 } } } });
    const r = tune(w, { cpuBudget: budget16 });
    expect(r.status.bottleneck).toBe('input_bound');
    expect(r.decision?.knob).toBe('batch_size');
  });

  it('stops at the largest size predicted to fit, with the margin', () => {
    const w = underused({ steps: makeSteps({ n: 40, memPeakBytes: 60e9 }) });
    const expected = largestFitting(memoryModel([{ batch: 64, memBytes: 60e9 } as never]), 80e9);
    expect(expected).toBe(Math.floor((80e9 * 0.95) / (60e9 / 64)));
    const b = decide(w)!.configAfter.batch_size;
    expect(b).toBeLessThanOrEqual(expected);
    expect(b).toBeGreaterThanOrEqual(0.95 * expected);
  });

  it('fits memory a + c·batch over two sizes', () => {
    const m = memoryModel([{ batch: 32, memBytes: 10e9 }, { batch: 64, memBytes: 14e9 }] as never)!;
    expect(m.a).toBeCloseTo(6e9, -3);
    expect(m.c).toBeCloseTo(0.125e9, -3);
  });

  it('below an OOM size, never proposes it again', () => {
    const w = underused({ config: { ...BASE_CONFIG, batch_size: 96 }, steps: makeSteps({ n: 60, samples: 96 }), oomBatchSizes: [128] });
    const d = decide(w);
    expect(d?.knob).toBe('batch_size');
    expect(d!.configAfter.batch_size).toBeGreaterThan(96);
    expect(d!.configAfter.batch_size).toBeLessThan(128);
  });

  it('after one OOM with no memory readings, probes once halfway to the size that failed; after a second, never again', () => {
    // Issue 21: one bisection probe (≤ 2 OOMs in such a run), as Lightning's binsearch finder.
    const w = makeWindow({ config: { ...BASE_CONFIG, batch_size: 96 }, steps: makeSteps({ n: 60, samples: 96 }), oomBatchSizes: [128] });
    const d = decide(w);
    expect(d?.configAfter.batch_size).toBe(112);
    expect(d?.evidence.search).toBe('bisect');
    const twice = makeWindow({ config: { ...BASE_CONFIG, batch_size: 96 }, steps: makeSteps({ n: 60, samples: 96 }), oomBatchSizes: [112, 128] });
    const d2 = decide(twice);
    expect(d2?.knob === 'batch_size' && d2.configAfter.batch_size > 96).toBe(false);
  });

  it('backs off after an OOM to the largest known-good size below it', () => {
    const grow = record({
      id: 4, configVersion: 3,
      configBefore: { ...BASE_CONFIG, batch_size: 64 }, configAfter: { ...BASE_CONFIG, batch_size: 128 },
      before: figures({ batchSize: 64, samplesPerSecond: 600, computeSeconds: 0.1, stepSeconds: 0.1 }),
    });
    const w = makeWindow({
      config: { ...BASE_CONFIG, batch_size: 128 }, configVersion: 3, appliedVersion: 2, decisions: [grow],
      events: [{ ts: 1, kind: 'oom', step: 60, data: { batch_size: 128, config_version: 3 } }],
      steps: makeSteps({ n: 60, version: 2 }),
    });
    const r = tune(w);
    expect(r.decision?.configAfter.batch_size).toBe(64);
    expect(r.decision?.evidence.safety).toBe(true);
    expect(r.outcomes).toContainEqual({ decisionId: 4, outcome: expect.objectContaining({ status: 'rolled_back' }) });
  });

  it('without a known-good size below an OOM, shrinks ×0.9 (as HF accelerate)', () => {
    const w = makeWindow({ config: { ...BASE_CONFIG, batch_size: 100 }, oomBatchSizes: [100] });
    expect(oomBackoff(w, [])?.proposal?.config.batch_size).toBe(90);
  });

  it('advises a smaller model when even the minimum batch runs out of memory', () => {
    const w = makeWindow({ config: { ...BASE_CONFIG, batch_size: 8 }, oomBatchSizes: [8], gpus: [gpu()] });
    const r = tune(w);
    expect(r.decision?.knob ?? 'none').toBe('none');
    expect(r.status.advice.map((a) => a.code)).toEqual(expect.arrayContaining(['gradient_checkpointing', 'model_parallelism', 'pruning_distillation_low_rank']));
    expect(oomBackoff(w, [])?.doesNotFit).toBe(true);
  });

  it('with keep_global_batch, moves along divisors of the global batch and keeps the learning rate', () => {
    const t: TuneSettings = { ...BASE_TUNE, keep_global_batch: true };
    const w = underused({ tune: t, config: { ...BASE_CONFIG, batch_size: 32, grad_accum_steps: 8 }, steps: makeSteps({ n: 60, samples: 32 }) });
    const d = decide(w)!;
    expect(256 % d.configAfter.batch_size).toBe(0);
    expect(d.configAfter.batch_size).toBeGreaterThan(32);
    expect(d.configAfter.batch_size * d.configAfter.grad_accum_steps).toBe(256);
    expect(d.configAfter.learning_rate).toBe(BASE_CONFIG.learning_rate);
  });

  it('shrinks for goodput when the batch is far above the gradient noise scale', () => {
    // |G|² = 1, tr(Σ) = 8 → B_noise = 8; at batch 512 half the batch is nearly as good per step.
    const steps = makeSteps({ n: 40, samples: 512, gradSqNorm: 1 + 8 / 512, gradSqNormSmall: 1 + 8 / 256 });
    const w = makeWindow({ steps, config: { ...BASE_CONFIG, batch_size: 512 }, gpus: [gpu({ utilizationRatio: 0.99 })] });
    const m = measure(w, 1)!;
    const r = goodputShrink({ w, m, cls: classify(w, { measurement: m }), points: [pointFromMeasurement(m, null)], capacity: 80e9, noise: noiseScale(m), settings: DEFAULT_THRESHOLDS });
    expect(r.proposal?.config.batch_size).toBe(256);
  });
});

describe('performance model', () => {
  const pt = (batch: number, workers: number, stepS: number, waitRatio: number, workerBusy: number | null = null) =>
    ({ batch, workers, accum: 1, throughput: batch / stepS, stepS, computeS: stepS * (1 - waitRatio), waitRatio, memBytes: null, relNoise: 0.005, ts: 0, workerBusy }) as const;
  const ctx = { budgetCores: 4, gpuUtil: null, treeCores: null, workerBusy: null, freeHostCores: null, workers: 1 };

  it('fits compute and loading over two batch sizes and sees a per-batch cost amortised by a bigger batch', () => {
    // No workers: step = compute + load; compute 10 ms + 1 ms/sample, load 50 ms + 0.5 ms/sample.
    const c = (b: number) => 0.01 + 0.001 * b;
    const l = (b: number) => 0.05 + 0.0005 * b;
    const model = fitPerfModel([pt(16, 0, c(16) + l(16), l(16) / (c(16) + l(16))), pt(32, 0, c(32) + l(32), l(32) / (c(32) + l(32)))], { ...ctx, workers: 0 });
    expect(model.compute?.a).toBeCloseTo(0.01, 6);
    expect(model.loadCpu?.a).toBeCloseTo(0.05, 6);
    const r = predictRatio(model, { batch: 32, workers: 0 }, { batch: 64, workers: 0 })!;
    expect(r.assumed).toBe(false);
    expect(r.ratio).toBeCloseTo((64 / (c(64) + l(64))) / (32 / (c(32) + l(32))), 6);
  });

  it('with one batch size measured, a batch move rests on an assumption; a workers move does not', () => {
    const model = fitPerfModel([pt(64, 1, 0.1, 0.6)], ctx);
    expect(predictRatio(model, { batch: 64, workers: 1 }, { batch: 128, workers: 1 })?.assumed).toBe(true);
    expect(predictRatio(model, { batch: 64, workers: 1 }, { batch: 64, workers: 2 })?.assumed).toBe(false);
  });

  it('loaders share the cores left to them: CPU-bound workers stop paying at the budget, waiting ones do not', () => {
    const busy = fitPerfModel([pt(64, 2, 0.1, 0.6, 1)], { ...ctx, budgetCores: 2, treeCores: 2, workerBusy: 1, workers: 2 });
    const waiting = fitPerfModel([pt(64, 2, 0.1, 0.6, 0.05)], { ...ctx, budgetCores: 2, treeCores: 0.5, workerBusy: 0.05, workers: 2 });
    expect(predictRatio(busy, { batch: 64, workers: 2 }, { batch: 64, workers: 4 })!.ratio).toBeLessThan(1.03);
    expect(predictRatio(waiting, { batch: 64, workers: 2 }, { batch: 64, workers: 4 })!.ratio).toBeGreaterThan(1.5);
  });
});
