// The store: SQLite persistence, and nothing else. Each operation that writes several rows does it
// in one transaction; a write that contradicts the stored state throws a domain error (errors.ts)
// before anything is written. The live state of runs, metric labels, long-polls and the tuner's
// window are the server's (server/runs/); HTTP status codes are the error handler's.
import type { Database } from 'better-sqlite3';
import type { Snapshot } from '../collectors/readings.js';
import type { Decision, DecisionOutcome, DecisionRecord } from '../domain/decisions.js';
import type { RunConfig, TuneSettings } from '../domain/config.js';
import { END_EVENT_KINDS, type RunEventKind, type RunEventPoint } from '../domain/events.js';
import type { StepPoint } from '../domain/steps.js';
import { openDatabase } from './db.js';
import { ConflictError, NotFoundError, StaleVersionError } from './errors.js';
import { createEventsRepo } from './events.js';
import { createCheckpointer } from './checkpointer.js';
import { createRetentionSweep } from './retention.js';
import { createRunsRepo, newRunId, type ConfigVersionRecord, type RunRecord } from './runs.js';
import { createSamplesRepo, type SeriesName } from './samples.js';
import { createStatusRepo, type StoredStatus } from './status.js';
import { createStepsRepo } from './steps.js';

export interface StoreOptions {
  path: string;
  now?: () => number; // unix seconds
  /** Keep read copies of run records, events and decisions between writes (default). Off only to measure what that saves (bench/store-reads). */
  cacheReads?: boolean;
}

export interface NewEvent {
  kind: RunEventKind;
  step: number | null;
  ts: number;
  data: Record<string, unknown>;
}

/** A step report as it arrives: without a config version it ran under the run's newest applied one. */
export type NewStep = Omit<StepPoint, 'configVersion'> & { configVersion: number | null };

export interface RetentionResult {
  samples: number;
  steps: number;
  events: number;
  /** Ids of the ended runs that were deleted. */
  runs: string[];
}


export function openStore(opts: StoreOptions) {
  const db: Database = openDatabase(opts.path);
  const now = opts.now ?? (() => Date.now() / 1000);
  const cache = opts.cacheReads ?? true;
  const runs = createRunsRepo(db, { cache });
  const steps = createStepsRepo(db);
  /** better-sqlite3 builds a wrapper (and its deferred/immediate/exclusive variants) per transaction(): made once. */
  const insertSteps = db.transaction((runId: string, points: StepPoint[]) => steps.insertMany(runId, points));
  const events = createEventsRepo(db, { cache });
  const samples = createSamplesRepo(db);
  const status = createStatusRepo(db);
  const checkpoints = opts.path === ':memory:' ? null : createCheckpointer(db, db.name);

  const retentionSweep = (retentionS: number): { next(): boolean; result(): RetentionResult } => {
    const sweep = createRetentionSweep(db, { deleteEvents: (c) => events.deleteBefore(c), deleteEndedRuns: (c) => runs.deleteEndedBefore(c) }, now() - retentionS);
    return {
      next(): boolean {
        if (sweep.next()) return true;
        events.forgetAll(); // the deleted runs' events and decisions went with them (ON DELETE CASCADE)
        return false;
      },
      result: (): RetentionResult => ({ ...sweep.counts, runs: sweep.ended() }),
    };
  };

  const mustGet = (id: string): RunRecord => {
    const run = runs.get(id);
    if (!run) throw new NotFoundError(`no run with id ${JSON.stringify(id)}`);
    return run;
  };
  const newVersion = (run: RunRecord, config: RunConfig, source: ConfigVersionRecord['source'], reason: string, decisionId: number | null): number => {
    const version = run.configVersion + 1;
    runs.addVersion(run.id, version, config, now(), source, reason, decisionId);
    return version;
  };

  return {
    db,
    now,

    // ---- runs ----
    registerRun(input: { name: string; pid: number | null; config: RunConfig | null; tune: TuneSettings; cpuBudget?: RunRecord['cpuBudget']; id?: string; version?: number }): RunRecord {
      // id and version: a node's copy of a data-parallel run, under rank 0's id and version (DESIGN §9).
      const id = input.id ?? newRunId(now());
      if (input.id !== undefined && runs.get(id)) throw new ConflictError(`id: run ${id} exists`);
      db.transaction(() => {
        runs.insert({ id, name: input.name, pid: input.pid, now: now(), tune: input.tune, config: input.config, cpuBudget: input.cpuBudget ?? null, version: input.version });
        events.addEvent(id, { ts: now(), kind: 'started', step: null, data: { pid: input.pid } });
      })();
      return runs.get(id)!;
    },
    /** The run, or NotFoundError. */
    getRun: mustGet,
    /** The run, or undefined. */
    findRun(id: string): RunRecord | undefined {
      return runs.get(id);
    },
    listRuns(limit = 100): RunRecord[] {
      return runs.list(limit);
    },
    activeRuns(): RunRecord[] {
      return runs.active();
    },
    /** The job's pid, for a run registered before its process started (`trainpilot run`). */
    setPid(runId: string, pid: number): RunRecord {
      const run = mustGet(runId);
      if (run.pid !== null && run.pid !== pid) throw new ConflictError(`pid: run ${runId} already watches pid ${run.pid}`);
      if (run.state !== 'running') throw new ConflictError(`pid: run ${runId} has ended (${run.state})`);
      runs.setPid(runId, pid);
      return runs.get(runId)!;
    },

    // ---- config versions ----
    /** A config set by a user or an attaching client; StaleVersionError when expectedVersion is not the current one. */
    setConfig(runId: string, config: RunConfig, o: { expectedVersion: number | null; tune: TuneSettings | null; source: 'user' | 'client'; reason: string }): RunRecord {
      const run = mustGet(runId);
      if (o.expectedVersion !== null && o.expectedVersion !== run.configVersion) {
        throw new StaleVersionError(`config_version: expected ${o.expectedVersion} but run ${runId} is at version ${run.configVersion}`);
      }
      db.transaction(() => {
        if (o.tune) runs.setTune(runId, o.tune);
        const version = newVersion(run, config, o.source, o.reason, null);
        // A job attaching with its own config is already running with it: applied as it is set.
        if (o.source === 'client') runs.markApplied(runId, version, now(), null);
      })();
      return runs.get(runId)!;
    },
    /** A node's copy takes a version rank 0's sidecar made, under its number. */
    mirrorConfig(runId: string, version: number, config: RunConfig, reason: string): RunRecord {
      const run = mustGet(runId);
      if (version <= run.configVersion) return run;
      runs.addVersion(runId, version, config, now(), 'client', reason, null); // the config_applied event that carried it marks it applied
      return runs.get(runId)!;
    },
    configVersion(runId: string, version: number): ConfigVersionRecord | undefined {
      return runs.version(runId, version);
    },
    configVersions(runId: string): ConfigVersionRecord[] {
      mustGet(runId);
      return runs.versions(runId);
    },

    // ---- step reports ----
    /** One transaction per batch; returns the reports that were new (a retried batch's repeats are skipped). */
    /**
     * The batch's own objects become the stored points: a report without a config version is given
     * the run's applied one in place, not copied (ingest makes each report once; docs/footprint.md).
     */
    addSteps(runId: string, batch: NewStep[]): { run: RunRecord; fresh: StepPoint[] } {
      const run = mustGet(runId);
      for (const s of batch) s.configVersion ??= run.appliedVersion;
      const fresh = insertSteps(runId, batch as StepPoint[]);
      checkpoints?.committed();
      return { run, fresh };
    },
    steps(runId: string, afterStep: number, limit: number): StepPoint[] {
      mustGet(runId);
      return steps.after(runId, afterStep, limit);
    },
    latestSteps(runId: string, limit: number): StepPoint[] {
      return steps.latest(runId, limit);
    },
    stepTotals(runId: string): { steps: number; samples: number; lastLoss: number | null } {
      return steps.totals(runId);
    },

    // ---- events ----
    /**
     * Stores the event; config_applied marks its version applied, finished/failed/exited end the run.
     * A run ends once: an end event for a run that has ended is dropped (`dropped`), except finished
     * or failed after an exited the sampler saw first. The job's client and `trainpilot run` both
     * report a clean end; the run keeps one `finished`.
     */
    addEvent(runId: string, e: NewEvent): { before: RunRecord; after: RunRecord; dropped: boolean } {
      const before = mustGet(runId);
      if (END_EVENT_KINDS.has(e.kind) && before.state !== 'running' && !(before.state === 'exited' && e.kind !== 'exited')) {
        return { before, after: before, dropped: true };
      }
      db.transaction(() => {
        if (e.kind === 'config_applied') {
          const version = e.data.version as number;
          if (!runs.version(runId, version)) {
            throw new StaleVersionError(`data.version: run ${runId} has no config version ${version} (newest is ${before.configVersion})`);
          }
          runs.markApplied(runId, version, e.ts, e.step);
        }
        events.addEvent(runId, e);
        if (END_EVENT_KINDS.has(e.kind)) runs.end(runId, e.kind as 'finished' | 'failed' | 'exited', e.ts);
      })();
      return { before, after: runs.get(runId)!, dropped: false };
    },
    events(runId: string, limit = 200): RunEventPoint[] {
      mustGet(runId);
      return events.events(runId, limit);
    },
    /** Distinct batch sizes that ran out of memory, over the run's whole history. */
    oomBatchSizes(runId: string): number[] {
      return events.oomBatchSizes(runId);
    },

    // ---- decisions ----
    /** Writes the decision, and a config version when `apply`; one transaction. */
    addDecision(runId: string, d: Decision, o: { apply: boolean; step: number | null }): DecisionRecord {
      const run = mustGet(runId);
      const id = db.transaction(() => {
        const version = o.apply ? run.configVersion + 1 : null;
        const decisionId = events.addDecision(runId, d, now(), o.step, version);
        if (o.apply) newVersion(run, d.configAfter, 'tuner', d.reason, decisionId);
        return decisionId;
      })();
      return events.decisions(runId, 100).find((x) => x.id === id)!;
    },
    setOutcome(runId: string, decisionId: number, outcome: DecisionOutcome): void {
      events.setOutcome(runId, decisionId, outcome);
    },
    /** Changes whenever the run's events, decisions or their outcomes may have (events.ts). */
    eventsRevision: (runId: string): string => events.revision(runId),
    decisions(runId: string, limit = 1000): DecisionRecord[] {
      mustGet(runId);
      return events.decisions(runId, limit);
    },
    /** How many decisions the run has per knob and action (advice-only ones counted as `advise`). */
    decisionCounts(runId: string): Array<{ knob: string; action: string; n: number }> {
      return events.decisionCounts(runId);
    },

    // ---- the tuner's last word on a run ----
    setStatus(runId: string, s: StoredStatus): void {
      status.set(runId, now(), s);
    },
    lastStatus(runId: string): StoredStatus | null {
      return status.get(runId);
    },

    // ---- samples ----
    recordSnapshot(s: Snapshot): void {
      samples.record(s);
    },
    series(runId: string, name: SeriesName, from: number, to: number, limit: number): Array<[number, number | null]> {
      mustGet(runId);
      return samples.series(runId, name, from, to, limit);
    },

    /** Drops samples, steps and events older than the cutoff, and the runs that ended before it: all at once, one transaction. */
    applyRetention(retentionS: number): RetentionResult {
      const sweep = retentionSweep(retentionS);
      db.transaction(() => {
        while (sweep.next());
      })();
      return sweep.result();
    },
    /**
     * The same in bounded parts (retention.ts): each next() deletes one chunk, in its own
     * statement, and says whether work remains; result() once it has said no.
     */
    retentionSweep,

    /** Where WAL checkpoints run now (checkpointer.ts), and the main thread's restarts of the WAL. */
    checkpoints: () => ({ mode: checkpoints?.mode() ?? 'sqlite', ...(checkpoints?.stats() ?? { restarts: 0, maxRestartMs: 0 }) }),

    close(): void {
      if (!db.open) return;
      checkpoints?.close();
      try {
        samples.flush();
      } catch {
        // collector samples only; a store that cannot write still closes
      }
      db.close();
    },
  };
}

export type Store = ReturnType<typeof openStore>;
