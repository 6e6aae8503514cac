// An in-memory run store that implements TunerPorts, for the simulator harness and replay:
// the same bookkeeping the server's store does (config versions, decisions with outcomes,
// recent steps and events), without SQLite or HTTP.
import type { GpuReading, HostReading, ProcessTreeReading } from '../collectors/readings.js';
import type { TunerPorts } from './loop.js';
import type { Advice, Decision, DecisionOutcome, DecisionRecord, RunConfig, RunEventPoint, StepPoint, TuneSettings, Window } from './window.js';

/** As the server keeps them (store/live.ts RECENT_STEPS; events and decisions windows). */
export const KEEP_STEPS = 512;
export const KEEP_EVENTS = 200;
export const KEEP_DECISIONS = 100;
export const KEEP_PROCESS_READINGS = 30;

export interface MemoryRun {
  runId: string;
  tune: TuneSettings;
  config: RunConfig;
  configVersion: number;
  appliedVersion: number;
  versions: Map<number, RunConfig>;
  steps: StepPoint[];
  events: RunEventPoint[];
  decisions: DecisionRecord[];
  status: { bottleneck: string; evidence: Record<string, unknown>; advice: Advice[] } | null;
  host: HostReading | null;
  gpus: GpuReading[] | null;
  process: ProcessTreeReading | null;
  processHistory: Array<ProcessTreeReading & { ts: number }>;
  now: number;
}

export interface MemoryStore extends TunerPorts {
  run: MemoryRun;
  addSteps(steps: StepPoint[]): void;
  addEvent(e: RunEventPoint): void;
  setReadings(r: { host: HostReading | null; gpus: GpuReading[] | null; process: (ProcessTreeReading & { ts: number }) | null }): void;
  window(): Window;
}

export function createMemoryStore(opts: { runId: string; config: RunConfig; tune: TuneSettings; now: number }): MemoryStore {
  const run: MemoryRun = {
    runId: opts.runId,
    tune: opts.tune,
    config: opts.config,
    configVersion: 1,
    appliedVersion: 1,
    versions: new Map([[1, opts.config]]),
    steps: [],
    events: [],
    decisions: [],
    status: null,
    host: null,
    gpus: null,
    process: null,
    processHistory: [],
    now: opts.now,
  };
  let nextId = 1;
  const window = (): Window => ({
    runId: run.runId,
    now: run.now,
    config: run.config,
    configVersion: run.configVersion,
    appliedVersion: run.appliedVersion,
    tune: run.tune,
    steps: run.steps.slice(),
    events: run.events.slice(),
    decisions: run.decisions.slice(-KEEP_DECISIONS).map((d) => ({ ...d })),
    oomBatchSizes: [...new Set(run.events.filter((e) => e.kind === 'oom').map((e) => Number(e.data.batch_size)).filter((b) => b > 0))],
    host: run.host,
    gpus: run.gpus,
    process: run.process,
    processHistory: run.processHistory.slice(),
  });
  return {
    run,
    window,
    addSteps(steps) {
      run.steps.push(...steps);
      if (run.steps.length > KEEP_STEPS) run.steps.splice(0, run.steps.length - KEEP_STEPS);
    },
    addEvent(e) {
      run.events.push(e);
      if (e.kind === 'config_applied') {
        const v = Number(e.data.version);
        if (Number.isInteger(v) && v > run.appliedVersion && v <= run.configVersion) run.appliedVersion = v;
      }
      if (run.events.length > KEEP_EVENTS) run.events.splice(0, run.events.length - KEEP_EVENTS);
    },
    setReadings(r) {
      run.host = r.host;
      run.gpus = r.gpus;
      run.process = r.process;
      if (r.process) {
        run.processHistory.push(r.process);
        if (run.processHistory.length > KEEP_PROCESS_READINGS) run.processHistory.shift();
      }
    },
    activeRunIds: () => [run.runId],
    readWindow: (id) => (id === run.runId ? window() : undefined),
    applyDecision(_id, d: Decision): DecisionRecord {
      const apply = !d.recommendOnly && run.tune.mode === 'auto';
      const rec: DecisionRecord = {
        ...d, id: nextId++, ts: run.now, step: run.steps.at(-1)?.step ?? null,
        configVersion: apply ? run.configVersion + 1 : null, outcome: { status: 'pending' },
      };
      if (apply) {
        run.configVersion += 1;
        run.config = d.configAfter;
        run.versions.set(run.configVersion, d.configAfter);
      }
      run.decisions.push(rec);
      return rec;
    },
    setOutcome(_id, decisionId, outcome: DecisionOutcome) {
      const d = run.decisions.find((x) => x.id === decisionId);
      if (d) d.outcome = outcome;
    },
    setStatus(_id, status) {
      run.status = status;
    },
  };
}
