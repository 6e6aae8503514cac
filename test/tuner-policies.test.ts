// Table tests for each policy: workers, batch size, learning rate, goodput; and the budgets.
import { describe, expect, it } from 'vitest';
import { batchPolicy, goodputShrink, oomBackoff } from '../tuner/batch.js';
import { cpuBudgetOf, parseCfsQuota, parseCpuMax } from '../tuner/budget.js';
import { classify } from '../tuner/classify.js';
import { tune } from '../tuner/decide.js';
import { efficiency, noiseScale } from '../tuner/goodput.js';
import { DEFAULT_SETTINGS } from '../tuner/guardrails.js';
import { measuredPoints, pointFromMeasurement } from '../tuner/history.js';
import { LR_RAMP_STEPS, scalingRule, withBatchSize } from '../tuner/lr.js';
import { measure } from '../tuner/measure.js';
import { memoryModel, largestFitting } from '../tuner/models.js';
import { BASE_CONFIG, BASE_TUNE, gpu, host, makeSteps, makeWindow, record } from '../tuner/window-fixtures.js';
import type { ProcessTreeReading } from '../collectors/readings.js';
import type { RunConfig, TuneSettings, Window } from '../tuner/window.js';
import { workersNeeded, workersPolicy } from '../tuner/workers.js';

const budget16 = { cores: 16, source: 'test' };

function workers(w: Window, budget = budget16) {
  const m = measure(w, w.appliedVersion)!;
  return workersPolicy({ w, m, cls: classify(w, { cpuBudget: budget, measurement: m }), budget, settings: DEFAULT_SETTINGS });
}

function batch(w: Window) {
  const m = measure(w, w.appliedVersion)!;
  const cls = classify(w, { measurement: m });
  const points = measuredPoints(w, pointFromMeasurement(m, null));
  const cap = w.gpus?.[0]?.memoryTotalBytes ?? null;
  return batchPolicy({ w, m, cls, points, capacity: cap, noise: noiseScale(m), settings: DEFAULT_SETTINGS });
}

function tree(workerCount: number, cpuPerWorker: number, ts: number, rss = 400e6): ProcessTreeReading & { ts: number } {
  return {
    ts, runId: 'run-1', pid: 1, alive: true, cpuSecondsTotal: ts * (1 + workerCount * cpuPerWorker), residentMemoryBytes: 3e9,
    children: Array.from({ length: workerCount }, (_, i) => ({ pid: 10 + i, name: 'w', cpuSecondsTotal: ts * cpuPerWorker, residentMemoryBytes: rss })),
    workerCount, gpuMemoryBytes: {},
  };
}

describe('workers policy', () => {
  const input = (over: Partial<Window> = {}, config: Partial<RunConfig> = {}) => makeWindow({
    steps: makeSteps({ n: 40, durationS: 0.1, dataWaitS: 0.06 }),
    config: { ...BASE_CONFIG, num_workers: 1, ...config },
    host: host(),
    ...over,
  });

  it.each([
    // [what, window, expected workers or undefined]
    ['jumps to what the model needs: ⌈1 × 0.1 / 0.04 × 1.15⌉', input(), 3],
    ['from 0 workers, the wait itself is the load time', input({ steps: makeSteps({ n: 40, durationS: 0.1, dataWaitS: 0.05 }) }, { num_workers: 0 }), 2],
    ['capped by the user bound', input({ tune: { ...BASE_TUNE, bounds: { num_workers: { min: 0, max: 2 } } } }), 2],
    ['capped by free cores on a busy host', input({ host: host({ cpuCount: 4, cpuUtilizationRatio: 0.7 }) }), 2],
    ['capped by the RAM budget (half of available)', input({ host: host({ memoryAvailableBytes: 20e9 }), process: tree(1, 1, 100, 10e9) }), 2],
  ] as Array<[string, Window, number | undefined]>)('%s', (_what, w, expected) => {
    expect(workers(w).proposal?.config.num_workers).toBe(expected);
  });

  it('respects the CPU budget: 2 cores leave room for 1 worker beside the main process', () => {
    const r = workers(input(), { cores: 2, source: 'cgroup' });
    expect(r.proposal).toBeUndefined();
    expect(r.exhausted).toBe(true);
  });

  it('bisects below a size that was rolled back', () => {
    const w = input({}, { num_workers: 1 });
    const rejected = record({ knob: 'num_workers', configBefore: { ...BASE_CONFIG, num_workers: 1 }, configAfter: { ...BASE_CONFIG, num_workers: 5 }, outcome: { status: 'rolled_back', gainRatio: 0, note: 'no gain' } });
    const r = workers({ ...w, decisions: [rejected], steps: makeSteps({ n: 40, durationS: 0.1, dataWaitS: 0.09 }) });
    expect(r.proposal?.config.num_workers).toBe(3);
  });

  it('steps down idle workers, keeping them about 60 % busy', () => {
    const w = makeWindow({ config: { ...BASE_CONFIG, num_workers: 8 }, processHistory: [tree(8, 0.1, 100), tree(8, 0.1, 110)] });
    const r = workers(w);
    expect(r.proposal?.action).toBe('decrease');
    expect(r.proposal?.config.num_workers).toBe(2);
  });

  it('halves workers under host memory pressure, as a safety move', () => {
    const w = makeWindow({ config: { ...BASE_CONFIG, num_workers: 8 }, host: host({ memoryAvailableBytes: 1e9 }) });
    const r = workers(w);
    expect(r.proposal).toMatchObject({ action: 'decrease', safety: true });
    expect(r.proposal?.config.num_workers).toBe(4);
  });

  it('never climbs when the CPU is saturated', () => {
    const r = workers(input({ host: host({ cpuUtilizationRatio: 0.95 }) }));
    expect(r.proposal).toBeUndefined();
  });

  it('models the workers needed', () => {
    expect(workersNeeded({ stepS: 0.2, computeS: 0.05, dataWaitS: 0.15, workers: 2 }).needed).toBe(Math.ceil(8 * 1.15));
  });
});

describe('batch-size policy', () => {
  const underused = (over: Partial<Window> = {}) => makeWindow({ gpus: [gpu({ utilizationRatio: 0.4 })], ...over });

  it('doubles while the GPU is under-used, predicting the gain from utilisation', () => {
    const r = batch(underused());
    expect(r.proposal?.config.batch_size).toBe(128);
    expect(r.proposal?.predictedGain).toBeCloseTo(2 / 1.4 - 1, 5);
  });

  it('does not act when the predicted gain is under 5 %', () => {
    const r = batch(makeWindow({ gpus: [gpu({ utilizationRatio: 0.97 })] }));
    expect(r.proposal).toBeUndefined();
    expect(r.exhausted).toBe(true);
  });

  it('explores by doubling with no readings at all', () => {
    expect(batch(makeWindow()).proposal?.config.batch_size).toBe(128);
  });

  it('stops at the largest size predicted to fit, with the margin', () => {
    const w = underused({ steps: makeSteps({ n: 40, memPeakBytes: 60e9 }) });
    const r = batch(w);
    const expected = largestFitting(memoryModel([{ batch: 64, memBytes: 60e9 } as never]), 80e9);
    expect(expected).toBe(Math.floor((80e9 * 0.95) / (60e9 / 64)));
    expect(r.proposal?.config.batch_size).toBe(expected);
  });

  it('fits memory a + c·batch over two sizes', () => {
    const m = memoryModel([{ batch: 32, memBytes: 10e9 }, { batch: 64, memBytes: 14e9 }] as never)!;
    expect(m.a).toBeCloseTo(6e9, -3);
    expect(m.c).toBeCloseTo(0.125e9, -3);
  });

  it('bisects below an OOM size and never proposes it again', () => {
    const w = underused({ config: { ...BASE_CONFIG, batch_size: 96 }, oomBatchSizes: [128] });
    const r = batch(w);
    expect(r.proposal?.config.batch_size).toBe(112);
  });

  it('backs off after an OOM to the largest known-good size below it', () => {
    const grow = record({
      id: 4, configVersion: 3,
      configBefore: { ...BASE_CONFIG, batch_size: 64 }, configAfter: { ...BASE_CONFIG, batch_size: 128 },
      evidence: { before_batch_size: 64, before_samples_per_second: 600, before_compute_seconds: 0.1, before_step_seconds: 0.1 },
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
    const w = underused({ tune: t, config: { ...BASE_CONFIG, batch_size: 32, grad_accum_steps: 8 } });
    const p = batch(w).proposal!;
    expect(p.config).toMatchObject({ batch_size: 64, grad_accum_steps: 4, learning_rate: BASE_CONFIG.learning_rate });
  });

  it('shrinks for goodput when the batch is far above the gradient noise scale', () => {
    // |G|² = 1, tr(Σ) = 8 → B_noise = 8; at batch 512 half the batch is nearly as good per step.
    const steps = makeSteps({ n: 40, samples: 512, gradSqNorm: 1 + 8 / 512, gradSqNormSmall: 1 + 8 / 256 });
    const w = makeWindow({ steps, config: { ...BASE_CONFIG, batch_size: 512 }, gpus: [gpu({ utilizationRatio: 0.99 })] });
    const m = measure(w, 1)!;
    const r = goodputShrink({ w, m, cls: classify(w, { measurement: m }), points: [], capacity: 80e9, noise: noiseScale(m), settings: DEFAULT_SETTINGS });
    expect(r.proposal?.config.batch_size).toBe(256);
  });
});

describe('learning-rate policy', () => {
  it.each([
    ['sgd', 'auto', 'linear', 0.2],
    ['lars', 'auto', 'linear', 0.2],
    ['adam', 'auto', 'sqrt', 0.1 * Math.SQRT2],
    ['adamw', 'auto', 'sqrt', 0.1 * Math.SQRT2],
    ['other', 'auto', 'none', 0.1],
    ['adam', 'linear', 'linear', 0.2],
    ['sgd', 'none', 'none', 0.1],
  ] as const)('%s with lr_scaling %s scales by %s', (optimizer, lr_scaling, rule, lr) => {
    const t: TuneSettings = { ...BASE_TUNE, optimizer, lr_scaling };
    expect(scalingRule(t)).toBe(rule);
    const c = withBatchSize({ ...BASE_CONFIG, learning_rate: 0.1 }, 128, t).config;
    expect(c.learning_rate).toBeCloseTo(lr, 12);
    expect(c.batch_size).toBe(128);
  });

  it('ramps a larger learning rate in; applies a smaller one at once', () => {
    expect(withBatchSize({ ...BASE_CONFIG, learning_rate: 0.1 }, 128, BASE_TUNE).config.lr_warmup_steps).toBe(LR_RAMP_STEPS);
    expect(withBatchSize({ ...BASE_CONFIG, learning_rate: 0.1 }, 32, BASE_TUNE).config.lr_warmup_steps).toBe(0);
  });

  it('leaves the learning rate alone when it is not a tuned knob', () => {
    const t: TuneSettings = { ...BASE_TUNE, knobs: ['batch_size'] };
    expect(withBatchSize({ ...BASE_CONFIG, learning_rate: 0.1 }, 128, t).config.learning_rate).toBe(0.1);
  });

  it('clamps to the learning-rate bounds', () => {
    const t: TuneSettings = { ...BASE_TUNE, optimizer: 'sgd', bounds: { ...BASE_TUNE.bounds, learning_rate: { min: 0.01, max: 0.15 } } };
    const r = withBatchSize({ ...BASE_CONFIG, learning_rate: 0.1 }, 128, t);
    expect(r.config.learning_rate).toBe(0.15);
    expect(r.lrRule).toMatch(/clamped/);
  });
});

describe('goodput', () => {
  it('estimates the gradient noise scale (McCandlish et al. 2018, A.1)', () => {
    const m = measure(makeWindow({ steps: makeSteps({ n: 40, samples: 64, gradSqNorm: 1 + 100 / 64, gradSqNormSmall: 1 + 100 / 32 }) }), 1)!;
    const n = noiseScale(m)!;
    expect(n.bNoise).toBeCloseTo(100, 6);
    expect(n.gradSq).toBeCloseTo(1, 6);
  });

  it('has Pollux efficiency (φ + M0)/(φ + M)', () => {
    expect(efficiency(100, 100, 100)).toBe(1);
    expect(efficiency(100, 100, 300)).toBe(0.5);
  });

  it('is absent without both norms', () => {
    expect(noiseScale(measure(makeWindow(), 1)!)).toBeNull();
  });
});

describe('budgets', () => {
  it.each([
    ['max 100000', null],
    ['200000 100000', 2],
    ['150000 100000\n', 1.5],
    ['garbage', null],
  ])('cgroup v2 cpu.max %j → %s cores', (text, cores) => {
    expect(parseCpuMax(text)).toBe(cores);
  });

  it('reads cgroup v1 quotas', () => {
    expect(parseCfsQuota('-1', '100000')).toBeNull();
    expect(parseCfsQuota('400000', '100000')).toBe(4);
  });

  it('takes the smaller of affinity and quota', () => {
    expect(cpuBudgetOf(8, 2.5).cores).toBe(2.5);
    expect(cpuBudgetOf(4, null).cores).toBe(4);
    expect(cpuBudgetOf(4, 16).cores).toBe(4);
  });
});
