// A fixed sidecar state for the /metrics golden test and the metrics
// benchmark: the 8-GPU capture plus runs fed with deterministic step reports.
//
// GPU numbers are read off /work/shared/fixtures/nvidia-smi/datakit-gtx-8card.xml
// (nvidia-smi -q -x, driver 460.73.01, CUDA 11.2, eight Tesla V100S-PCIE-32GB),
// one row per <gpu>: minor_number, uuid, utilization/gpu_util, utilization/memory_util,
// fb_memory_usage/used and /total (MiB), power_readings/power_draw and /power_limit,
// temperature/gpu_temp, clocks/sm_clock (MHz), and the clocks_throttle_reasons that
// read "Active". The per-GPU process memory is the <processes> entry of pid 37305
// ("python") on each GPU. Host numbers have no capture behind them: they are a
// plausible 32-core, 256 GiB host, chosen by hand.
import type { GpuInventory, GpuReading, ProcessTreeReading, Snapshot } from '../../collectors/readings.js';
import type { MetricsSource, RunMetricsView } from '../../server/metrics.js';
import type { StepPoint } from '../../tuner/window.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const MHz = 1e6;

// [index, uuid, gpu_util %, memory_util %, fb used MiB, power W, temp C, sm MHz, active reasons, pid 37305 MiB]
const ROWS: Array<[number, string, number, number, number, number, number, number, string[], number]> = [
  [0, 'GPU-76098dc1-d3bc-9a1b-7ea6-f7b48837829e', 97, 52, 31689, 232.8, 66, 1410, [], 31683],
  [1, 'GPU-bbf7a241-bf9a-eb90-b2fb-d213294faf48', 75, 41, 29545, 152.03, 58, 1432, [], 29539],
  [2, 'GPU-8f75e71c-23dd-a060-d997-4caf592954db', 80, 42, 29539, 67.57, 57, 1590, [], 29533],
  [3, 'GPU-3181eb56-505c-8214-ba05-c132f68f89b8', 23, 12, 32099, 198.41, 61, 1432, ['sw_power_cap'], 32093],
  [4, 'GPU-2aa87d54-d4ff-2900-812b-1a4b7e119583', 98, 55, 29517, 117.99, 59, 1342, [], 29511],
  [5, 'GPU-39c3a168-9034-0b5a-223a-1042f30a9242', 98, 50, 32141, 85.8, 64, 1590, [], 32135],
  [6, 'GPU-d2446f91-171e-1b54-515d-9d9b03484ddf', 91, 22, 32157, 68.14, 61, 1597, ['sw_power_cap'], 32151],
  [7, 'GPU-1d955959-c95b-4f40-2cac-100d3006ffe2', 99, 4, 29501, 61.47, 57, 1575, [], 29495],
];
const NAME = 'Tesla V100S-PCIE-32GB';
const FB_TOTAL_MIB = 32510;
const POWER_LIMIT_W = 250;

/** Unix time of the fixed state: 2025-11-28T03:20:00Z. */
export const FIXED_TS = 1764300000;

export function fixtureGpus(): GpuReading[] {
  return ROWS.map(([index, uuid, util, memUtil, used, power, temp, sm, reasons]) => ({
    index, uuid, name: NAME,
    utilizationRatio: util / 100,
    memoryUtilizationRatio: memUtil / 100,
    memoryUsedBytes: used * MiB,
    memoryTotalBytes: FB_TOTAL_MIB * MiB,
    powerDrawWatts: power,
    powerLimitWatts: POWER_LIMIT_W,
    temperatureCelsius: temp,
    smClockHertz: sm * MHz,
    clockEventReasons: reasons,
  }));
}

export function fixtureInventory(): GpuInventory {
  return {
    driverVersion: '460.73.01',
    cudaVersion: '11.2',
    gpus: ROWS.map(([index, uuid]) => ({ index, uuid, name: NAME, memoryTotalBytes: FB_TOTAL_MIB * MiB, migMode: false, migDevices: [] })),
    processes: ROWS.map(([index, uuid, , , , , , , , mib]) => ({ gpuIndex: index, gpuUuid: uuid, pid: 37305, processName: 'python', usedMemoryBytes: mib * MiB })),
  };
}

/** `count` steps from `first`, a 0.1 s cadence with a repeating pattern of durations and waits. */
export function fixtureSteps(first: number, count: number, startTs = FIXED_TS - 30): StepPoint[] {
  const steps: StepPoint[] = [];
  let ts = startTs;
  for (let i = 0; i < count; i++) {
    const durationS = 0.08 + (i % 5) * 0.01; // 0.08 … 0.12 s
    ts += durationS;
    steps.push({
      step: first + i, ts: Math.round(ts * 1000) / 1000, durationS,
      dataWaitS: (i % 4) * 0.01, samples: 64, loss: 2.5 - (first + i) * 0.001,
      memPeakBytes: null, gradSqNorm: null, gradSqNormSmall: null, rank: 0, worldSize: 1, configVersion: 1,
    });
  }
  return steps;
}

function processFor(runId: string, gpus: boolean): ProcessTreeReading {
  return {
    runId, pid: 37305, alive: true, cpuSecondsTotal: 1234.5, residentMemoryBytes: 6 * GiB,
    children: [], workerCount: 4,
    gpuMemoryBytes: gpus ? Object.fromEntries(ROWS.map((r) => [String(r[0]), r[9] * MiB])) : {},
  };
}

/** One run as the store would list it, after `steps` were reported. */
export function fixtureRun(i: number, steps: StepPoint[]): RunMetricsView {
  const id = `run-${String(i).padStart(4, '0')}`;
  return {
    id, label: i === 0 ? 'resnet50-a' : `job-${i}`, state: 'running',
    config: { batch_size: 64, learning_rate: 0.001, num_workers: 4, grad_accum_steps: 1 },
    stepsTotal: steps.length,
    samplesTotal: steps.reduce((n, s) => n + s.samples, 0),
    recentSteps: steps.slice(-256),
    lastLoss: steps.at(-1)?.loss ?? null,
    bottleneck: 'input_bound',
    process: processFor(id, i === 0),
    decisions: [{ knob: 'num_workers', action: 'increase', count: 2 }, { knob: 'batch_size', action: 'increase', count: 1 }],
  };
}

export function fixtureSnapshot(): Snapshot {
  return {
    ts: FIXED_TS,
    host: {
      ts: FIXED_TS, cpuUtilizationRatio: 0.42, cpuIowaitRatio: 0.03, cpuCount: 32,
      memoryTotalBytes: 256 * GiB, memoryAvailableBytes: 180 * GiB, swapUsedBytes: 0,
      diskReadBytesTotal: 5e11, diskWrittenBytesTotal: 2e11, networkReceiveBytesTotal: 9e10, networkTransmitBytesTotal: 4e10,
    },
    gpus: fixtureGpus(),
    processes: [],
    health: [
      { name: 'host', up: true, lastError: null, lastDurationSeconds: 0.002, errorsTotal: 0, lastSuccessTs: FIXED_TS },
      { name: 'process', up: true, lastError: null, lastDurationSeconds: 0.004, errorsTotal: 0, lastSuccessTs: FIXED_TS },
      { name: 'gpu', up: true, lastError: null, lastDurationSeconds: 0.031, errorsTotal: 1, lastSuccessTs: FIXED_TS },
    ],
  };
}

/** A MetricsSource over the fixed state with `runs` runs of `stepsPerRun` steps each; run 0 holds every GPU. */
export function fixtureSource(runs = 1, stepsPerRun = 300): { source: MetricsSource; views: RunMetricsView[]; steps: StepPoint[][] } {
  const steps = Array.from({ length: runs }, () => fixtureSteps(1, stepsPerRun));
  const views = steps.map((s, i) => fixtureRun(i, s));
  const snapshot = fixtureSnapshot();
  const inventory = fixtureInventory();
  return { source: { snapshot: () => snapshot, gpuInventory: () => inventory, runs: () => views }, views, steps };
}
