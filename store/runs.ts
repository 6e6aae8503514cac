// Runs and their versioned configs.
import type { Database } from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import type { RunConfig, TuneSettings } from '../domain/config.js';

import type { RunState } from '../domain/run-states.js';

export interface RunRecord {
  id: string;
  name: string;
  pid: number | null;
  createdAt: number;
  endedAt: number | null;
  state: RunState;
  tune: TuneSettings;
  config: RunConfig | null; // null until the job says what it runs with (a watch-only run)
  configVersion: number; // 0 while config is null
  appliedVersion: number;
  /** The CPU budget the job reported from inside itself at registration, null when it sent none. */
  cpuBudget: { cores: number; source: string } | null;
}

export interface ConfigVersionRecord {
  version: number;
  config: RunConfig;
  createdAt: number;
  source: 'initial' | 'tuner' | 'user' | 'client';
  reason: string;
  decisionId: number | null;
  appliedAt: number | null;
  appliedStep: number | null;
}

interface RunRow {
  id: string; name: string; pid: number | null; created_at: number; ended_at: number | null;
  state: RunState; tune: string; config_version: number; applied_version: number; config: string | null;
  cpu_budget: string | null;
}

/** Short, unguessable-enough, URL-safe run ids: time-ordered prefix plus randomness. */
export function newRunId(now: number): string {
  return `r${Math.floor(now).toString(36)}${randomBytes(5).toString('hex')}`;
}

export function createRunsRepo(db: Database, opts: { cache?: boolean } = {}) {
  const insertRun = db.prepare(
    `INSERT INTO runs (id, name, pid, created_at, ended_at, state, tune, config_version, applied_version, cpu_budget)
     VALUES (@id, @name, @pid, @created_at, NULL, 'running', @tune, @config_version, @applied_version, @cpu_budget)`,
  );
  const selectRun = db.prepare(
    `SELECT r.*, c.config AS config FROM runs r
     LEFT JOIN config_versions c ON c.run_id = r.id AND c.version = r.config_version WHERE r.id = ?`,
  );
  const selectRuns = db.prepare(
    `SELECT r.*, c.config AS config FROM runs r
     LEFT JOIN config_versions c ON c.run_id = r.id AND c.version = r.config_version
     ORDER BY r.created_at DESC LIMIT ?`,
  );
  const selectActive = db.prepare(
    `SELECT r.*, c.config AS config FROM runs r
     LEFT JOIN config_versions c ON c.run_id = r.id AND c.version = r.config_version WHERE r.state = 'running'`,
  );
  const insertVersion = db.prepare(
    `INSERT INTO config_versions (run_id, version, config, created_at, source, reason, decision_id)
     VALUES (?, ?, ?, ?, ?, ?, ?)`,
  );
  const bumpVersion = db.prepare(`UPDATE runs SET config_version = ? WHERE id = ?`);
  const setTune = db.prepare(`UPDATE runs SET tune = ? WHERE id = ?`);
  const setPid = db.prepare(`UPDATE runs SET pid = ? WHERE id = ?`);
  const markApplied = db.prepare(
    `UPDATE config_versions SET applied_at = ?, applied_step = ? WHERE run_id = ? AND version = ? AND applied_at IS NULL`,
  );
  const setApplied = db.prepare(`UPDATE runs SET applied_version = max(applied_version, ?) WHERE id = ?`);
  // The sampler may see the pid vanish (exited) a moment before the job or `trainpilot run` says how
  // it ended; finished/failed carry more, so they replace exited, keeping the first end time.
  const endRun = db.prepare(
    `UPDATE runs SET state = @state, ended_at = coalesce(ended_at, @now)
     WHERE id = @id AND (state = 'running' OR (state = 'exited' AND @state IN ('finished', 'failed')))`,
  );
  const selectEndedBefore = db.prepare(`SELECT id FROM runs WHERE ended_at IS NOT NULL AND ended_at < ?`).pluck();
  const deleteEndedBefore = db.prepare(`DELETE FROM runs WHERE ended_at IS NOT NULL AND ended_at < ?`);
  const selectVersions = db.prepare(`SELECT * FROM config_versions WHERE run_id = ? ORDER BY version`);
  const selectVersion = db.prepare(`SELECT * FROM config_versions WHERE run_id = ? AND version = ?`);

  const toRun = (r: RunRow): RunRecord => ({
    id: r.id,
    name: r.name,
    pid: r.pid,
    createdAt: r.created_at,
    endedAt: r.ended_at,
    state: r.state,
    tune: JSON.parse(r.tune) as TuneSettings,
    config: r.config === null ? null : (JSON.parse(r.config) as RunConfig),
    configVersion: r.config_version,
    appliedVersion: r.applied_version,
    cpuBudget: r.cpu_budget ? (JSON.parse(r.cpu_budget) as RunRecord['cpuBudget']) : null,
  });
  const toVersion = (r: Record<string, unknown>): ConfigVersionRecord => ({
    version: r.version as number,
    config: JSON.parse(r.config as string) as RunConfig,
    createdAt: r.created_at as number,
    source: r.source as ConfigVersionRecord['source'],
    reason: r.reason as string,
    decisionId: r.decision_id as number | null,
    appliedAt: r.applied_at as number | null,
    appliedStep: r.applied_step as number | null,
  });

  // Every route and tick looks runs up; keep the records in memory and drop one whenever it is written.
  const cache = new Map<string, RunRecord>();
  /** Ids of the running runs, read again after any write to a run (writes are rare; the tuner asks every tick). */
  let activeIds: string[] | null = null;
  const forget = (id: string) => {
    activeIds = null;
    cache.delete(id);
  };

  function getRun(id: string): RunRecord | undefined {
    const hit = cache.get(id);
    if (hit) return hit;
    const row = selectRun.get(id) as RunRow | undefined;
    if (!row) return undefined;
    const run = Object.freeze(toRun(row));
    if (opts.cache !== false) cache.set(id, run);
    return run;
  }

  return {
    forget,
    insert(input: { id: string; name: string; pid: number | null; now: number; tune: TuneSettings; config: RunConfig | null; cpuBudget?: RunRecord['cpuBudget']; version?: number }): void {
      const v = input.version ?? 1; // a node's copy of a run keeps the number rank 0's sidecar gave its config
      activeIds = null;
      db.transaction(() => {
        insertRun.run({
          id: input.id, name: input.name, pid: input.pid, created_at: input.now, tune: JSON.stringify(input.tune),
          config_version: input.config ? v : 0, applied_version: input.config ? v : 0,
          cpu_budget: input.cpuBudget ? JSON.stringify(input.cpuBudget) : null,
        });
        if (input.config) {
          insertVersion.run(input.id, v, JSON.stringify(input.config), input.now, 'initial', 'registered', null);
          markApplied.run(input.now, null, input.id, v);
        }
      })();
    },
    get: getRun,
    list(limit: number): RunRecord[] {
      return (selectRuns.all(limit) as RunRow[]).map(toRun);
    },
    active(): RunRecord[] {
      if (activeIds === null) {
        const rows = selectActive.all() as RunRow[];
        if (opts.cache !== false && !db.inTransaction) activeIds = rows.map((r) => r.id); // a rolled-back registration must not stay listed
        return rows.map(toRun);
      }
      const out: RunRecord[] = [];
      for (const id of activeIds) {
        const run = getRun(id);
        if (run?.state === 'running') out.push(run);
      }
      return out;
    },
    /** Writes config version current+1; the caller holds the transaction and has checked the run. */
    addVersion(runId: string, version: number, config: RunConfig, now: number, source: ConfigVersionRecord['source'], reason: string, decisionId: number | null): void {
      forget(runId);
      insertVersion.run(runId, version, JSON.stringify(config), now, source, reason, decisionId);
      bumpVersion.run(version, runId);
    },
    setPid(runId: string, pid: number): void {
      forget(runId);
      setPid.run(pid, runId);
    },
    setTune(runId: string, tune: TuneSettings): void {
      forget(runId);
      setTune.run(JSON.stringify(tune), runId);
    },
    markApplied(runId: string, version: number, now: number, step: number | null): void {
      forget(runId);
      markApplied.run(now, step, runId, version);
      setApplied.run(version, runId);
    },
    end(runId: string, state: Exclude<RunState, 'running'>, now: number): boolean {
      forget(runId);
      return endRun.run({ state, now, id: runId }).changes > 0;
    },
    /**
     * Retention: deletes the runs that ended before the cutoff (their steps, events, decisions and
     * versions go with them: ON DELETE CASCADE) and returns their ids.
     */
    deleteEndedBefore(cutoff: number): string[] {
      const ids = selectEndedBefore.all(cutoff) as string[];
      for (const id of ids) forget(id);
      deleteEndedBefore.run(cutoff);
      return ids;
    },
    versions(runId: string): ConfigVersionRecord[] {
      return (selectVersions.all(runId) as Record<string, unknown>[]).map(toVersion);
    },
    version(runId: string, version: number): ConfigVersionRecord | undefined {
      const row = selectVersion.get(runId, version) as Record<string, unknown> | undefined;
      return row && toVersion(row);
    },
  };
}

export type RunsRepo = ReturnType<typeof createRunsRepo>;
