// Run events (oom, epoch_end, config_applied, finished, …) and the tuner's decisions.
import type { Database } from 'better-sqlite3';
import type { Decision, DecisionOutcome, DecisionRecord } from '../domain/decisions.js';
import { readFigures } from '../domain/measured.js';
import type { RunEventKind, RunEventPoint } from '../domain/events.js';

function deepFreeze<T>(v: T): T {
  if (v !== null && typeof v === 'object' && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v)) deepFreeze(x);
  }
  return v;
}

export function createEventsRepo(db: Database, opts: { cache?: boolean } = {}) {
  const insertEvent = db.prepare(`INSERT INTO events (run_id, ts, kind, step, data) VALUES (?, ?, ?, ?, ?)`);
  const selectEvents = db.prepare(
    `SELECT * FROM (SELECT * FROM events WHERE run_id = ? ORDER BY id DESC LIMIT ?) ORDER BY id`,
  );
  const oomSizes = db.prepare(
    `SELECT DISTINCT CAST(json_extract(data, '$.batch_size') AS INTEGER) AS b FROM events
     WHERE run_id = ? AND kind = 'oom' AND json_extract(data, '$.batch_size') IS NOT NULL`,
  );
  const insertDecision = db.prepare(
    `INSERT INTO decisions (run_id, ts, step, knob, action, reason, evidence, config_before, config_after, advice,
       recommend_only, config_version, outcome, measured_before, measured_rejected, basis) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const selectDecisions = db.prepare(
    `SELECT * FROM (SELECT * FROM decisions WHERE run_id = ? ORDER BY id DESC LIMIT ?) ORDER BY id`,
  );
  const updateOutcome = db.prepare(`UPDATE decisions SET outcome = ? WHERE run_id = ? AND id = ?`);
  // A decision that changed nothing (advice only, advise mode, a watch-only run) has no config
  // version: it counts as `advise`, whatever action it named.
  const countDecisions = db.prepare(
    `SELECT knob, CASE WHEN config_version IS NULL THEN 'advise' ELSE action END AS action, count(*) AS n
     FROM decisions WHERE run_id = ? GROUP BY 1, 2 ORDER BY 1, 2`,
  );

  const deleteBefore = db.prepare(`DELETE FROM events WHERE ts < ?`);

  const toEvent = (r: Record<string, unknown>): RunEventPoint => ({
    ts: r.ts as number,
    kind: r.kind as RunEventKind,
    step: r.step as number | null,
    data: JSON.parse(r.data as string) as Record<string, unknown>,
  });
  const toDecision = (r: Record<string, unknown>): DecisionRecord => readFigures({
    id: r.id as number,
    ts: r.ts as number,
    step: r.step as number | null,
    knob: r.knob as DecisionRecord['knob'],
    action: r.action as DecisionRecord['action'],
    reason: r.reason as string,
    evidence: JSON.parse(r.evidence as string),
    configBefore: JSON.parse(r.config_before as string),
    configAfter: JSON.parse(r.config_after as string),
    advice: JSON.parse(r.advice as string),
    recommendOnly: r.recommend_only === 1,
    configVersion: r.config_version as number | null,
    outcome: JSON.parse(r.outcome as string) as DecisionOutcome,
  }, {
    before: r.measured_before == null ? undefined : JSON.parse(r.measured_before as string),
    rejected: r.measured_rejected == null ? undefined : JSON.parse(r.measured_rejected as string),
    basis: r.basis == null ? undefined : JSON.parse(r.basis as string),
  });

  // The tuner reads every live run's events, decisions and OOM sizes each tick, and they rarely
  // change: reads are kept per run until that run's next write (or retention) drops them. Nothing
  // read inside a transaction is kept, so a rolled-back write never leaves its rows behind.
  const cached = new Map<string, Map<string, unknown>>();
  /** Per run, a count of its writes here; `everything` counts the writes that cut across runs. */
  const writes = new Map<string, number>();
  let everything = 0;
  const forget = (runId: string): void => {
    cached.delete(runId);
    writes.set(runId, (writes.get(runId) ?? 0) + 1);
  };
  function memo<T>(runId: string, key: string, read: () => T): T {
    const hit = cached.get(runId)?.get(key);
    if (hit !== undefined) return hit as T;
    const value = read();
    if (opts.cache !== false && !db.inTransaction) {
      let m = cached.get(runId);
      if (!m) cached.set(runId, (m = new Map()));
      m.set(key, value);
    }
    return value;
  }

  return {
    /** Drops every cached read (after deletes that cut across runs). */
    forgetAll(): void {
      cached.clear();
      writes.clear(); // deleted runs' counts with them; `everything` moves every other run's on
      everything++;
    },
    /**
     * Changes whenever the run's events, decisions or outcomes may have: what the tuner compares to
     * tell a run with nothing new (tuner/loop.ts inputs), without reading them.
     */
    revision(runId: string): string {
      return `${everything}.${writes.get(runId) ?? 0}`;
    },
    /** Retention: drops events older than the cutoff (unix seconds); every cached read goes with them. */
    deleteBefore(cutoff: number): number {
      cached.clear();
      everything++;
      return deleteBefore.run(cutoff).changes;
    },
    addEvent(runId: string, e: RunEventPoint): void {
      forget(runId);
      insertEvent.run(runId, e.ts, e.kind, e.step, JSON.stringify(e.data));
    },
    /** The newest `limit` events, oldest first. The array is the caller's; the records are shared and frozen. */
    events(runId: string, limit: number): RunEventPoint[] {
      return memo(runId, `e${limit}`, () =>
        Object.freeze((selectEvents.all(runId, limit) as Record<string, unknown>[]).map((r) => deepFreeze(toEvent(r))))).slice();
    },
    oomBatchSizes(runId: string): number[] {
      return memo(runId, 'oom', () =>
        Object.freeze((oomSizes.all(runId) as Array<{ b: number }>).map((r) => r.b).filter((b) => b > 0))).slice();
    },
    addDecision(runId: string, d: Decision, ts: number, step: number | null, configVersion: number | null): number {
      forget(runId);
      const outcome: DecisionOutcome = { status: 'pending' };
      const r = insertDecision.run(
        runId, ts, step, d.knob, d.action, d.reason, JSON.stringify(d.evidence), JSON.stringify(d.configBefore),
        JSON.stringify(d.configAfter), JSON.stringify(d.advice), d.recommendOnly ? 1 : 0, configVersion,
        JSON.stringify(outcome), d.before ? JSON.stringify(d.before) : null, d.rejected ? JSON.stringify(d.rejected) : null,
        d.basis ? JSON.stringify(d.basis) : null,
      );
      return Number(r.lastInsertRowid);
    },
    /** The newest `limit` decisions, oldest first. The array is the caller's; the records are shared and frozen. */
    decisions(runId: string, limit: number): DecisionRecord[] {
      return memo(runId, `d${limit}`, () =>
        Object.freeze((selectDecisions.all(runId, limit) as Record<string, unknown>[]).map((r) => deepFreeze(toDecision(r))))).slice();
    },
    setOutcome(runId: string, id: number, outcome: DecisionOutcome): boolean {
      forget(runId);
      return updateOutcome.run(JSON.stringify(outcome), runId, id).changes > 0;
    },
    decisionCounts(runId: string): Array<{ knob: string; action: string; n: number }> {
      return memo(runId, 'counts', () => Object.freeze(countDecisions.all(runId) as Array<{ knob: string; action: string; n: number }>)).slice();
    },
  };
}

export type EventsRepo = ReturnType<typeof createEventsRepo>;
