// The store: SQLite plus the live state of runs. The only shared state of the sidecar.
// Collectors hand it samples (recordSnapshot), the tuner reads windows and writes decisions
// through the TunerPorts functions, routes call the rest.
import type { Database } from 'better-sqlite3';
import type { Snapshot } from '../collectors/readings.js';
import type {
  Advice, Decision, DecisionOutcome, DecisionRecord, RunConfig, RunEventKind, StepPoint, TuneSettings, Window,
} from '../tuner/window.js';
import { ApiError, notFound } from '../server/errors.js';
import { createConfigWatch } from './config-watch.js';
import { openDatabase } from './db.js';
import { createEventsRepo } from './events.js';
import { addLiveSteps, addProcessReading, newLiveRun, RECENT_STEPS, type LiveRun, type RunStatus } from './live.js';
import { createRunsRepo, newRunId, NO_CONFIG, type ConfigVersionRecord, type RunRecord } from './runs.js';
import { createSamplesRepo, type SeriesName } from './samples.js';
import { createStepsRepo } from './steps.js';

export interface StoreOptions {
  path: string;
  now?: () => number; // unix seconds
}

export interface NewEvent {
  kind: RunEventKind;
  step: number | null;
  ts: number;
  data: Record<string, unknown>;
}

export type StoreEvent =
  | { type: 'steps'; run: RunRecord; label: string; steps: StepPoint[] }
  | { type: 'config'; run: RunRecord; version: number }
  | { type: 'ended'; run: RunRecord };

export function openStore(opts: StoreOptions) {
  const db: Database = openDatabase(opts.path);
  const now = opts.now ?? (() => Date.now() / 1000);
  const runs = createRunsRepo(db);
  const steps = createStepsRepo(db);
  const events = createEventsRepo(db);
  const samples = createSamplesRepo(db);
  const watch = createConfigWatch();
  const live = new Map<string, LiveRun>();
  const listeners = new Set<(e: StoreEvent) => void>();
  let latest: Snapshot | undefined;
  let closed = false;

  const emit = (e: StoreEvent) => {
    for (const l of listeners) l(e);
  };

  /** Live state, rebuilt from SQLite for a run the process has not seen yet (after a restart). */
  const liveOf = (run: RunRecord): LiveRun => {
    let l = live.get(run.id);
    if (!l) {
      l = newLiveRun();
      const t = steps.totals(run.id);
      l.recent = steps.latest(run.id, RECENT_STEPS);
      l.stepsTotal = t.steps;
      l.samplesTotal = t.samples;
      l.lastLoss = t.lastLoss;
      l.lastStepTs = l.recent.at(-1)?.ts ?? null;
      for (const c of events.decisionCounts(run.id)) l.decisionCounts.set(`${c.knob}\u0000${c.action}`, c.n);
      live.set(run.id, l);
    }
    return l;
  };

  const mustGet = (id: string): RunRecord => {
    const run = runs.get(id);
    if (!run) throw notFound(`no run with id ${JSON.stringify(id)}`);
    return run;
  };

  /**
   * A run's `run` label: its name, or name-<id suffix> when another run in memory already holds
   * that label. Given once, when the run enters memory, so a run's series never change label.
   */
  const labels = new Map<string, string>();
  const labelOf = (run: RunRecord): string => {
    let label = labels.get(run.id);
    // An ended run seen only through a listing reserves nothing: its series are gone.
    if (label === undefined && run.state !== 'running') return run.name;
    if (label === undefined) {
      const taken = new Set(labels.values());
      label = taken.has(run.name) ? `${run.name}-${run.id.slice(-6)}` : run.name;
      labels.set(run.id, label);
    }
    return label;
  };

  const newVersion = (run: RunRecord, config: RunConfig, source: ConfigVersionRecord['source'], reason: string, decisionId: number | null): number => {
    const version = run.configVersion + 1;
    runs.addVersion(run.id, version, config, now(), source, reason, decisionId);
    return version;
  };

  const afterVersion = (run: RunRecord) => {
    watch.notify(run.id);
    emit({ type: 'config', run: runs.get(run.id)!, version: runs.get(run.id)!.configVersion });
  };

const addEvent = (runId: string, e: NewEvent): RunRecord => {
    const run = mustGet(runId);
    db.transaction(() => {
      if (e.kind === 'config_applied') {
        const version = e.data.version as number;
        if (!runs.version(runId, version)) {
          throw new ApiError('stale_config_version', `data.version: run ${runId} has no config version ${version} (newest is ${run.configVersion})`);
        }
        runs.markApplied(runId, version, e.ts, e.step);
      }
      events.addEvent(runId, e);
      if (e.kind === 'finished' || e.kind === 'failed' || e.kind === 'exited') {
        runs.end(runId, e.kind, e.ts);
      }
    })();
    const after = runs.get(runId)!;
    if (after.state !== run.state) {
      watch.notify(runId);
      emit({ type: 'ended', run: after });
    }
    return after;
  };

  return {
    db,
    now,
    on(listener: (e: StoreEvent) => void): () => void {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },

    registerRun(input: { name: string; pid: number | null; config: RunConfig | null; tune: TuneSettings }): RunRecord {
      const id = newRunId(now());
      db.transaction(() => {
        runs.insert({ id, name: input.name, pid: input.pid, now: now(), tune: input.tune, config: input.config });
        events.addEvent(id, { ts: now(), kind: 'started', step: null, data: { pid: input.pid } });
      })();
      const run = runs.get(id)!;
      live.set(id, newLiveRun());
      labelOf(run);
      return run;
    },
    getRun(id: string): RunRecord {
      return mustGet(id);
    },
    listRuns(limit = 100): RunRecord[] {
      return runs.list(limit);
    },
    activeRuns(): RunRecord[] {
      return runs.active();
    },
    live(run: RunRecord): LiveRun {
      return liveOf(run);
    },
    label(run: RunRecord): string {
      return labelOf(run);
    },

    /** One transaction per batch. Steps without a config_version ran under the newest applied one. */
    addSteps(runId: string, batch: Array<Omit<StepPoint, 'configVersion'> & { configVersion: number | null }>): { accepted: number; duplicates: number; configVersion: number } {
      const run = mustGet(runId);
      const points: StepPoint[] = batch.map((s) => ({ ...s, configVersion: s.configVersion ?? run.appliedVersion }));
      const fresh = db.transaction(() => steps.insertMany(runId, points))();
      if (fresh.length > 0) {
        addLiveSteps(liveOf(run), fresh);
        emit({ type: 'steps', run, label: labelOf(run), steps: fresh });
      }
      return { accepted: batch.length, duplicates: batch.length - fresh.length, configVersion: run.configVersion };
    },
    steps(runId: string, afterStep: number, limit: number): StepPoint[] {
      mustGet(runId);
      return steps.after(runId, afterStep, limit);
    },

    addEvent,
    events(runId: string, limit = 200) {
      mustGet(runId);
      return events.events(runId, limit);
    },

    /** The job's pid, for a run registered before its process started (`trainpilot run`). */
    setPid(runId: string, pid: number): RunRecord {
      const run = mustGet(runId);
      if (run.pid !== null && run.pid !== pid) {
        throw new ApiError('conflict', `pid: run ${runId} already watches pid ${run.pid}`);
      }
      if (run.state !== 'running') throw new ApiError('conflict', `pid: run ${runId} has ended (${run.state})`);
      runs.setPid(runId, pid);
      return runs.get(runId)!;
    },
    /** A config set by a user or an attaching client; 409 when expectedVersion is stale. */
    setConfig(runId: string, config: RunConfig, opts: { expectedVersion: number | null; tune: TuneSettings | null; source: 'user' | 'client'; reason: string }): RunRecord {
      const run = mustGet(runId);
      if (opts.expectedVersion !== null && opts.expectedVersion !== run.configVersion) {
        throw new ApiError('stale_config_version', `config_version: expected ${opts.expectedVersion} but run ${runId} is at version ${run.configVersion}`);
      }
      db.transaction(() => {
        if (opts.tune) runs.setTune(runId, opts.tune);
        const version = newVersion(run, config, opts.source, opts.reason, null);
        // A job attaching with its own config is already running with it: applied as it is set.
        if (opts.source === 'client') runs.markApplied(runId, version, now(), null);
      })();
      afterVersion(run);
      return runs.get(runId)!;
    },
    configVersion(runId: string, version: number): ConfigVersionRecord | undefined {
      return runs.version(runId, version);
    },
    configVersions(runId: string): ConfigVersionRecord[] {
      mustGet(runId);
      return runs.versions(runId);
    },
    /** Long-poll: the run once its version exceeds `after`, or after waitS with the current one. */
    async waitForConfig(runId: string, after: number, waitS: number, signal?: AbortSignal): Promise<RunRecord> {
      const deadline = Date.now() + waitS * 1000;
      for (;;) {
        const run = mustGet(runId);
        const left = deadline - Date.now();
        if (run.configVersion > after || left <= 0 || run.state !== 'running' || closed || signal?.aborted) return run;
        await watch.wait(runId, left, signal);
      }
    },

    recordSnapshot(s: Snapshot): void {
      latest = s;
      for (const p of s.processes) {
        const run = runs.get(p.runId);
        if (run) addProcessReading(liveOf(run), p, s.ts);
      }
      samples.record(s);
    },
    snapshot(): Snapshot | undefined {
      return latest;
    },
    processExited(runId: string, pid: number): void {
      const run = runs.get(runId);
      if (!run || run.state !== 'running') return;
      addEvent(runId, { kind: 'exited', step: null, ts: now(), data: { pid } });
    },
    series(runId: string, name: SeriesName, from: number, to: number, limit: number) {
      mustGet(runId);
      return samples.series(runId, name, from, to, limit);
    },

    // ---- tuner ports (tuner/loop.ts TunerPorts) ----
    activeRunIds(): string[] {
      return runs.active().map((r) => r.id);
    },
    readWindow(runId: string): Window | undefined {
      const run = runs.get(runId);
      if (!run || run.state !== 'running') return undefined;
      const l = liveOf(run);
      const snap = latest;
      const proc = l.process;
      const gpuIdx = proc ? Object.keys(proc.gpuMemoryBytes).map(Number) : [];
      const gpus = snap?.gpus ? (gpuIdx.length ? snap.gpus.filter((g) => gpuIdx.includes(g.index)) : snap.gpus) : null;
      // A watch-only run (no config from the job) can be classified and advised, never changed.
      const config = run.config ?? NO_CONFIG;
      const tune = run.config ? run.tune : { ...run.tune, mode: run.tune.mode === 'off' ? 'off' : 'advise', knobs: [] } as TuneSettings;
      return Object.freeze({
        runId, now: now(), config, configVersion: run.configVersion, appliedVersion: run.appliedVersion, tune,
        steps: l.recent.slice(), events: events.events(runId, 200), decisions: events.decisions(runId, 100),
        oomBatchSizes: events.oomBatchSizes(runId), host: snap?.host ?? null, gpus, process: proc,
        processHistory: l.processHistory.slice(),
      });
    },
    applyDecision(runId: string, d: Decision): DecisionRecord {
      const run = mustGet(runId);
      const l = liveOf(run);
      const step = l.recent.at(-1)?.step ?? null;
      const apply = !d.recommendOnly && run.tune.mode === 'auto' && run.config !== null && run.state === 'running';
      const id = db.transaction(() => {
        const version = apply ? run.configVersion + 1 : null;
        const decisionId = events.addDecision(runId, d, now(), step, version);
        if (apply) newVersion(run, d.configAfter, 'tuner', d.reason, decisionId);
        return decisionId;
      })();
      const key = `${d.knob}\u0000${d.recommendOnly || !apply ? 'advise' : d.action}`;
      l.decisionCounts.set(key, (l.decisionCounts.get(key) ?? 0) + 1);
      if (apply) afterVersion(run);
      return events.decisions(runId, 100).find((x) => x.id === id)!;
    },
    setOutcome(runId: string, decisionId: number, outcome: DecisionOutcome): void {
      events.setOutcome(runId, decisionId, outcome);
    },
    setStatus(runId: string, status: { bottleneck: string; evidence: Record<string, unknown>; advice: Advice[] }): void {
      const run = runs.get(runId);
      if (run) liveOf(run).status = status as RunStatus;
    },
    decisions(runId: string, limit = 1000): DecisionRecord[] {
      mustGet(runId);
      return events.decisions(runId, limit);
    },

    /** Drops samples, steps and events older than the cutoff, and runs that ended before it. */
    applyRetention(retentionS: number): { samples: number; steps: number; runs: number } {
      const cutoff = now() - retentionS;
      return db.transaction(() => {
        const s = db.prepare(`DELETE FROM samples WHERE ts < ?`).run(cutoff).changes;
        const st = db.prepare(`DELETE FROM steps WHERE ts < ?`).run(cutoff).changes;
        db.prepare(`DELETE FROM events WHERE ts < ?`).run(cutoff);
        events.forgetAll();
        const old = db.prepare(`SELECT id FROM runs WHERE ended_at IS NOT NULL AND ended_at < ?`).all(cutoff) as Array<{ id: string }>;
        for (const r of old) {
          live.delete(r.id);
          labels.delete(r.id);
          runs.forget(r.id);
        }
        const r = db.prepare(`DELETE FROM runs WHERE ended_at IS NOT NULL AND ended_at < ?`).run(cutoff).changes;
        events.forgetAll(); // their events and decisions went with them (ON DELETE CASCADE)
        return { samples: s, steps: st, runs: r };
      })();
    },
    /** Forgets in-memory state of runs ended long enough ago (metrics series removed after this). */
    forgetEnded(afterS: number): void {
      for (const id of [...live.keys()]) {
        const run = runs.get(id);
        if (!run || (run.endedAt !== null && now() - run.endedAt > afterS)) {
          live.delete(id);
          labels.delete(id);
        }
      }
    },
    liveRunIds(): string[] {
      return [...live.keys()];
    },
    /** Wakes every long-poll so it answers now (shutdown). */
    releasePolls(): void {
      closed = true;
      watch.releaseAll();
    },
    waitingPolls(): number {
      return watch.waiting();
    },
    close(): void {
      closed = true;
      watch.releaseAll();
      if (db.open) db.close();
    },
    get closed() {
      return closed;
    },
  };
}

export type Store = ReturnType<typeof openStore>;
