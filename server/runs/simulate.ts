// Drives a simulated job and the real tuner loop against an in-memory store, on simulated
// time: the job steps, reports, polls config; every interval the loop ticks.
import { createTunerLoop, type TunerPorts } from './loop.js';
import type { TunerSettings } from './guardrails.js';
import { createMemoryStore, type MemoryStore } from './memory-ports.js';
import { DEFAULT_MODEL, oracle, steadyState, type JobModel } from './simulator.js';
import { createSimJob } from './simulator-job.js';
import type { DecisionRecord, RunConfig, TuneSettings, Window } from './window.js';

export interface Scenario {
  name: string;
  description: string;
  model: Partial<JobModel>;
  config: RunConfig;
  tune: TuneSettings;
}

export interface SimOptions {
  steps: number;
  seed?: number;
  intervalS?: number;
  settings?: Partial<TunerSettings>;
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
  configs: RunConfig[];
  /** Simulated unix seconds when the job started. */
  startTs: number;
  simTimeS: number;
  /** Noise-free time of the same steps plus pauses: what the tuner's choices cost, without the scenario's noise. */
  modelTimeS: number;
  samplesTotal: number;
  ooms: number[];
  decisions: DecisionRecord[];
  oracle: { batch: number; workers: number; throughput: number };
  store: MemoryStore;
}

export function resolveModel(s: Scenario): JobModel {
  return { ...DEFAULT_MODEL, ...s.model };
}

export function simulate(scenario: Scenario, opts: SimOptions): SimResult {
  const model = resolveModel(scenario);
  const tune = opts.mode ? { ...scenario.tune, mode: opts.mode } : scenario.tune;
  const job = createSimJob({ model, config: scenario.config, seed: opts.seed ?? 1, runId: scenario.name });
  const t0 = job.t;
  const store = createMemoryStore({ runId: scenario.name, config: scenario.config, tune, now: t0 });
  const ports: TunerPorts = opts.onWindow
    ? { ...store, readWindow: (id) => { const w = store.readWindow(id); if (w) opts.onWindow?.(w); return w; } }
    : store;
  const loop = createTunerLoop({
    intervalS: opts.intervalS ?? 1,
    ports,
    cpuBudget: { cores: model.cores, source: 'simulated host' },
    now: () => store.run.now,
    settings: opts.settings,
  });
  const interval = opts.intervalS ?? 1;
  let nextTick = t0 + interval;
  const expected: number[] = [];
  const configs: RunConfig[] = [];
  const pending: typeof store.run.steps = [];
  for (let i = 0; i < opts.steps; i++) {
    // The client checks for a newer config between steps (a cheap local read of what its poller fetched).
    for (const e of job.sync(store.run.configVersion, store.run.config)) store.addEvent(e);
    pending.push(job.runStep());
    expected.push(job.steady().throughput);
    configs.push(job.applied.config);
    if (job.t >= nextTick) {
      // Step reports arrive in batches, as the client posts them.
      store.addSteps(pending.splice(0));
      store.run.now = job.t;
      store.setReadings(job.readings());
      loop.tick();
      nextTick = job.t + interval;
    }
  }
  const bounds = {
    batch: { min: tune.bounds.batch_size?.min ?? 1, max: tune.bounds.batch_size?.max ?? 4096 },
    workers: { min: tune.bounds.num_workers?.min ?? 0, max: tune.bounds.num_workers?.max ?? Math.max(0, model.cores - 1) },
  };
  return {
    scenario: scenario.name,
    model,
    expected,
    configs,
    startTs: t0,
    simTimeS: job.t - t0,
    modelTimeS: job.modelTimeS,
    samplesTotal: job.samplesTotal,
    ooms: job.ooms,
    decisions: store.run.decisions,
    oracle: oracle(model, bounds),
    store,
  };
}

export function throughputOf(model: JobModel, c: RunConfig): number {
  return steadyState(model, c.batch_size, c.num_workers).throughput;
}
