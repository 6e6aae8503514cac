// The figures a bottleneck verdict rests on (classify.ts), typed: the policies, the search and the
// advice read these fields; the evidence map the API, the page and the report show is rendered
// from them here, in one place, under the keys it has always had.
import type { NoiseEvidence } from './noise-words.js';

export type Evidence = Record<string, number | string | boolean | null>;

/** GPM counters of the run's GPUs (DESIGN §11), each present only where the GPUs have it. */
export interface GpmFigures {
  smActiveRatio?: number;
  tensorActiveRatio?: number;
  fp32ActiveRatio?: number;
}

/** The caching allocator's figures the client sent (torch.cuda.memory_stats()), each where given. */
export interface CudaFigures {
  reservedBytes?: number;
  allocatedBytes?: number;
  allocRetries?: number;
  ooms?: number;
}

export interface ClassificationFigures {
  configVersion: number;
  appliedVersion: number;
  steadySteps: number;
  stepSeconds: number | null;
  dataWaitRatio: number | null;
  /** The job's samples/s over step time (Measurement.throughput). */
  samplesPerSecond: number | null;
  relNoise: number | null;
  gpuUtilizationRatio: number | null;
  gpuMemoryRatio: number | null;
  /** nvidia-smi clock-event reasons that throttle, sorted; empty when none. */
  gpuThrottleReasons: string[];
  hostCpuUtilizationRatio: number | null;
  hostCpuIowaitRatio: number | null;
  hostMemoryAvailableRatio: number | null;
  hostSwapUsedBytes: number | null;
  /** CPU cores the job's process tree uses, and one data-loader worker's busy share. */
  processCpuCores: number | null;
  workerBusyRatio: number | null;
  /** The job's CPU budget (its affinity and cgroup quota), else the host's CPU count, and where it was read. */
  cpuBudgetCores: number | null;
  cpuBudgetSource: string | null;
  /** The gradient noise scale, when the steps carry both norms (noise-words.ts). */
  noise: NoiseEvidence | null;
  gpm: GpmFigures;
  cuda: CudaFigures;
}

/** The evidence map of a verdict, in the order it has always been listed; `why` last. */
export function classificationEvidence(f: ClassificationFigures, why: string): Evidence {
  const e: Evidence = {
    config_version: f.configVersion,
    applied_version: f.appliedVersion,
    steady_steps: f.steadySteps,
    step_seconds: f.stepSeconds,
    data_wait_ratio: f.dataWaitRatio,
    samples_per_second: f.samplesPerSecond,
    rel_noise: f.relNoise,
    gpu_utilization_ratio: f.gpuUtilizationRatio,
    gpu_memory_ratio: f.gpuMemoryRatio,
    gpu_throttle_reasons: f.gpuThrottleReasons.length > 0 ? f.gpuThrottleReasons.join(',') : null,
    host_cpu_utilization_ratio: f.hostCpuUtilizationRatio,
    host_cpu_iowait_ratio: f.hostCpuIowaitRatio,
    host_memory_available_ratio: f.hostMemoryAvailableRatio,
    host_swap_used_bytes: f.hostSwapUsedBytes,
    process_cpu_cores: f.processCpuCores,
    worker_busy_ratio: f.workerBusyRatio,
    cpu_budget_cores: f.cpuBudgetCores,
    cpu_budget_source: f.cpuBudgetSource,
    ...(f.noise ?? {}), // b_noise, statistical_efficiency_ratio, noise_scale (words)
  };
  // An evidence key absent means "no GPM" (or no allocator figures), as on /metrics.
  if (f.gpm.smActiveRatio !== undefined) e.gpu_sm_active_ratio = f.gpm.smActiveRatio;
  if (f.gpm.tensorActiveRatio !== undefined) e.gpu_tensor_active_ratio = f.gpm.tensorActiveRatio;
  if (f.gpm.fp32ActiveRatio !== undefined) e.gpu_fp32_active_ratio = f.gpm.fp32ActiveRatio;
  if (f.cuda.reservedBytes !== undefined) e.cuda_reserved_bytes = f.cuda.reservedBytes;
  if (f.cuda.allocatedBytes !== undefined) e.cuda_allocated_bytes = f.cuda.allocatedBytes;
  if (f.cuda.allocRetries !== undefined) e.cuda_alloc_retries = f.cuda.allocRetries;
  if (f.cuda.ooms !== undefined) e.cuda_ooms = f.cuda.ooms;
  e.why = why;
  return e;
}
