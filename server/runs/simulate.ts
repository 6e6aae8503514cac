// Drives a simulated job (tuner/simulator*.ts) and the real tuner loop through the production run
// path, on simulated time: the run registered in a real store (SQLite in memory), its step reports,
// events and readings taken by the live state of runs (hub.ts), its windows built by the tuner
// ports (tuner-ports.ts → tuner/run-window.ts), its decisions written as config versions that the
// job picks up between steps, as the client does. Only HTTP and the collectors are left out.
import { openStore } from '../../store/store.js';
import type { TunerThresholds } from '../../tuner/guardrails.js';
import { createTunerLoop, type TunerPorts } from '../../tuner/loop.js';
import { DEFAULT_MODEL, oracle, steadyState, type JobModel } from '../../tuner/simulator.js';
import { createSimJob } from '../../tuner/simulator-job.js';
import { phaseAt } from '../../tuner/simulator-world.js';
import type { Scenario } from '../../tuner/simulator-scenarios.js';
import type { DecisionRecord } from '../../domain/decisions.js';
import type { RunConfig, TuneSettings } from '../../domain/config.js';
import type { StepPoint } from '../../domain/steps.js';
import { userBound } from '../../domain/bounds.js';
import type { Window } from '../../tuner/window.js';
import { createRunHub } from './hub.js';
import type { RunStatus } from './live.js';
import { createTunerPorts } from './tuner-ports.js';

export interface SimOptions {
  steps: number;
  seed?: number;
  intervalS?: number;
  settings?: Partial<TunerThresholds>;
  /** Overrides the scenario's tune.mode. */
  mode?: TuneSettings['mode'];
  /** Sees every window the tuner reads (to record replay fixtures). */
  onWindow?: (w: Window) => void;
}

export interface SimResult {
  scenario: string;
  model: JobModel;
  /** Noise-free throughput of the config in effect at each step. */
  expected: number[];
  /** The same as a share of the oracle of the job's phase at that step (a job that changes has one per phase). */
  shares: number[];
  /** The step each phase of the job began at (0 first). */
  phaseStarts: number[];
  configs: RunConfig[];
  /** Simulated unix seconds when the job started. */
  startTs: number;
  simTimeS: number;
  /** Noise-free time of the same steps plus pauses: what the tuner's choices cost, without the scenario's noise. */
  modelTimeS: number;
  samplesTotal: number;
  ooms: number[];
  decisions: DecisionRecord[];
  /** The best configuration of the job as it is at the end (the phase it has reached). */
  oracle: { batch: number; workers: number; throughput: number };
  /** The run's status as the tuner last set it (bottleneck, evidence, advice). */
  status: RunStatus | null;
  /** The run's config version at the end (1 when nothing was applied). */
  configVersion: number;
  /** The step reports the run's live state held at the end (the newest 512). */
  recentSteps: StepPoint[];
}

export function resolveModel(s: Scenario): JobModel {
  return { ...DEFAULT_MODEL, ...s.model };
}

export function simulate(scenario: Scenario, opts: SimOptions): SimResult {
  const model = resolveModel(scenario);
  const tune = opts.mode ? { ...scenario.tune, mode: opts.mode } : scenario.tune;
  const job = createSimJob({ model, config: scenario.config, seed: opts.seed ?? 1, runId: scenario.name });
  const t0 = job.t;
  let now = t0;
  const hub = createRunHub(openStore({ path: ':memory:', now: () => now }));
  const run = hub.registerRun({ name: scenario.name, pid: null, config: scenario.config, tune });
  const real = createTunerPorts(hub);
  const ports: TunerPorts = opts.onWindow
    ? { ...real, readWindow: (id) => { const w = real.readWindow(id); if (w) opts.onWindow?.(w); return w; } }
    : real;
  const loop = createTunerLoop({
    intervalS: opts.intervalS ?? 1,
    ports,
    cpuBudget: { cores: model.cores, source: 'simulated host' },
    settings: opts.settings,
  });
  const interval = opts.intervalS ?? 1;
  let nextTick = t0 + interval;
  const expected: number[] = [];
  const configs: RunConfig[] = [];
  const pending: StepPoint[] = [];
  for (let i = 0; i < opts.steps; i++) {
    // The client checks for a newer config between steps (a cheap local read of what its poller fetched).
    const current = hub.getRun(run.id);
    for (const e of job.sync(current.configVersion, current.config!)) hub.addEvent(run.id, e);
    pending.push(job.runStep());
    expected.push(job.steady().throughput);
    configs.push(job.applied.config);
    if (job.t >= nextTick) {
      // Step reports arrive in batches, as the client posts them; the collectors sample each tick.
      now = job.t;
      hub.addSteps(run.id, pending.splice(0));
      const r = job.readings();
      hub.recordSnapshot({ ts: job.t, host: r.host, gpus: r.gpus, health: [], processes: r.process ? [{ ...r.process, runId: run.id }] : [] });
      loop.tick();
      nextTick = job.t + interval;
    }
  }
  // The oracle searches the user's bounds; without one, batch sizes to 4096 and a worker per core but the main process's.
  const batch = userBound(tune, 'batch_size');
  const workers = userBound(tune, 'num_workers');
  const bounds = {
    batch: { min: batch.min, max: batch.userMax ? batch.max : 4096 },
    workers: { min: workers.min, max: workers.userMax ? workers.max : Math.max(0, model.cores - 1) },
  };
  const end = hub.getRun(run.id);
  const phaseStarts = [0, ...model.phases.map((p) => p.atStep).filter((n) => n > 0 && n < opts.steps)];
  const oracles = phaseStarts.map((at) => oracle(phaseAt(model, at), bounds).throughput);
  const phaseOf = (i: number) => phaseStarts.filter((at) => i >= at).length - 1;
  const live = hub.live(end);
  const decisions = hub.decisions(run.id, Number.MAX_SAFE_INTEGER);
  hub.close();
  return {
    scenario: scenario.name,
    model,
    expected,
    shares: expected.map((x, i) => x / oracles[phaseOf(i)]),
    phaseStarts,
    configs,
    startTs: t0,
    simTimeS: job.t - t0,
    modelTimeS: job.modelTimeS,
    samplesTotal: job.samplesTotal,
    ooms: job.ooms,
    decisions,
    oracle: oracle(phaseAt(model, opts.steps - 1), bounds),
    status: live.status,
    configVersion: end.configVersion,
    recentSteps: live.recent.slice(),
  };
}

/** Noise-free throughput of a config on the job as it is at `step` (by default its last phase). */
export function throughputOf(model: JobModel, c: RunConfig, step = Infinity): number {
  return steadyState(phaseAt(model, step), c.batch_size, c.num_workers).throughput;
}
