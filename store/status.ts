// What the tuner last said of each run (bottleneck, evidence, advice), one row per run. The live
// status is the hub's, in memory; this copy is what a finished run (or a restarted sidecar) keeps.
import type { Database } from 'better-sqlite3';
import type { Advice } from '../domain/decisions.js';

export interface StoredStatus {
  bottleneck: string;
  evidence: Record<string, unknown>;
  advice: Advice[];
}

export function createStatusRepo(db: Database) {
  const upsert = db.prepare(
    `INSERT INTO run_status (run_id, ts, status) VALUES (?, ?, ?)
     ON CONFLICT (run_id) DO UPDATE SET ts = excluded.ts, status = excluded.status`,
  );
  const select = db.prepare(`SELECT status FROM run_status WHERE run_id = ?`).pluck();
  return {
    set(runId: string, ts: number, status: StoredStatus): void {
      upsert.run(runId, ts, JSON.stringify(status));
    },
    get(runId: string): StoredStatus | null {
      const text = select.get(runId) as string | undefined;
      return text === undefined ? null : (JSON.parse(text) as StoredStatus);
    },
  };
}
