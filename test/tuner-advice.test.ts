// Advice fits the job: device (no GPU remedy without a GPU), the knobs still free, what was
// already advised; every `why` formatted for people (tuner/format.ts), never a raw float.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { adviceFor, GPU_ONLY } from '../tuner/advice.js';
import { tune } from '../tuner/decide.js';
import { BOTTLENECK_KINDS, classify, type BottleneckKind, type Classification } from '../tuner/classify.js';
import { classificationEvidence, type ClassificationFigures } from '../tuner/classify-figures.js';
import { BASE_CONFIG, BASE_TUNE, gpu, host, makeSteps, makeWindow, record } from '../tuner/window-fixtures.js';
import type { Advice } from '../domain/decisions.js';
import type { Window } from '../tuner/window.js';

const RAW_FLOAT = /\d\.\d{4,}/;
const codes = (a: Advice[]) => a.map((x) => x.code);

/** Figures as classify gives them, unrounded as a collector would read them. */
const FIGURES: Partial<ClassificationFigures> = {
  dataWaitRatio: 0.5312345, hostCpuUtilizationRatio: 0.949748743718593, hostCpuIowaitRatio: 0.1234567,
  processCpuCores: 1.93939393, cpuBudgetCores: 2, hostMemoryAvailableRatio: 0.0412345, hostSwapUsedBytes: 123456789,
  gpuMemoryRatio: 0.9534567, gpuUtilizationRatio: 0.3141592, gpuThrottleReasons: ['hw_thermal_slowdown', 'sw_power_cap'],
};
/** A verdict with the given figures; every figure not given unknown. */
const cls = (bottleneck: BottleneckKind, over: Partial<ClassificationFigures> = FIGURES): Classification => {
  const figures: ClassificationFigures = {
    configVersion: 1, appliedVersion: 1, steadySteps: 60, stepSeconds: null, dataWaitRatio: null, samplesPerSecond: null, relNoise: null,
    gpuUtilizationRatio: null, gpuMemoryRatio: null, gpuThrottleReasons: [], hostCpuUtilizationRatio: null, hostCpuIowaitRatio: null,
    hostMemoryAvailableRatio: null, hostSwapUsedBytes: null, processCpuCores: null, workerBusyRatio: null, cpuBudgetCores: null,
    cpuBudgetSource: null, noise: null, gpm: {}, cuda: {}, ...over,
  };
  return { bottleneck, why: 'test', figures, evidence: classificationEvidence(figures, 'test') };
};

const cpuWindow = (over: Partial<Window> = {}) => makeWindow({ host: host(), gpus: null, ...over });
const gpuWindow = (over: Partial<Window> = {}) => makeWindow({ host: host(), gpus: [gpu()], ...over });

describe('advice', () => {
  it('gives a CPU-only job no GPU remedy, whatever the bottleneck', () => {
    for (const kind of BOTTLENECK_KINDS) {
      const all = [
        ...adviceFor(cls(kind), { workersExhausted: true, batchExhausted: true, doesNotFitAtMinBatch: true }, cpuWindow()),
        ...adviceFor(cls(kind, { dataWaitRatio: 0.5 }), { workersExhausted: true, batchExhausted: true }),
      ];
      expect(codes(all).filter((c) => GPU_ONLY.has(c)), kind).toEqual([]);
    }
    expect(codes(adviceFor(cls('input_bound'), {}, cpuWindow()))).toEqual(['cache_dataset']);
    expect(codes(adviceFor(cls('compute_bound'), {}, cpuWindow()))).toEqual(['data_parallelism']);
  });

  it('gives a GPU job its GPU remedies', () => {
    expect(codes(adviceFor(cls('input_bound'), {}, gpuWindow()))).toEqual(['gpu_preprocessing', 'cache_dataset', 'pin_memory']);
    expect(codes(adviceFor(cls('gpu_throttled'), {}, gpuWindow()))).toEqual(['cooling', 'power_limit', 'mixed_precision']);
    // Without the window, GPU figures in the verdict say there is a GPU.
    expect(codes(adviceFor(cls('input_bound')))).toContain('pin_memory');
  });

  it('drops a remedy an earlier decision gave, unless asked for the full current list', () => {
    const earlier = record({
      id: 3, knob: 'none', action: 'advise', configBefore: BASE_CONFIG, configAfter: BASE_CONFIG,
      advice: adviceFor(cls('input_bound'), { workersExhausted: true }, cpuWindow()),
    });
    expect(codes(earlier.advice)).toEqual(['more_cpu', 'cache_dataset']);
    const w = cpuWindow({ decisions: [earlier] });
    // cpu_saturated after input_bound: "more CPU cores" and caching were said already.
    expect(adviceFor(cls('cpu_saturated'), { workersExhausted: true }, w)).toEqual([]);
    expect(codes(adviceFor(cls('cpu_saturated'), { includeAdvised: true }, w))).toEqual(['more_cpu', 'cache_dataset']);
  });

  it('leaves to the tuner what a knob it turns would do, and names the knobs it does not turn', () => {
    expect(codes(adviceFor(cls('host_memory_pressure'), {}, gpuWindow()))).toEqual(['shared_dataset_memory']);
    expect(codes(adviceFor(cls('host_memory_pressure'), { workersExhausted: true }, gpuWindow()))).toEqual(['fewer_workers', 'shared_dataset_memory']);
    const off = gpuWindow({ tune: { ...BASE_TUNE, mode: 'off' } });
    expect(codes(adviceFor(cls('host_memory_pressure'), {}, off))).toEqual(['fewer_workers', 'shared_dataset_memory']);
    expect(codes(adviceFor(cls('input_bound'), { workersExhausted: true }, cpuWindow({ tune: { ...BASE_TUNE, knobs: ['batch_size'] } }))))
      .toEqual(['more_workers', 'more_cpu', 'cache_dataset']);
    expect(codes(adviceFor(cls('gpu_underutilized'), { batchExhausted: true }, gpuWindow({ tune: { ...BASE_TUNE, knobs: [] } }))))
      .toEqual(['larger_batch', 'overlap_host_work']);
    expect(codes(adviceFor(cls('gpu_underutilized'), { batchExhausted: true }, gpuWindow()))).toEqual(['cuda_graphs', 'overlap_host_work']);
  });

  it('gives each remedy once, even when two bottlenecks share it', () => {
    const a = adviceFor(cls('gpu_throttled'), { doesNotFitAtMinBatch: true }, gpuWindow());
    expect(codes(a)).toEqual([...new Set(codes(a))]);
    expect(codes(a).filter((c) => c === 'mixed_precision')).toHaveLength(1);
  });

  it('writes every why with formatted figures, never a raw float', () => {
    const all = BOTTLENECK_KINDS.flatMap((k) => [
      ...adviceFor(cls(k), { workersExhausted: true, batchExhausted: true, doesNotFitAtMinBatch: true }, gpuWindow({ tune: { ...BASE_TUNE, knobs: [] } })),
      ...adviceFor(cls(k), { workersExhausted: true, batchExhausted: true }, gpuWindow()),
    ]);
    expect(all.length).toBeGreaterThan(15);
    for (const a of all) expect(a.why, a.code).not.toMatch(RAW_FLOAT);
    const why = (kind: BottleneckKind, code: string) => adviceFor(cls(kind), { workersExhausted: true }, gpuWindow()).find((a) => a.code === code)?.why;
    expect(why('cpu_saturated', 'more_cpu')).toContain('53 % of each step waits for data and the CPU is saturated (host CPU 95 % busy, the job uses 1.9 cores, budget 2 cores)');
    expect(why('io_bound', 'faster_storage')).toContain('12 % in iowait');
    expect(why('gpu_memory_pressure', 'mixed_precision')).toContain('95 % of capacity');
    expect(adviceFor(cls('host_memory_pressure'), { workersExhausted: true }, gpuWindow())[0].why).toContain('Host memory available 4.1 % with 123 MB of swap in use');
  });

  it('advises from a classified window as the tuner sees it', () => {
    const w = cpuWindow({ steps: makeSteps({ n: 40, durationS: 0.1, dataWaitS: 0.06 }), host: host({ cpuUtilizationRatio: 0.97, cpuCount: 2 }) });
    const c = classify(w);
    expect(c.bottleneck).toBe('cpu_saturated');
    const a = adviceFor(c, {}, w);
    expect(codes(a)).toEqual(['more_cpu', 'cache_dataset']);
    expect(a[0].why).toMatch(/^60 % of each step waits for data and the CPU is saturated \(host CPU 97 % busy, budget 2 cores\)/);
  });
});

// DESIGN §11, acceptance: the replayed window test/fixtures/replay/tensor-idle-window.json (a busy GPU
// whose GPM counters, from the documented dmon format, show tensor cores 1 % and FP32 math 72 %).
describe('advice from GPM activity', () => {
  const recorded = JSON.parse(readFileSync(new URL('./fixtures/replay/tensor-idle-window.json', import.meta.url), 'utf8')) as { window: Window };

  it('a busy GPU with idle tensor cores doing FP32: mixed precision and TF32 advised, with the figures', () => {
    const r = tune(recorded.window, { cpuBudget: { cores: 16, source: 'recorded' } });
    expect(r.status.bottleneck).toBe('tensor_cores_idle');
    const mp = r.status.advice.find((a) => a.code === 'mixed_precision');
    expect(mp?.why).toContain('tensor cores only 1 %');
    expect(mp?.why).toContain('FP32 math 72 %');
    expect(mp?.why).toContain('busy 100 %');
    expect(codes(r.status.advice)).toEqual(['mixed_precision', 'tf32']);
    expect(codes(r.decision?.advice ?? [])).toEqual(['mixed_precision', 'tf32']);
  });

  it('the same steps from a CPU-only job: no GPU advice', () => {
    const cpu: Window = { ...recorded.window, gpus: null, process: { ...recorded.window.process!, gpuMemoryBytes: {} } };
    const r = tune(cpu, { cpuBudget: { cores: 16, source: 'recorded' } });
    expect(r.status.bottleneck).toBe('compute_bound');
    expect(codes(r.status.advice).filter((c) => GPU_ONLY.has(c))).toEqual([]);
    // Even told the verdict outright, a job without a GPU gets no GPU remedy.
    expect(codes(adviceFor(cls('tensor_cores_idle', { gpm: { tensorActiveRatio: 0.01 } }), {}, cpu))).toEqual([]);
  });
});

// Fragmentation (docs/gpu.md): torch.cuda.memory_stats() on the steps, as the Python client sends them.
describe('expandable_segments advice', () => {
  const GiB = 1024 ** 3;
  const withCuda = (cuda: NonNullable<Window['steps'][number]['cuda']>, over: Parameters<typeof makeSteps>[0] = { n: 60 }) => {
    const steps = makeSteps(over);
    steps[steps.length - 5] = { ...steps[steps.length - 5], cuda };
    return steps;
  };
  // torchtune's figures (meta-pytorch/torchtune#1185): peak reserved 16.4 GiB against 10.8 GiB allocated.
  const fragmented = { reservedBytes: 12 * GiB, allocatedBytes: 9 * GiB, reservedPeakBytes: 16.4 * GiB, allocatedPeakBytes: 10.8 * GiB, allocRetries: 3, ooms: 0 };
  const pressed = { n: 60, memPeakBytes: 75e9 }; // 94 % of the fixture GPU's 80 GB

  it('advised under memory pressure when reserved ≫ allocated, with the figures', () => {
    const w = gpuWindow({ steps: withCuda(fragmented, pressed) });
    const c = classify(w);
    expect(c.bottleneck).toBe('gpu_memory_pressure');
    expect(c.evidence).toMatchObject({ cuda_reserved_bytes: 16.4 * GiB, cuda_allocated_bytes: 10.8 * GiB, cuda_alloc_retries: 3 });
    const a = adviceFor(c, {}, w).find((x) => x.code === 'expandable_segments');
    expect(a?.why).toContain('PyTorch reserves 17.6 GB but tensors hold 11.6 GB at the peak (×1.52)'); // fmtBytes: decimal units
    expect(a?.why).toContain('device memory is nearly full, 3 cudaMalloc retries');
    expect(a?.why).toContain('PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True');
  });

  it('advised after an OOM even without the pressure verdict; not without OOM, retries or pressure', () => {
    const calm = { ...fragmented, allocRetries: 0 };
    expect(codes(adviceFor(classify(gpuWindow({ steps: withCuda(calm) })), {}, gpuWindow({ steps: withCuda(calm) })))).not.toContain('expandable_segments');
    const oomed = gpuWindow({ steps: withCuda({ ...calm, ooms: 1 }) });
    expect(codes(adviceFor(classify(oomed), {}, oomed))).toContain('expandable_segments');
  });

  it('not advised when reserved is close to allocated, nor to a job without a GPU', () => {
    const tight = gpuWindow({ steps: withCuda({ ...fragmented, reservedPeakBytes: 11.5 * GiB }, pressed) });
    expect(codes(adviceFor(classify(tight), {}, tight))).not.toContain('expandable_segments');
    const cpu = cpuWindow({ steps: withCuda(fragmented, pressed) });
    expect(codes(adviceFor(classify(cpu), {}, cpu))).not.toContain('expandable_segments');
  });
});
