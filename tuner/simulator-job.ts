// A simulated training job: runs steps of the model, reports them in the shapes of
// tuner/window.ts, reads the newest config the way the Python client does (rebuilds its
// data loader, then acknowledges with config_applied; on OOM reports `oom` and keeps the
// config it had), and produces the host, GPU and process readings a sidecar would see.
import type { GpuReading, HostReading, ProcessTreeReading } from '../collectors/readings.js';
import { createRng, steadyState, type JobModel, type SteadyState } from './simulator.js';
import { phaseAt, tailFactor } from './simulator-world.js';
import type { RunConfig } from '../domain/config.js';
import type { RunEventPoint } from '../domain/events.js';
import { NON_FINITE_LOSS, type StepPoint } from '../domain/steps.js';

export interface SimJob {
  readonly model: JobModel;
  /** Simulated unix seconds. */
  readonly t: number;
  readonly step: number;
  readonly applied: { version: number; config: RunConfig };
  /** Looks at the newest config; applies it (rebuild, or OOM) when it is newer. Returns events. */
  sync(version: number, config: RunConfig): RunEventPoint[];
  /** Runs one training step. */
  runStep(): StepPoint;
  readings(): { host: HostReading | null; gpus: GpuReading[] | null; process: (ProcessTreeReading & { ts: number }) | null };
  steady(): SteadyState;
  samplesTotal: number;
  /** Noise-free seconds the steps so far would take, plus rebuild and OOM pauses. */
  modelTimeS: number;
  ooms: number[];
}

export function createSimJob(opts: { model: JobModel; config: RunConfig; seed: number; startTs?: number; runId?: string }): SimJob {
  const rng = createRng(opts.seed);
  const cache = new Map<string, SteadyState>();
  // The job as it is now: its own model, or the phase it has reached (a change in the world).
  let m = opts.model;
  let phase = 0;
  const steadyOf = (c: RunConfig) => {
    const k = `${phase}/${c.batch_size}/${c.num_workers}`;
    let s = cache.get(k);
    if (!s) cache.set(k, (s = steadyState(m, c.batch_size, c.num_workers)));
    return s;
  };
  let t = opts.startTs ?? 1_764_300_000;
  let step = 0;
  let applied = { version: 1, config: opts.config };
  let lr = opts.config.learning_rate;
  let lrRampLeft = 0;
  let lrFrom = lr;
  let reserved = 0;
  let cpuTotal = 0;
  let children: number[] = new Array(opts.config.num_workers).fill(0);
  let samplesTotal = 0;
  let modelTimeS = 0;
  let divergence = 0;
  let blowUp = 0;
  const ooms: number[] = [];
  const lognormal = (sigma: number) => Math.exp(sigma * rng.normal() - (sigma * sigma) / 2);

  const job: SimJob = {
    get model() { return m; },
    get t() { return t; },
    get step() { return step; },
    get applied() { return applied; },
    get samplesTotal() { return samplesTotal; },
    get modelTimeS() { return modelTimeS; },
    ooms,
    steady: () => steadyOf(applied.config),
    sync(version, config) {
      if (version <= applied.version) return [];
      const before = applied.config;
      const rebuild = config.batch_size !== before.batch_size || config.num_workers !== before.num_workers || config.grad_accum_steps !== before.grad_accum_steps;
      const pause = (s: number) => { t += s; modelTimeS += s; };
      if (rebuild) pause(m.rebuildS + m.rebuildPerWorkerS * config.num_workers);
      if (!m.cpuOnly && m.memFixedBytes + m.memPerSampleBytes * config.batch_size > m.memCapacityBytes) {
        pause(m.oomPenaltyS);
        ooms.push(config.batch_size);
        // The client skips this version and keeps training on the config it had.
        applied = { version, config: before };
        return [{ ts: t, kind: 'oom', step, data: { batch_size: config.batch_size, config_version: version } }];
      }
      if (config.learning_rate !== before.learning_rate) {
        lrFrom = lr;
        lrRampLeft = config.learning_rate > lr ? (config.lr_warmup_steps ?? 0) : 0;
        if (lrRampLeft === 0) lr = config.learning_rate;
      }
      if (config.num_workers !== before.num_workers || rebuild) children = new Array(config.num_workers).fill(0);
      applied = { version, config };
      return [{ ts: t, kind: 'config_applied', step, data: { version } }];
    },
    runStep() {
      const reached = opts.model.phases.filter((p) => step >= p.atStep).length;
      if (reached !== phase) { phase = reached; m = phaseAt(opts.model, step); }
      const c = applied.config;
      const s = steadyOf(c);
      const sigma = m.noiseSigma;
      const compute = s.computeS * lognormal(sigma);
      const load = s.loadStepS * lognormal(sigma);
      let duration = c.num_workers === 0 ? compute + load : Math.max(compute, load);
      const wait = c.num_workers === 0 ? load : Math.max(0, load - compute);
      if (m.spikeProb > 0 && rng.next() < m.spikeProb) duration += s.computeS * (m.spikeFactor - 1);
      if (m.tailProb > 0) duration *= tailFactor(m, rng.next(), rng.next());
      t += duration;
      modelTimeS += s.stepS;
      step += 1;
      samplesTotal += c.batch_size;
      cpuTotal += s.jobCores * duration;
      children = children.map((x) => x + s.workerBusy * duration);
      reserved = Math.max(reserved, Math.ceil((s.memPeakBytes * 1.04) / 2 ** 21) * 2 ** 21 + 400e6);
      if (lrRampLeft > 0) {
        lrRampLeft -= 1;
        const target = c.learning_rate;
        const total = c.lr_warmup_steps ?? 1;
        lr = target - ((target - lrFrom) * lrRampLeft) / Math.max(1, total);
      } else {
        lr = c.learning_rate;
      }
      // Above the stable rate the loss climbs; back below it, it recovers.
      if (m.lrDivergeAbove !== null) divergence = lr > m.lrDivergeAbove ? divergence + 0.05 : Math.max(0, divergence - 0.1);
      if (m.lossBlowsUpAboveLr !== null) blowUp = lr > m.lossBlowsUpAboveLr ? blowUp + 1 : 0;
      const finite = (0.5 + 2 * Math.exp(-samplesTotal / 2e6)) * (1 + divergence) + 0.02 * rng.normal();
      const loss = blowUp > 12 ? NON_FINITE_LOSS : finite;
      let gradSqNorm: number | null = null;
      let gradSqNormSmall: number | null = null;
      if (m.gradNoiseScale !== null) {
        // |G|² = 1 and tr(Σ) = B_noise; the small norm is over half the batch (client convention).
        gradSqNorm = (1 + m.gradNoiseScale / c.batch_size) * (1 + 0.1 * rng.normal());
        gradSqNormSmall = (1 + (2 * m.gradNoiseScale) / c.batch_size) * (1 + 0.1 * rng.normal());
      }
      return {
        step, ts: t, durationS: duration, dataWaitS: wait, samples: c.batch_size, loss,
        memPeakBytes: m.reportMemPeak && !m.cpuOnly ? s.memPeakBytes : null,
        gradSqNorm, gradSqNormSmall, rank: 0, worldSize: 1, configVersion: applied.version,
      };
    },
    readings() {
      if (!m.readings) return { host: null, gpus: null, process: null };
      const c = applied.config;
      const s = steadyOf(c);
      const used = Math.min(m.cores, Math.min(m.otherCpuCores, m.cores) + s.jobCores);
      const host: HostReading = {
        ts: t,
        cpuUtilizationRatio: used / m.cores,
        cpuIowaitRatio: s.ioBound ? m.iowaitWhenBound : 0.01,
        cpuCount: m.cores,
        memoryTotalBytes: m.hostMemoryBytes,
        memoryAvailableBytes: Math.max(0, m.hostMemoryBytes * 0.8 - m.mainRssBytes - c.num_workers * m.workerRssBytes),
        swapUsedBytes: 0,
        diskReadBytesTotal: 0,
        diskWrittenBytesTotal: 0,
        networkReceiveBytesTotal: 0,
        networkTransmitBytesTotal: 0,
      };
      const gpu: GpuReading = {
        index: 0, uuid: 'GPU-sim-0', name: 'Simulated GPU',
        utilizationRatio: Math.round(s.gpuUtil * 100) / 100,
        memoryUtilizationRatio: null,
        memoryUsedBytes: reserved,
        memoryTotalBytes: m.memCapacityBytes,
        powerDrawWatts: null, powerLimitWatts: null, temperatureCelsius: null,
        smClockHertz: null,
        clockEventReasons: m.throttleReasons,
      };
      const process = {
        ts: t, runId: opts.runId ?? 'sim', pid: 4242, alive: true,
        cpuSecondsTotal: cpuTotal,
        residentMemoryBytes: m.mainRssBytes + c.num_workers * m.workerRssBytes,
        children: children.map((cpu, i) => ({ pid: 5000 + i, name: 'pt_data_worker', cpuSecondsTotal: cpu, residentMemoryBytes: m.workerRssBytes })),
        workerCount: c.num_workers,
        gpuMemoryBytes: { '0': reserved },
      };
      if (m.cpuOnly) return { host, gpus: [], process: { ...process, gpuMemoryBytes: {} } };
      return { host, gpus: [gpu], process };
    },
  };
  return job;
}
