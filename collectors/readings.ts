// The shapes every collector hands to the sampler, and the sampler to the store.
// Base units only: bytes, seconds, ratios 0–1, hertz, watts, celsius.
// A field is null when the source did not report it (N/A, [Not Supported], …).

export type CollectorName = 'host' | 'process' | 'gpu';

export interface HostReading {
  ts: number; // unix seconds
  cpuUtilizationRatio: number | null; // busy share of all cores since the previous reading
  cpuIowaitRatio: number | null;
  cpuCount: number;
  memoryTotalBytes: number;
  memoryAvailableBytes: number;
  swapUsedBytes: number;
  diskReadBytesTotal: number; // counters since boot
  diskWrittenBytesTotal: number;
  networkReceiveBytesTotal: number;
  networkTransmitBytesTotal: number;
}

export interface HostInventory {
  cpuModel: string;
  cpuCores: number;
  memoryTotalBytes: number;
  os: string;
  hostname: string;
}

export interface GpuReading {
  index: number;
  uuid: string;
  name: string;
  utilizationRatio: number | null;
  memoryUtilizationRatio: number | null;
  memoryUsedBytes: number | null;
  memoryTotalBytes: number | null;
  powerDrawWatts: number | null;
  powerLimitWatts: number | null;
  temperatureCelsius: number | null;
  smClockHertz: number | null;
  /** Active clock-event (throttle) reasons, e.g. sw_power_cap, hw_slowdown, sw_thermal_slowdown. */
  clockEventReasons: string[];
  /** GPM activity (collectors/gpu-gpm.ts); absent or null where the GPU or driver has no GPM. */
  activity?: GpuActivity;
}

/**
 * What `utilization.gpu` hides (DESIGN §11): NVML's GPM counters, ratios 0–1 over the last
 * dmon interval. A field is absent or null when the GPU has no GPM (before Hopper) or dmon
 * could not read it; never 0 for "unknown".
 */
export interface GpuActivity {
  /** Share of SMs busy. */
  smActiveRatio?: number | null;
  /** Active warps as a share of the theoretical maximum. */
  smOccupancyRatio?: number | null;
  /** Share of time the SMs ran any tensor-core operation. */
  tensorActiveRatio?: number | null;
  /** DRAM bandwidth used as a share of the maximum. */
  dramActiveRatio?: number | null;
  /** Share of time the SMs ran non-tensor FP32 math. */
  fp32ActiveRatio?: number | null;
}

export interface GpuProcess {
  gpuIndex: number;
  gpuUuid: string;
  pid: number;
  processName: string;
  usedMemoryBytes: number | null;
}

export interface GpuInventory {
  driverVersion: string | null;
  cudaVersion: string | null;
  gpus: Array<{
    index: number;
    uuid: string;
    name: string;
    memoryTotalBytes: number | null;
    migMode: boolean;
    migDevices: Array<{ index: number; gpuInstanceId: number | null; computeInstanceId: number | null; memoryTotalBytes: number | null }>;
  }>;
  processes: GpuProcess[];
}

export interface ProcessTreeReading {
  runId: string;
  pid: number;
  alive: boolean;
  cpuSecondsTotal: number; // user+system of every live process in the tree
  residentMemoryBytes: number; // RSS summed over the tree
  /** Live descendants; `ageS`: seconds since the process started, where /proc/uptime was read. */
  children: Array<{ pid: number; name: string; cpuSecondsTotal: number; residentMemoryBytes: number; ageS?: number }>;
  workerCount: number; // live descendants (data-loader workers and friends)
  /** GPU memory held by the tree's processes, by GPU index. */
  gpuMemoryBytes: Record<string, number>;
}

export interface CollectorHealth {
  name: CollectorName;
  up: boolean;
  lastError: string | null;
  lastDurationSeconds: number | null;
  errorsTotal: number;
  lastSuccessTs: number | null;
}

/** One tick of the sampler: everything read at (about) one time. */
export interface Snapshot {
  ts: number;
  host: HostReading | null;
  gpus: GpuReading[] | null;
  processes: ProcessTreeReading[];
  health: CollectorHealth[];
}
