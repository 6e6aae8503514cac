// A fixed sidecar state for the /metrics golden test and the metrics
// benchmark: the 8-GPU capture plus runs fed with deterministic step reports.
//
// The GPUs are the capture test/fixtures/nvidia-smi/datakit-gtx-8card.xml
// (`nvidia-smi -q -x`, driver 460.73.01, CUDA 11.2, eight Tesla V100S-PCIE-32GB,
// GPUs 3 and 6 with sw_power_cap active) read through the collectors' own
// parser, so the golden file covers capture → parser → /metrics. Its compute
// processes (pid 37305, "python", on every GPU) are run 0's GPU memory. Host
// numbers have no capture behind them: a plausible 32-core, 256 GiB host,
// chosen by hand. V100S has no GPM; GPU 0 carries the GPM activity of the
// documented dmon format (test/fixtures/nvidia-smi/gpm/, read through the GPM
// parser) so every family has a series, and GPUs 1–7 show it absent. Run 0's
// energy is its GPUs' power held over its step time.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { GpuInventory, GpuReading, ProcessTreeReading, Snapshot } from '../../collectors/readings.js';
import { parseNvidiaSmiXml, type NvidiaSmiXml } from '../../collectors/gpu-xml.js';
import { parseGpmOutput } from '../../collectors/gpu-gpm.js';
import { runPower } from '../../server/runs/energy.js';
import type { MetricsSource, RunMetricsView } from '../../server/metrics/registry.js';
import type { StepPoint } from '../../domain/steps.js';
import { REPO_ROOT } from '../lib/sidecar-process.js';

const GiB = 1024 * 1024 * 1024;
export const FIXTURE_XML = join(REPO_ROOT, 'test/fixtures/nvidia-smi/datakit-gtx-8card.xml');
export const FIXTURE_GPM = join(REPO_ROOT, 'test/fixtures/nvidia-smi/gpm/dmon-gpm-documented.txt');

let parsed: NvidiaSmiXml | undefined;
function capture(): NvidiaSmiXml {
  return (parsed ??= parseNvidiaSmiXml(readFileSync(FIXTURE_XML, 'utf8')));
}

/** Unix time of the fixed state: 2025-11-28T03:20:00Z. */
export const FIXED_TS = 1764300000;

export function fixtureGpus(): GpuReading[] {
  const gpus = structuredClone(capture().readings);
  const gpm = parseGpmOutput(readFileSync(FIXTURE_GPM, 'utf8')).filter((r) => r.index === 0).at(-1);
  if (gpm) gpus[0].activity = gpm.activity;
  return gpus;
}

export function fixtureInventory(): GpuInventory {
  return structuredClone(capture().inventory);
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
  const held: Record<string, number> = {};
  if (gpus) for (const p of capture().inventory.processes) held[String(p.gpuIndex)] = (held[String(p.gpuIndex)] ?? 0) + (p.usedMemoryBytes ?? 0);
  return {
    runId, pid: 37305, alive: true, cpuSecondsTotal: 1234.5, residentMemoryBytes: 6 * GiB,
    children: [], workerCount: 4, gpuMemoryBytes: held,
  };
}

/** One run as the store would list it, after `steps` were reported. */
export function fixtureRun(i: number, steps: StepPoint[]): RunMetricsView {
  const id = `run-${String(i).padStart(4, '0')}`;
  const process = processFor(id, i === 0);
  const power = runPower(capture().readings, process);
  return {
    id, label: i === 0 ? 'resnet50-a' : `job-${i}`, state: 'running',
    config: { batch_size: 64, learning_rate: 0.001, num_workers: 4, grad_accum_steps: 1 },
    stepsTotal: steps.length,
    samplesTotal: steps.reduce((n, s) => n + s.samples, 0),
    recentSteps: steps.slice(-256),
    lastLoss: steps.at(-1)?.loss ?? null,
    bottleneck: 'input_bound',
    process,
    energy: power && {
      joules: power.watts * steps.reduce((t, s) => t + s.durationS, 0),
      samples: steps.reduce((n, s) => n + s.samples * s.worldSize, 0),
    },
    decisions: [{ knob: 'num_workers', action: 'increase', count: 2 }, { knob: 'batch_size', action: 'increase', count: 1 }],
    // The first run is data parallel over two nodes, rank 1 the straggler (DESIGN §9).
    ranks: i === 0 ? [
      { rank: 0, node: 'gpu-node-1', samplesPerSecond: 800, stepSeconds: 0.08, dataWaitRatio: 0.02, lastStep: steps.length - 1, straggler: false },
      { rank: 1, node: 'gpu-node-2', samplesPerSecond: 800, stepSeconds: 0.08, dataWaitRatio: 0.55, lastStep: steps.length - 1, straggler: true },
    ] : [],
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
