// Table tests for classify(): one window per bottleneck kind, plus warm-up and robustness.
import { describe, expect, it } from 'vitest';
import { classify, type BottleneckKind } from '../tuner/classify.js';
import { measure, WARMUP_STEPS } from '../tuner/measure.js';
import { gpu, host, makeSteps, makeWindow } from '../tuner/window-fixtures.js';
import type { Window } from '../tuner/window.js';

const waiting = makeSteps({ n: 60, durationS: 0.1, dataWaitS: 0.03 });

const table: Array<[string, Partial<Window>, BottleneckKind]> = [
  ['a new version not yet applied', { configVersion: 2, appliedVersion: 1 }, 'warming_up'],
  ['too few steps to measure', { steps: makeSteps({ n: 10 }) }, 'warming_up'],
  ['steps wait 30 % for data', { steps: waiting }, 'input_bound'],
  ['waiting and the host in iowait', { steps: waiting, host: host({ cpuIowaitRatio: 0.3 }) }, 'io_bound'],
  ['waiting and the host CPU full', { steps: waiting, host: host({ cpuUtilizationRatio: 0.97 }) }, 'cpu_saturated'],
  ['host memory nearly gone', { host: host({ memoryAvailableBytes: 2e9 }) }, 'host_memory_pressure'],
  ['host memory low with swap in use', { host: host({ memoryAvailableBytes: 5e9, swapUsedBytes: 1e9 }) }, 'host_memory_pressure'],
  ['thermal throttling', { gpus: [gpu({ clockEventReasons: ['hw_thermal_slowdown'] })] }, 'gpu_throttled'],
  ['idle clock reason is not throttling', { gpus: [gpu({ clockEventReasons: ['gpu_idle'] })] }, 'compute_bound'],
  ['step peaks at 94 % of device memory', { steps: makeSteps({ n: 60, memPeakBytes: 75e9 }), gpus: [gpu()] }, 'gpu_memory_pressure'],
  ['GPU busy 30 %', { gpus: [gpu({ utilizationRatio: 0.3 })] }, 'gpu_underutilized'],
  ['GPU busy 95 %, no data wait', { gpus: [gpu()] }, 'compute_bound'],
  ['no readings at all: judged from steps', {}, 'compute_bound'],
];

describe('classify', () => {
  it.each(table)('%s → %s', (_name, over, kind) => {
    const c = classify(makeWindow(over));
    expect(c.bottleneck).toBe(kind);
    expect(typeof c.evidence.why).toBe('string');
  });

  it('carries the numbers behind the verdict', () => {
    const c = classify(makeWindow({ steps: waiting, host: host() }));
    expect(c.evidence.data_wait_ratio).toBeCloseTo(0.3, 5);
    expect(c.evidence.step_seconds).toBeCloseTo(0.1, 5);
    expect(c.evidence.samples_per_second).toBeCloseTo(640, 3);
    expect(c.evidence.host_cpu_utilization_ratio).toBe(0.3);
  });

  it('uses only the GPUs the run holds memory on', () => {
    const w = makeWindow({
      gpus: [gpu({ index: 0, utilizationRatio: 0.2 }), gpu({ index: 1, utilizationRatio: 0.98 })],
      process: { runId: 'run-1', pid: 1, alive: true, cpuSecondsTotal: 0, residentMemoryBytes: 0, children: [], workerCount: 0, gpuMemoryBytes: { '1': 5e9 } },
    });
    expect(classify(w).bottleneck).toBe('compute_bound');
  });

  it('discards the warm-up steps after a config change', () => {
    const old = makeSteps({ n: 40, durationS: 0.2, version: 1 });
    const slow = makeSteps({ n: WARMUP_STEPS, durationS: 2, version: 2, startStep: 41, startTs: old.at(-1)!.ts });
    const steady = makeSteps({ n: 30, durationS: 0.1, version: 2, startStep: 41 + WARMUP_STEPS, startTs: slow.at(-1)!.ts });
    const w = makeWindow({ steps: [...old, ...slow, ...steady], configVersion: 2, appliedVersion: 2 });
    const m = measure(w, 2)!;
    expect(m.steps).toBe(30);
    expect(m.stepS).toBeCloseTo(0.1, 6);
  });

  it('is robust to spikes: a few 10× steps do not move the figures', () => {
    const steps = makeSteps({ n: 80, durationS: 0.1 }).map((s, i) => (i % 25 === 3 ? { ...s, durationS: 1 } : s));
    const m = measure(makeWindow({ steps }), 1)!;
    expect(m.stepS).toBeCloseTo(0.1, 6);
  });

  it('reads step reports from the lowest rank only, and counts all ranks in throughput', () => {
    const r0 = makeSteps({ n: 40 }).map((s) => ({ ...s, worldSize: 4 }));
    const r1 = r0.map((s) => ({ ...s, rank: 1, durationS: 5 }));
    const m = measure(makeWindow({ steps: [...r1, ...r0] }), 1)!;
    expect(m.stepS).toBeCloseTo(0.1, 6);
    expect(m.throughput).toBeCloseTo((64 * 4) / 0.1, 3);
  });
});

// DESIGN §11: what utilisation hides. The GPM figures are those of the documented dmon format
// (test/fixtures/nvidia-smi/gpm/): SMs 94 % active, tensor cores 1 %, FP32 72 %.
describe('classify with GPM activity', () => {
  const gpm = { smActiveRatio: 0.94, smOccupancyRatio: 0.42, tensorActiveRatio: 0.01, dramActiveRatio: 0.36, fp32ActiveRatio: 0.72 };
  const gpmTable: Array<[string, Partial<Window>, BottleneckKind]> = [
    ['busy GPU, tensor cores idle, FP32 math: not healthy', { gpus: [gpu({ activity: gpm })] }, 'tensor_cores_idle'],
    ['busy GPU with tensor cores busy: healthy', { gpus: [gpu({ activity: { ...gpm, tensorActiveRatio: 0.6, fp32ActiveRatio: 0.05 } })] }, 'compute_bound'],
    ['tensor cores idle but no FP32 math either (integer, copies)', { gpus: [gpu({ activity: { ...gpm, fp32ActiveRatio: 0.02 } })] }, 'compute_bound'],
    ['a kernel always runs but on 20 % of SMs', { gpus: [gpu({ activity: { ...gpm, smActiveRatio: 0.2 } })] }, 'gpu_underutilized'],
    ['no GPM (before Hopper): utilisation alone', { gpus: [gpu()] }, 'compute_bound'],
    ['input-bound stays input-bound', { steps: waiting, gpus: [gpu({ activity: gpm })] }, 'input_bound'],
  ];
  it.each(gpmTable)('%s → %s', (_name, over, kind) => {
    expect(classify(makeWindow(over)).bottleneck).toBe(kind);
  });

  it('carries the GPM figures, and leaves them out where the GPU has none', () => {
    const c = classify(makeWindow({ gpus: [gpu({ activity: gpm })] }));
    expect(c.evidence).toMatchObject({ gpu_sm_active_ratio: 0.94, gpu_tensor_active_ratio: 0.01, gpu_fp32_active_ratio: 0.72 });
    expect(c.evidence.why).toBe('GPU busy 95 % of the time but tensor cores active 1 % while FP32 math runs 72 %');
    expect(classify(makeWindow({ gpus: [gpu()] })).evidence).not.toHaveProperty('gpu_tensor_active_ratio');
  });
});

describe('the verdict\'s figures (classify-figures.ts)', () => {
  it('are typed, and the evidence map people and the API read is rendered from them under its keys', () => {
    const c = classify(makeWindow({ steps: waiting, host: host({ cpuIowaitRatio: 0.3, memoryAvailableBytes: 16e9 }), gpus: [gpu({ utilizationRatio: 0.4, clockEventReasons: ['sw_power_cap', 'hw_slowdown'] })] }), { cpuBudget: { cores: 6, source: 'cgroup' } });
    expect(c.bottleneck).toBe('io_bound');
    const f = c.figures;
    expect(f).toMatchObject({ steadySteps: 55, hostCpuIowaitRatio: 0.3, hostMemoryAvailableRatio: 0.25, cpuBudgetCores: 6, cpuBudgetSource: 'cgroup', gpuUtilizationRatio: 0.4, gpuThrottleReasons: ['hw_slowdown', 'sw_power_cap'] });
    expect(f.dataWaitRatio).toBeCloseTo(0.3, 6);
    expect(Object.keys(c.evidence)).toEqual([
      'config_version', 'applied_version', 'steady_steps', 'step_seconds', 'data_wait_ratio', 'samples_per_second', 'rel_noise',
      'gpu_utilization_ratio', 'gpu_memory_ratio', 'gpu_throttle_reasons', 'host_cpu_utilization_ratio', 'host_cpu_iowait_ratio',
      'host_memory_available_ratio', 'host_swap_used_bytes', 'process_cpu_cores', 'worker_busy_ratio', 'cpu_budget_cores',
      'cpu_budget_source', 'why',
    ]);
    expect(c.evidence).toMatchObject({
      steady_steps: f.steadySteps, data_wait_ratio: f.dataWaitRatio, host_cpu_iowait_ratio: 0.3, host_memory_available_ratio: 0.25,
      gpu_throttle_reasons: 'hw_slowdown,sw_power_cap', cpu_budget_cores: 6, cpu_budget_source: 'cgroup', why: c.why,
    });
    expect(c.why).toMatch(/iowait/);
  });
});
