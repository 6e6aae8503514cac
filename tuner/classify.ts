// The performance model's first half: what holds the run back now, and the numbers
// that say so. Pure over the window; thresholds are named with their reason and source.
import type { GpuActivity, GpuReading } from '../collectors/readings.js';
import { cpuUse, type CpuBudget } from './budget.js';
import { MIN_MEASURE_STEPS, measure, round, type Measurement } from './measure.js';
import { noiseEvidence } from './noise-words.js';
import { classificationEvidence, type ClassificationFigures, type CudaFigures, type Evidence } from './classify-figures.js';
import { median } from './stats.js';
import type { Window } from './window.js';

/**
 * What can hold a run back (DESIGN §6): `compute_bound` is the healthy state, `warming_up` too few
 * steady steps to say. `tensor_cores_idle` (DESIGN §11, docs/gpu.md): the GPU is busy but its
 * tensor cores idle while FP32 math runs, by NVML's GPM counters — a mixed-precision candidate. /metrics exports each as 0 or 1 per run (trainpilot_run_bottleneck{kind}).
 */
export const BOTTLENECK_KINDS = [
  'input_bound', 'gpu_underutilized', 'gpu_memory_pressure', 'host_memory_pressure',
  'cpu_saturated', 'io_bound', 'gpu_throttled', 'compute_bound', 'warming_up',
  // Last, so the index the Python client's collective carries for the others stays put.
  'tensor_cores_idle',
] as const;
export type BottleneckKind = (typeof BOTTLENECK_KINDS)[number];

export type { Evidence } from './classify-figures.js';

/** A verdict: the bottleneck, why in words, the figures behind it, and the evidence map rendered from them. */
export interface Classification {
  bottleneck: BottleneckKind;
  why: string;
  figures: ClassificationFigures;
  evidence: Evidence;
}

/**
 * Data wait above 5 % of step time means the input pipeline holds the device back:
 * the PyTorch profiler's rule (pytorch/kineto tb_plugin, RunProfileData.analyze:
 * `dataloader_ratio > 0.05` → "set num_workers on DataLoader's construction").
 */
export const DATA_WAIT_RATIO = 0.05;
/** Same source: GPU utilisation below 50 % → "increase batch size" (`_analyze_gpu_metrics`). */
export const GPU_UTIL_LOW = 0.5;
/** Same source: peak device memory above 90 % of capacity → checkpointing or AMP. */
export const GPU_MEMORY_HIGH = 0.9;
/**
 * Host CPU busy at or above 90 % of all cores: no free core for another worker (the
 * main process and its workers compete with whatever else runs). tf.data stops adding
 * parallelism at the CPU budget for the same reason (model.cc, "ram_budget/cpu_budget").
 */
export const CPU_SATURATED_RATIO = 0.9;
/**
 * A tenth of CPU time in iowait while steps wait for data: storage, not decoding,
 * limits the pipeline, and more workers mostly queue on the disk. A heuristic: iowait
 * is per-core time, so 0.1 on 16 cores is one or two cores' worth of blocked readers.
 */
export const IOWAIT_RATIO = 0.1;
/** Host memory: less than 10 % available with swap in use, or under 5 % at all. */
export const HOST_MEM_AVAILABLE_LOW = 0.1;
export const HOST_MEM_AVAILABLE_CRITICAL = 0.05;
/**
 * nvidia-smi clock-event reasons that slow the clocks for power or heat (NVML
 * nvmlClocksEventReasons: SwPowerCap, HwSlowdown, HwThermalSlowdown, SwThermalSlowdown,
 * HwPowerBrakeSlowdown). Idle, application-clock and sync-boost reasons are not throttling.
 */
export const THROTTLE_REASONS = new Set([
  'sw_power_cap', 'hw_slowdown', 'hw_thermal_slowdown', 'sw_thermal_slowdown', 'hw_power_brake_slowdown',
]);

/**
 * Tensor cores busy under a tenth of the time on a GPU that is busy: the matrix math runs on the
 * CUDA cores (FP32). A heuristic: bf16/fp16 training under torch.autocast keeps the tensor pipes
 * busy a large share of step time; NVIDIA's DCGM profiling guide reads "tensor active" the same
 * way (higher is better for deep learning). GPM only (Hopper and newer): without it, no verdict.
 */
export const TENSOR_IDLE_RATIO = 0.1;
/** FP32 pipes busy at least this share of the time: the job does do FP32 math (not integer or I/O work). */
export const FP32_BUSY_RATIO = 0.1;

/** The median of one GPM field over the run's GPUs that report it; null where none does. */
export function activityOf(gpus: readonly GpuReading[], field: keyof GpuActivity): number | null {
  const v = gpus.map((g) => g.activity?.[field]).filter((x): x is number => typeof x === 'number');
  return v.length > 0 ? median(v) : null;
}

/** The GPUs the run uses: those its processes hold memory on, else all given. */
export function runGpus(w: Window): GpuReading[] {
  const gpus = w.gpus ?? [];
  const held = w.process ? Object.entries(w.process.gpuMemoryBytes).filter(([, b]) => b > 0).map(([i]) => Number(i)) : [];
  if (held.length === 0) return gpus;
  const mine = gpus.filter((g) => held.includes(g.index));
  return mine.length > 0 ? mine : gpus;
}

/** Device memory capacity: the smallest of the run's GPUs (the one a batch must fit on). */
export function deviceCapacity(w: Window): number | null {
  const totals = runGpus(w).map((g) => g.memoryTotalBytes).filter((x): x is number => x !== null && x > 0);
  return totals.length > 0 ? Math.min(...totals) : null;
}

/** Peak device memory as a share of capacity: step reports' peak first, else readings. */
export function gpuMemoryRatio(w: Window, m: Measurement | undefined): number | null {
  const cap = deviceCapacity(w);
  if (cap === null) return null;
  const gpus = runGpus(w);
  if (m?.memPeakBytes != null) return m.memPeakBytes / cap;
  const ratios = gpus
    .filter((g) => g.memoryUsedBytes !== null && g.memoryTotalBytes)
    .map((g) => (g.memoryUsedBytes as number) / (g.memoryTotalBytes as number));
  return ratios.length > 0 ? Math.max(...ratios) : null;
}

export function classify(w: Window, opts: { cpuBudget?: CpuBudget | null; measurement?: Measurement } = {}): Classification {
  const m = opts.measurement ?? measure(w, w.appliedVersion);
  const gpus = runGpus(w);
  const utils = gpus.map((g) => g.utilizationRatio).filter((x): x is number => x !== null);
  const gpuUtil = utils.length > 0 ? median(utils) : null;
  const memRatio = gpuMemoryRatio(w, m);
  const throttled = [...new Set(gpus.flatMap((g) => g.clockEventReasons).filter((r) => THROTTLE_REASONS.has(r)))].sort();
  const host = w.host;
  const memAvail = host && host.memoryTotalBytes > 0 ? host.memoryAvailableBytes / host.memoryTotalBytes : null;
  const use = cpuUse(w.processHistory, w.config.num_workers);
  const budgetCores = opts.cpuBudget?.cores ?? host?.cpuCount ?? null;
  const sm = activityOf(gpus, 'smActiveRatio');
  const tensor = activityOf(gpus, 'tensorActiveRatio');
  const fp32 = activityOf(gpus, 'fp32ActiveRatio');
  const figures: ClassificationFigures = {
    configVersion: w.configVersion,
    appliedVersion: w.appliedVersion,
    steadySteps: m?.steps ?? 0,
    stepSeconds: m ? round(m.stepS) : null,
    dataWaitRatio: m ? round(m.waitRatio) : null,
    samplesPerSecond: m ? round(m.throughput) : null, // the job's, over step time (Measurement.throughput)
    relNoise: m ? round(m.relNoise) : null,
    gpuUtilizationRatio: gpuUtil,
    gpuMemoryRatio: memRatio === null ? null : round(memRatio),
    gpuThrottleReasons: throttled,
    hostCpuUtilizationRatio: host?.cpuUtilizationRatio ?? null,
    hostCpuIowaitRatio: host?.cpuIowaitRatio ?? null,
    hostMemoryAvailableRatio: memAvail === null ? null : round(memAvail),
    hostSwapUsedBytes: host?.swapUsedBytes ?? null,
    processCpuCores: use ? round(use.treeCores) : null,
    workerBusyRatio: use?.workerBusyRatio == null ? null : round(use.workerBusyRatio),
    cpuBudgetCores: budgetCores,
    cpuBudgetSource: opts.cpuBudget?.source ?? (host ? 'host CPU count' : null),
    noise: noiseEvidence(m),
    // GPM figures only where the GPUs have them.
    gpm: {
      ...(sm !== null ? { smActiveRatio: round(sm) } : {}),
      ...(tensor !== null ? { tensorActiveRatio: round(tensor) } : {}),
      ...(fp32 !== null ? { fp32ActiveRatio: round(fp32) } : {}),
    },
    cuda: cudaFigures(w),
  };
  const is = (bottleneck: BottleneckKind, why: string): Classification => ({ bottleneck, why, figures, evidence: classificationEvidence(figures, why) });

  if (w.configVersion > w.appliedVersion) return is('warming_up', `config version ${w.configVersion} not yet applied by the job`);
  if (!m || m.steps < MIN_MEASURE_STEPS) return is('warming_up', `${figures.steadySteps} steady steps since the last change; a measurement needs more`);

  if (memAvail !== null && host && (memAvail < HOST_MEM_AVAILABLE_CRITICAL || (memAvail < HOST_MEM_AVAILABLE_LOW && host.swapUsedBytes > 0))) {
    return is('host_memory_pressure', `host memory available ${pct(memAvail)} with ${host.swapUsedBytes} bytes of swap in use`);
  }
  if (m.waitRatio > DATA_WAIT_RATIO) {
    if (host?.cpuIowaitRatio != null && host.cpuIowaitRatio >= IOWAIT_RATIO) {
      return is('io_bound', `steps wait ${pct(m.waitRatio)} for data and the host spends ${pct(host.cpuIowaitRatio)} in iowait`);
    }
    const hostFull = host?.cpuUtilizationRatio != null && host.cpuUtilizationRatio >= CPU_SATURATED_RATIO;
    const budgetFull = use !== null && budgetCores !== null && use.treeCores >= CPU_SATURATED_RATIO * budgetCores;
    if (hostFull || budgetFull) {
      return is('cpu_saturated', hostFull
        ? `steps wait ${pct(m.waitRatio)} for data and the host CPU is ${pct(host?.cpuUtilizationRatio ?? 0)} busy`
        : `steps wait ${pct(m.waitRatio)} for data and the run uses ${round(use?.treeCores ?? 0, 2)} of ${budgetCores} budgeted cores`);
    }
    return is('input_bound', `steps wait ${pct(m.waitRatio)} for data (above ${pct(DATA_WAIT_RATIO)})`);
  }
  if (throttled.length > 0) return is('gpu_throttled', `GPU clocks held down: ${throttled.join(', ')}`);
  if (memRatio !== null && memRatio >= GPU_MEMORY_HIGH) return is('gpu_memory_pressure', `device memory peak at ${pct(memRatio)} of capacity`);
  if (gpuUtil !== null && gpuUtil < GPU_UTIL_LOW) return is('gpu_underutilized', `GPU utilisation ${pct(gpuUtil)} (below ${pct(GPU_UTIL_LOW)})`);
  // What utilisation hides: a kernel runs all the time, but on few SMs (too little parallel work).
  if (gpuUtil !== null && sm !== null && sm < GPU_UTIL_LOW) {
    return is('gpu_underutilized', `a kernel runs ${pct(gpuUtil)} of the time but only ${pct(sm)} of SMs are active (below ${pct(GPU_UTIL_LOW)})`);
  }
  if (gpuUtil !== null && tensor !== null && tensor < TENSOR_IDLE_RATIO && (fp32 === null || fp32 >= FP32_BUSY_RATIO)) {
    return is('tensor_cores_idle', `GPU busy ${pct(gpuUtil)} of the time but tensor cores active ${pct(tensor)}${fp32 !== null ? ` while FP32 math runs ${pct(fp32)}` : ''}`);
  }
  return is('compute_bound', gpuUtil === null
    ? `no data wait; no GPU readings, so the device's share is judged from step reports alone`
    : `no data wait and GPU utilisation ${pct(gpuUtil)}`);
}

/**
 * The caching allocator's figures (torch.cuda.memory_stats()), the newest the client sent: peaks
 * where given (fragmentation matters at the peak), else the current figures.
 */
function cudaFigures(w: Window): CudaFigures {
  const cuda = [...w.steps].reverse().find((s) => s.cuda)?.cuda;
  if (!cuda) return {};
  const reserved = cuda.reservedPeakBytes ?? cuda.reservedBytes;
  const allocated = cuda.allocatedPeakBytes ?? cuda.allocatedBytes;
  return {
    ...(reserved !== null ? { reservedBytes: reserved } : {}),
    ...(allocated !== null ? { allocatedBytes: allocated } : {}),
    ...(cuda.allocRetries !== null ? { allocRetries: cuda.allocRetries } : {}),
    ...(cuda.ooms !== null ? { ooms: cuda.ooms } : {}),
  };
}

function pct(x: number): string {
  return `${Math.round(x * 1000) / 10} %`;
}
