// Scenarios from the world beyond the tuner's own model (issue 21): the four classes a new user
// found it failing on (too many workers to begin with, a batch optimum inside the bounds, a job
// that changes halfway, a blind memory ceiling), and the other costs of simulator-world.ts. None
// is shaped like the tuner's performance model; each is a job with caches, contention, memory and
// storage that a person could meet.
import type { Scenario } from './simulator-scenarios.js';
import { BASE_TUNE as TUNE } from './window-fixtures.js';

const GB = 1e9;

export const WORLD_SCENARIOS: Scenario[] = [
  {
    name: 'too-many-workers',
    description: 'a CPU-only job on 2 cores started with 8 data-loader workers: they crowd the main process off the cores (context switches, evicted caches), each holding its own memory',
    model: { cpuOnly: true, cores: 2, stepFixedS: 0.02, stepPerSampleS: 0.002, loadCpuPerSampleS: 0.0008, contentionPerProcess: 0.12 },
    config: { batch_size: 64, learning_rate: 0.01, num_workers: 8, grad_accum_steps: 1 },
    tune: { ...TUNE, optimizer: 'sgd' },
  },
  {
    name: 'interior-batch-peak',
    description: 'throughput rises with batch, peaks near 144 where the activations outgrow the device cache, then falls (memory bandwidth); no OOM below 700',
    model: { cacheBatch: 144, cacheSpill: 1.0, loadCpuPerSampleS: 0.0005 },
    config: { batch_size: 32, learning_rate: 0.001, num_workers: 4, grad_accum_steps: 1 },
    tune: TUNE,
  },
  {
    name: 'kernel-cliff',
    description: 'above batch 200 the framework takes a slower kernel path: 1.8× the per-sample time, a cliff, not a slope',
    model: { cliffBatch: 200, cliffFactor: 1.8, loadCpuPerSampleS: 0.0005 },
    config: { batch_size: 48, learning_rate: 0.001, num_workers: 4, grad_accum_steps: 1 },
    tune: TUNE,
  },
  {
    name: 'storage-slows-halfway',
    description: 'halfway through, the data moves to slow network storage (6 ms per sample): the loaders start waiting on I/O and one worker no longer keeps up',
    model: { cores: 8, loadCpuPerSampleS: 0.0005, phases: [{ atStep: 10000, model: { ioLatencyPerSampleS: 0.006, iowaitWhenBound: 0.05 } }] },
    config: { batch_size: 128, learning_rate: 0.001, num_workers: 1, grad_accum_steps: 1 },
    tune: TUNE,
  },
  {
    name: 'blind-memory-ceiling',
    description: 'no memory readings of any kind (a job on another host); out of memory above batch 133, started at 80: doubling fails, one probe between 80 and 160 finds nearly the best',
    model: { memFixedBytes: 20 * GB, memPerSampleBytes: 0.15 * GB, stepFixedS: 0.03, stepPerSampleS: 0.001, loadCpuPerSampleS: 0.0005, readings: false, reportMemPeak: false },
    config: { batch_size: 80, learning_rate: 0.001, num_workers: 4, grad_accum_steps: 1 },
    tune: TUNE,
  },
  {
    name: 'workers-hold-memory',
    description: '12 workers, each holding 1.5 GB of the dataset, on a host that gives the job 12 GB: the host pages and every step slows; 2 workers load fast enough',
    model: { loadCpuPerSampleS: 0.0002, workerRssBytes: 1.5 * GB, mainRssBytes: 3 * GB, hostMemoryLimitBytes: 12 * GB, swapPenaltyPerGB: 0.06 },
    config: { batch_size: 256, learning_rate: 0.001, num_workers: 12, grad_accum_steps: 1 },
    tune: { ...TUNE, bounds: { ...TUNE.bounds, batch_size: { min: 8, max: 256 } } },
  },
  {
    name: 'heavy-tailed',
    description: 'step times with a heavy tail (5 % of steps × a Pareto(1.5) draw: stragglers in the file system, GC): medians must see through it',
    model: { loadCpuPerSampleS: 0.001, tailProb: 0.05, tailAlpha: 1.5 },
    config: { batch_size: 32, learning_rate: 0.001, num_workers: 2, grad_accum_steps: 1 },
    tune: TUNE,
  },
];
