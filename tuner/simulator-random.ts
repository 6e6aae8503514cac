// Jobs nobody wrote: simulator scenarios drawn at random from wide ranges (log-uniform costs,
// CPU-only or GPU, 2 to 32 cores, storage latency or bandwidth limits, noise, memory ceilings,
// user bounds, a random start) and the world's costs unlike the tuner's model (simulator-world.ts:
// cache spill, kernel cliffs, workers crowding the main process, workers' memory and paging, phase
// changes, heavy-tailed steps), so the tuner is measured on jobs its authors never looked at.
// Deterministic per seed. bench/tuner runs them with --random N.
import { createRng, type JobModel } from './simulator.js';
import type { Scenario } from './simulator-scenarios.js';
import { EXAMPLE_TUNE } from '../domain/tune-defaults.js';

export function randomScenario(seed: number): Scenario {
  const rng = createRng(0x9e3779b9 ^ seed);
  const u = (lo: number, hi: number) => lo + (hi - lo) * rng.next();
  const logU = (lo: number, hi: number) => Math.exp(u(Math.log(lo), Math.log(hi)));
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rng.next() * xs.length)];
  const chance = (p: number) => rng.next() < p;
  const cpuOnly = chance(0.3);
  const cores = pick([2, 4, 8, 16, 32]);
  const model: Partial<JobModel> = {
    cpuOnly,
    cores,
    otherCpuCores: chance(0.2) ? u(0, cores * 0.6) : 0,
    stepFixedS: logU(0.002, 0.08),
    stepPerSampleS: cpuOnly ? logU(2e-4, 5e-3) : logU(2e-5, 2e-3),
    loadCpuPerSampleS: logU(1e-4, 8e-3),
    loadCpuPerBatchS: chance(0.4) ? logU(1e-3, 0.08) : 0,
    ioLatencyPerSampleS: chance(0.2) ? logU(1e-3, 2e-2) : 0,
    ioSamplesPerS: chance(0.15) ? logU(200, 5000) : null,
    iowaitWhenBound: u(0, 0.3),
    throttle: chance(0.15) ? u(0.5, 0.9) : 1,
    memFixedBytes: logU(1e9, 20e9),
    memPerSampleBytes: logU(5e6, 300e6),
    memCapacityBytes: pick([16e9, 24e9, 40e9, 80e9]),
    reportMemPeak: chance(0.7),
    readings: chance(0.85),
    noiseSigma: chance(0.3) ? u(0.05, 0.2) : u(0.005, 0.04),
    spikeProb: chance(0.3) ? u(0, 0.02) : 0,
    spikeFactor: u(2, 5),
  };
  if (model.throttle !== 1) model.throttleReasons = ['sw_power_cap'];
  // A start that fits in memory: halve until it does.
  let batch = pick([8, 16, 32, 64, 128, 256]);
  const fits = (b: number) => cpuOnly || (model.memFixedBytes! + model.memPerSampleBytes! * b) * 1.1 < model.memCapacityBytes!;
  while (batch > 8 && !fits(batch)) batch = Math.floor(batch / 2);
  if (!fits(batch)) model.memFixedBytes = model.memCapacityBytes! * 0.5 - model.memPerSampleBytes! * batch;
  const workers = pick([0, 0, 1, 1, 2, 4]);
  const bounds = { ...EXAMPLE_TUNE.bounds };
  if (chance(0.2)) bounds.num_workers = { min: 0, max: Math.max(workers, pick([1, 2, 4])) };
  if (chance(0.2)) bounds.batch_size = { min: 8, max: Math.max(batch, pick([64, 128, 256, 512])) };
  // The world's costs, drawn after everything above so the first wave's draws stay as they were.
  if (chance(0.25)) { model.cacheBatch = Math.round(logU(32, 512)); model.cacheSpill = u(0.3, 1.5); }
  if (chance(0.1)) { model.cliffBatch = Math.round(logU(48, 768)); model.cliffFactor = u(1.3, 2.5); }
  if (chance(0.3)) model.contentionPerProcess = u(0.03, 0.2);
  if (chance(0.2)) {
    model.workerRssBytes = logU(0.2e9, 2e9);
    model.hostMemoryLimitBytes = 3e9 + model.workerRssBytes * pick([2, 4, 6]);
    model.swapPenaltyPerGB = u(0.02, 0.1);
  }
  if (chance(0.2)) {
    // The job changes under a fixed config: slower storage, a heavier augmentation, a longer sequence.
    const change = pick(['storage', 'augment', 'compute'] as const);
    const after: Partial<JobModel> = change === 'storage' ? { ioLatencyPerSampleS: logU(1e-3, 1e-2) }
      : change === 'augment' ? { loadCpuPerSampleS: model.loadCpuPerSampleS! * u(2, 5) }
        : { stepPerSampleS: model.stepPerSampleS! * u(1.5, 3) };
    model.phases = [{ atStep: pick([5000, 10000]), model: after }];
  }
  if (chance(0.2)) { model.tailProb = u(0.01, 0.05); model.tailAlpha = u(1.3, 2.5); }
  const startWorkers = chance(0.15) ? Math.min(bounds.num_workers?.max ?? 8, 8) : workers;
  return {
    name: `random-${seed}`,
    description: `a job drawn at random (seed ${seed})`,
    model,
    config: { batch_size: batch, learning_rate: 0.001, num_workers: startWorkers, grad_accum_steps: 1 },
    tune: { ...EXAMPLE_TUNE, bounds },
  };
}
