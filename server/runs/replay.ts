// Replay: the tuner over a recording, printed. Three kinds of recording (JSON):
//   {"window": Window}                       one window → what the tuner decides on it now
//   {"run": {config, tune}, "steps": [...], "events": [...], "readings": [...]}
//                                            a recorded run, fed in time order; the tuner
//                                            ticks every intervalS and recommends (advise)
//   {"scenario": NAME, "steps": N, "seed": S} a simulator scenario, tuned for real
// Pure of files and terminals: `trainpilot replay FILE` (cli/replay.ts) reads the file and prints the result.
// A recorded run goes through the production run path, as a simulated one does (simulate.ts):
// a real store in memory, the live state of runs, the tuner ports and the one window builder.
import type { GpuReading, HostReading, ProcessTreeReading } from '../../collectors/readings.js';
import { openStore } from '../../store/store.js';
import type { CpuBudget } from '../../tuner/budget.js';
import { tune, type TuneResult } from '../../tuner/decide.js';
import type { TunerThresholds } from '../../tuner/guardrails.js';
import { createTunerLoop } from '../../tuner/loop.js';
import { scenarioByName } from '../../tuner/simulator-scenarios.js';
import type { Decision, DecisionRecord } from '../../domain/decisions.js';
import { readFigures } from '../../domain/measured.js';
import type { RunConfig, TuneSettings } from '../../domain/config.js';
import type { RunEventPoint } from '../../domain/events.js';
import type { StepPoint } from '../../domain/steps.js';
import type { Window } from '../../tuner/window.js';
import { createRunHub } from './hub.js';
import { simulate } from './simulate.js';
import { createTunerPorts } from './tuner-ports.js';

export class ReplayError extends Error {
  override name = 'ReplayError';
}

export interface WindowRecording { window: Window; cpuBudget?: CpuBudget; settings?: Partial<TunerThresholds> }
export interface RunRecording {
  run: { name?: string; config: RunConfig; tune: TuneSettings };
  steps: Array<Record<string, unknown>>;
  events?: RunEventPoint[];
  readings?: Array<{ ts: number; host?: HostReading | null; gpus?: GpuReading[] | null; process?: ProcessTreeReading | null }>;
  intervalS?: number;
  cpuBudget?: CpuBudget;
  settings?: Partial<TunerThresholds>;
}
export interface ScenarioRecording { scenario: string; steps?: number; seed?: number }
export type Recording = WindowRecording | RunRecording | ScenarioRecording;

export interface ReplayResult {
  kind: 'window' | 'run' | 'scenario';
  decisions: Array<Decision & { ts?: number; step?: number | null; id?: number; outcome?: DecisionRecord['outcome'] }>;
  status: TuneResult['status'] | null;
  t0: number;
}

/** A step report in the API's shape (GET /v1/runs/:id/steps) or the store's. */
export function toStepPoint(r: Record<string, unknown>): StepPoint {
  const n = (a: string, b: string, d: number | null = null): number | null => {
    const v = r[a] ?? r[b];
    return typeof v === 'number' ? v : d;
  };
  const step = n('step', 'step');
  const duration = n('durationS', 'duration_s');
  if (step === null || duration === null) throw new ReplayError(`a step needs step and duration_s: ${JSON.stringify(r).slice(0, 120)}`);
  return {
    step,
    ts: n('ts', 'ts', 0) as number,
    durationS: duration,
    dataWaitS: n('dataWaitS', 'data_wait_s', 0) as number,
    samples: n('samples', 'samples', 0) as number,
    loss: n('loss', 'loss'),
    memPeakBytes: n('memPeakBytes', 'mem_peak_bytes'),
    gradSqNorm: n('gradSqNorm', 'grad_sq_norm'),
    gradSqNormSmall: n('gradSqNormSmall', 'grad_sq_norm_small'),
    rank: n('rank', 'rank', 0) as number,
    worldSize: n('worldSize', 'world_size', 1) as number,
    configVersion: n('configVersion', 'config_version', 1) as number,
  };
}

function replayRun(rec: RunRecording): ReplayResult {
  const steps = rec.steps.map(toStepPoint).sort((a, b) => a.ts - b.ts || a.step - b.step);
  if (steps.length === 0) throw new ReplayError('a run recording needs steps');
  const events = [...(rec.events ?? [])].sort((a, b) => a.ts - b.ts);
  const readings = [...(rec.readings ?? [])].sort((a, b) => a.ts - b.ts);
  const t0 = steps[0].ts - steps[0].durationS;
  // A recording cannot follow new configs: the tuner recommends what it would have done.
  let now = t0;
  const hub = createRunHub(openStore({ path: ':memory:', now: () => now }));
  const mode = rec.run.tune.mode === 'off' ? 'off' : 'advise';
  const run = hub.registerRun({ name: rec.run.name ?? 'replay', pid: null, config: rec.run.config, tune: { ...rec.run.tune, mode } });
  const ports = createTunerPorts(hub);
  const loop = createTunerLoop({ intervalS: rec.intervalS ?? 1, ports, cpuBudget: rec.cpuBudget ?? { cores: 1, source: 'recording' }, settings: rec.settings });
  const interval = rec.intervalS ?? 1;
  let ei = 0;
  let ri = 0;
  let si = 0;
  try {
    for (let t = t0 + interval; si < steps.length; t += interval) {
      now = t;
      const batch: StepPoint[] = [];
      while (si < steps.length && steps[si].ts <= t) batch.push(steps[si++]);
      // The recorded job's own versions: follow them, as a job that set its config would, so its
      // steps are measured under theirs (the recording holds the first config only).
      for (const s of batch) {
        while (hub.getRun(run.id).configVersion < s.configVersion) {
          hub.setConfig(run.id, hub.getRun(run.id).config!, { expectedVersion: null, tune: null, source: 'client', reason: 'the recorded job moved to this version' });
        }
      }
      hub.addSteps(run.id, batch);
      while (ei < events.length && events[ei].ts <= t) {
        const e = events[ei++];
        // Acknowledgements of versions the recording never had are left out: the store would refuse them.
        if (e.kind === 'config_applied' && !hub.configVersion(run.id, Number(e.data.version))) continue;
        hub.addEvent(run.id, e);
      }
      while (ri < readings.length && readings[ri].ts <= t) {
        const r = readings[ri++];
        hub.recordSnapshot({ ts: r.ts, host: r.host ?? null, gpus: r.gpus ?? null, health: [], processes: r.process ? [{ ...r.process, runId: run.id }] : [] });
      }
      loop.tick();
    }
    return { kind: 'run', decisions: hub.decisions(run.id, Number.MAX_SAFE_INTEGER), status: hub.live(hub.getRun(run.id)).status as TuneResult['status'] | null, t0 };
  } finally {
    hub.close();
  }
}

export function replay(rec: Recording): ReplayResult {
  if ('window' in rec) {
    // A window recorded by an older release keeps its decisions' figures as evidence keys only.
    const window = { ...rec.window, decisions: (rec.window.decisions ?? []).map((d) => readFigures(d)) };
    const r = tune(window, { cpuBudget: rec.cpuBudget ?? null, settings: rec.settings });
    const decisions = r.decision ? [{ ...r.decision, ts: rec.window.now, step: rec.window.steps.at(-1)?.step ?? null }] : [];
    return { kind: 'window', decisions, status: r.status, t0: rec.window.now };
  }
  if ('run' in rec) return replayRun(rec);
  if ('scenario' in rec) {
    const sim = simulate(scenarioByName(rec.scenario), { steps: rec.steps ?? 3000, seed: rec.seed ?? 1 });
    return { kind: 'scenario', decisions: sim.decisions, status: sim.status as TuneResult['status'] | null, t0: sim.startTs };
  }
  throw new ReplayError('a recording has "window", "run" or "scenario" at its top level');
}
