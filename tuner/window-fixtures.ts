// Windows made by hand, for table tests, replay fixtures and examples (a run's real window comes
// from the one window builder, run-window.ts). Defaults describe
// a healthy single-GPU run; every field can be overridden.
import type { GpuReading, HostReading } from '../collectors/readings.js';
import { EXAMPLE_TUNE } from '../domain/tune-defaults.js';
import type { DecisionBasis, DecisionRecord } from '../domain/decisions.js';
import type { MeasuredPoint } from '../domain/measured.js';
import type { RunConfig, TuneSettings } from '../domain/config.js';
import type { StepPoint } from '../domain/steps.js';
import type { Window } from './window.js';

export const BASE_CONFIG: RunConfig = { batch_size: 64, learning_rate: 0.001, num_workers: 4, grad_accum_steps: 1 };

/** The documented example (tune-defaults.ts). */
export const BASE_TUNE: TuneSettings = EXAMPLE_TUNE;

export interface StepSpec {
  n: number;
  version?: number;
  durationS?: number;
  dataWaitS?: number;
  samples?: number;
  loss?: number | null;
  memPeakBytes?: number | null;
  /** Relative jitter applied deterministically (a fixed zig-zag), 0 for identical steps. */
  jitter?: number;
  startStep?: number;
  startTs?: number;
  gradSqNorm?: number | null;
  gradSqNormSmall?: number | null;
  /** Data-parallel steps: the rank reporting them, and how many ranks the job has (0 of 1 by default). */
  rank?: number;
  worldSize?: number;
}

export function makeSteps(spec: StepSpec): StepPoint[] {
  const out: StepPoint[] = [];
  const d = spec.durationS ?? 0.1;
  let ts = spec.startTs ?? 1_764_300_000;
  for (let i = 0; i < spec.n; i++) {
    const j = spec.jitter ? 1 + spec.jitter * (((i * 7919) % 13) / 6 - 1) : 1;
    const dur = d * j;
    ts += dur;
    out.push({
      step: (spec.startStep ?? 1) + i,
      ts,
      durationS: dur,
      dataWaitS: Math.min(dur, (spec.dataWaitS ?? 0) * j),
      samples: spec.samples ?? 64,
      loss: spec.loss === undefined ? 2 : spec.loss,
      memPeakBytes: spec.memPeakBytes ?? null,
      gradSqNorm: spec.gradSqNorm ?? null,
      gradSqNormSmall: spec.gradSqNormSmall ?? null,
      rank: spec.rank ?? 0,
      worldSize: spec.worldSize ?? 1,
      configVersion: spec.version ?? 1,
    });
  }
  return out;
}

export function gpu(over: Partial<GpuReading> = {}): GpuReading {
  return {
    index: 0, uuid: 'GPU-0', name: 'Test GPU', utilizationRatio: 0.95, memoryUtilizationRatio: null,
    memoryUsedBytes: 20e9, memoryTotalBytes: 80e9, powerDrawWatts: null, powerLimitWatts: null,
    temperatureCelsius: null, smClockHertz: null, clockEventReasons: [], ...over,
  };
}

export function host(over: Partial<HostReading> = {}): HostReading {
  return {
    ts: 1_764_300_000, cpuUtilizationRatio: 0.3, cpuIowaitRatio: 0.01, cpuCount: 16,
    memoryTotalBytes: 64e9, memoryAvailableBytes: 40e9, swapUsedBytes: 0,
    diskReadBytesTotal: 0, diskWrittenBytesTotal: 0, networkReceiveBytesTotal: 0, networkTransmitBytesTotal: 0, ...over,
  };
}

export function makeWindow(over: Partial<Window> = {}): Window {
  const steps = over.steps ?? makeSteps({ n: 60 });
  const last = steps.at(-1);
  return {
    runId: 'run-1',
    now: (last?.ts ?? 1_764_300_000) + 1,
    config: BASE_CONFIG,
    configVersion: 1,
    appliedVersion: 1,
    tune: BASE_TUNE,
    steps,
    events: [],
    decisions: [],
    oomBatchSizes: [],
    host: null,
    gpus: null,
    process: null,
    ...over,
  };
}

/** A stored decision, as the store would return it. */
export function record(d: Partial<DecisionRecord> & Pick<DecisionRecord, 'configBefore' | 'configAfter'>): DecisionRecord {
  return {
    id: 1, ts: 1_764_300_000, step: null, knob: 'batch_size', action: 'increase', reason: 'test', evidence: {},
    advice: [], recommendOnly: false, configVersion: 2, outcome: { status: 'pending' }, ...d,
  };
}

/**
 * A decision's measured figures (domain/measured.ts): 64 samples per step at 0.1 s, no data wait, no
 * noise, nothing else known; every field can be overridden.
 */
export function figures(over: Partial<MeasuredPoint> = {}): MeasuredPoint {
  return {
    batchSize: 64, numWorkers: 4, gradAccumSteps: 1, steps: 60, samplesPerSecond: 640, stepSeconds: 0.1, computeSeconds: 0.1,
    dataWaitRatio: 0, relNoise: 0, memPeakBytes: null, loss: null, lossSigma: 0, processCpuCores: null, workerBusyRatio: null, ...over,
  };
}

/** How a move was chosen (domain/decisions.ts): a predicted move by default; every field can be overridden. */
export function basis(over: Partial<DecisionBasis> = {}): DecisionBasis {
  return { bottleneck: null, search: 'predicted', safety: false, predictedGain: null, bNoise: null, jobChangedAt: null, ...over };
}
