// The simulator's scenarios: one per situation the tuner must handle (issue 5), each a
// job model, a starting config and the tune settings a user would register with.
import type { JobModel } from './simulator.js';
import type { RunConfig, TuneSettings } from '../domain/config.js';
import { BASE_TUNE as TUNE } from './window-fixtures.js';
import { WORLD_SCENARIOS } from './simulator-scenarios-world.js';

/** A simulated job: its model (what the tuner cannot see), where it starts, what it may tune. */
export interface Scenario {
  name: string;
  description: string;
  model: Partial<JobModel>;
  config: RunConfig;
  tune: TuneSettings;
}

const GB = 1e9;

const OWN_SCENARIOS: Scenario[] = [
  {
    name: 'input-bound',
    description: 'one data-loader worker on a 16-core host: steps wait for data most of the time',
    model: { loadCpuPerSampleS: 0.002 },
    config: { batch_size: 128, learning_rate: 0.001, num_workers: 1, grad_accum_steps: 1 },
    tune: TUNE,
  },
  {
    name: 'small-batch',
    description: 'batch 8 on a GPU with room for ~700: per-step overhead dominates, the GPU idles',
    model: { loadCpuPerSampleS: 0.0005 },
    config: { batch_size: 8, learning_rate: 0.001, num_workers: 8, grad_accum_steps: 1 },
    tune: TUNE,
  },
  {
    name: 'memory-ceiling',
    description: 'a large model: 20 GB fixed, 150 MB per sample on 40 GB; doubling would not fit by any safe estimate',
    model: { memFixedBytes: 20 * GB, memPerSampleBytes: 0.15 * GB, stepFixedS: 0.03, stepPerSampleS: 0.001, loadCpuPerSampleS: 0.001 },
    config: { batch_size: 64, learning_rate: 0.1, num_workers: 8, grad_accum_steps: 1 },
    tune: { ...TUNE, optimizer: 'sgd' },
  },
  {
    name: 'blind',
    description: 'the job runs on another host: step reports only (no GPU, host or process readings, no mem_peak)',
    model: { memFixedBytes: 20 * GB, memPerSampleBytes: 0.15 * GB, stepFixedS: 0.03, stepPerSampleS: 0.001, loadCpuPerSampleS: 0.001, readings: false, reportMemPeak: false },
    config: { batch_size: 64, learning_rate: 0.001, num_workers: 8, grad_accum_steps: 1 },
    tune: TUNE,
  },
  {
    name: 'cpu-starved',
    description: '4 cores, other tenants take 3.3: more workers cannot help, the tuner should advise and hold still',
    model: { cores: 4, otherCpuCores: 3.3, loadCpuPerSampleS: 0.002 },
    config: { batch_size: 512, learning_rate: 0.001, num_workers: 1, grad_accum_steps: 1 },
    tune: { ...TUNE, bounds: { ...TUNE.bounds, num_workers: { min: 0, max: 3 } } },
  },
  {
    name: 'throttled',
    description: 'a thermally throttled GPU at 60 % clocks, batch 32 with room to grow',
    model: { throttle: 0.6, throttleReasons: ['hw_thermal_slowdown', 'sw_thermal_slowdown'], loadCpuPerSampleS: 0.001 },
    config: { batch_size: 32, learning_rate: 0.001, num_workers: 8, grad_accum_steps: 1 },
    tune: TUNE,
  },
  {
    name: 'already-optimal',
    description: 'batch at the user bound, enough workers, busy GPU: the tuner must not harm it',
    model: { loadCpuPerSampleS: 0.001 },
    config: { batch_size: 256, learning_rate: 0.001, num_workers: 4, grad_accum_steps: 1 },
    tune: { ...TUNE, bounds: { ...TUNE.bounds, batch_size: { min: 8, max: 256 } } },
  },
  {
    name: 'optimal-at-memory',
    description: 'batch at the largest size that fits with margin, workers matched, noisy steps: nothing to gain, the tuner must hold still',
    model: { noiseSigma: 0.15, spikeProb: 0.01, spikeFactor: 4 },
    config: { batch_size: 680, learning_rate: 0.001, num_workers: 6, grad_accum_steps: 1 },
    tune: TUNE,
  },
  {
    name: 'noisy',
    description: 'small batch with 25 % log-normal step noise and 2 % spikes of 5× (GC, checkpoints)',
    model: { loadCpuPerSampleS: 0.0005, noiseSigma: 0.25, spikeProb: 0.02, spikeFactor: 5 },
    config: { batch_size: 16, learning_rate: 0.001, num_workers: 8, grad_accum_steps: 1 },
    tune: TUNE,
  },
  // Issue 13: classes of jobs where a rule table gated by the verdict fails.
  {
    name: 'cpu-only-overhead',
    description: 'a CPU-only job (no GPU readings) at batch 16: per-step Python and optimizer overhead dominate; only measurement can say what a bigger batch gives',
    model: { cpuOnly: true, cores: 8, stepFixedS: 0.03, stepPerSampleS: 0.002, loadCpuPerSampleS: 0.001 },
    config: { batch_size: 16, learning_rate: 0.01, num_workers: 2, grad_accum_steps: 1 },
    tune: { ...TUNE, optimizer: 'sgd' },
  },
  {
    name: 'cpu-only-per-batch-loader',
    description: 'CPU-only, one worker allowed (user bound), a per-batch loading cost (collate, IPC) that a bigger batch amortises: the verdict names the loader, the loader cannot grow, batch size pays',
    model: { cpuOnly: true, cores: 4, stepFixedS: 0.01, stepPerSampleS: 0.001, loadCpuPerSampleS: 0.0005, loadCpuPerBatchS: 0.05 },
    config: { batch_size: 16, learning_rate: 0.001, num_workers: 1, grad_accum_steps: 1 },
    tune: { ...TUNE, bounds: { ...TUNE.bounds, num_workers: { min: 0, max: 1 } } },
  },
  {
    name: 'two-core-loader',
    description: 'a GPU job on a 2-core host with a CPU-bound loader at 1 worker: the main process mostly waits, so 2 workers (as many as cores) pay',
    model: { cores: 2, loadCpuPerSampleS: 0.004, stepFixedS: 0.02, stepPerSampleS: 0.0005 },
    config: { batch_size: 64, learning_rate: 0.001, num_workers: 1, grad_accum_steps: 1 },
    tune: TUNE,
  },
  {
    name: 'two-core-cpu-job',
    description: 'like a small CNN on a 2-core CPU machine: batch 16, no workers, a costly per-sample transform and a per-batch collate cost',
    model: { cpuOnly: true, cores: 2, stepFixedS: 0.02, stepPerSampleS: 0.001, loadCpuPerSampleS: 0.003, loadCpuPerBatchS: 0.01 },
    config: { batch_size: 16, learning_rate: 0.01, num_workers: 0, grad_accum_steps: 1 },
    tune: { ...TUNE, optimizer: 'sgd' },
  },
  {
    name: 'io-latency',
    description: 'workers wait on network storage (10 ms per sample, no CPU, little iowait shown), host CPU idle: workers past the cores pay',
    model: { cores: 8, ioLatencyPerSampleS: 0.01, loadCpuPerSampleS: 0.0005, iowaitWhenBound: 0.02 },
    config: { batch_size: 64, learning_rate: 0.001, num_workers: 1, grad_accum_steps: 1 },
    tune: TUNE,
  },
  {
    name: 'io-bandwidth',
    description: 'storage bandwidth caps loading at 1500 samples/s with the host in iowait: a few workers reach it, more only queue on the disk',
    model: { cores: 8, ioSamplesPerS: 1500, loadCpuPerSampleS: 0.001 },
    config: { batch_size: 128, learning_rate: 0.001, num_workers: 1, grad_accum_steps: 1 },
    tune: TUNE,
  },
  {
    name: 'noisy-host',
    description: 'a shared host: ±15 % step time noise and 1 % spikes of 3×, batch 32 with 2 workers; the tuner must gain without thrashing',
    model: { loadCpuPerSampleS: 0.001, noiseSigma: 0.15, spikeProb: 0.01, spikeFactor: 3 },
    config: { batch_size: 32, learning_rate: 0.001, num_workers: 2, grad_accum_steps: 1 },
    tune: TUNE,
  },
  {
    name: 'workers-capped-batch-pays',
    description: 'input-bound with workers at the user bound 2 and a heavy per-batch collate: the verdict\'s knob is exhausted, batch size pays',
    model: { cores: 16, loadCpuPerSampleS: 0.0005, loadCpuPerBatchS: 0.06 },
    config: { batch_size: 32, learning_rate: 0.001, num_workers: 2, grad_accum_steps: 1 },
    tune: { ...TUNE, bounds: { ...TUNE.bounds, num_workers: { min: 0, max: 2 } } },
  },
  {
    name: 'cpu-only-at-best',
    description: 'a CPU-only job already at its best: batch at the user bound, loaders keeping up, noisy steps: no change may be kept',
    model: { cpuOnly: true, cores: 8, stepFixedS: 0.01, stepPerSampleS: 0.002, loadCpuPerSampleS: 0.002, noiseSigma: 0.1 },
    config: { batch_size: 128, learning_rate: 0.001, num_workers: 2, grad_accum_steps: 1 },
    tune: { ...TUNE, bounds: { ...TUNE.bounds, batch_size: { min: 8, max: 128 } } },
  },
];

/** Every scenario: the first wave's and those from the world beyond the tuner's model (issue 21). */
export const SCENARIOS: Scenario[] = [...OWN_SCENARIOS, ...WORLD_SCENARIOS];

export function scenarioByName(name: string): Scenario {
  const s = SCENARIOS.find((x) => x.name === name);
  if (!s) throw new Error(`unknown scenario ${name}; known: ${SCENARIOS.map((x) => x.name).join(', ')}`);
  return s;
}
