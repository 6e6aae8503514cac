// Retention in bounded parts: samples, steps, events and the runs that ended, older than a cutoff,
// deleted a small chunk per call, so the sidecar can let requests in between (server/sidecar.ts).
// One DELETE over the whole steps table (it has no index on ts) read every row in one go: with
// 64 runs × 100 steps/s for 10 minutes that was 3.8 M rows and seconds on the main thread, at the
// moment the 10-minute timer fell (bench/load; issue 23). Each chunk is one statement, atomic as
// the one DELETE was, and a sweep cut short (shutdown) leaves a consistent store: the next sweep
// goes on from the start.
//
// Steps are walked per run in step order (the primary key, run_id, step, rank), a window of
// STEP_WINDOW steps a time, and a run's walk stops at the first window with nothing older than
// the cutoff: a job's steps come in step order with growing timestamps, so what lies beyond is
// newer. (A step with a timestamp out of that order, beyond a newer window, waits for a later
// sweep or for its run's end: retention keeps it longer, never loses data it should keep.)
import type { Database } from 'better-sqlite3';

/** Steps per window of one run's walk (rows: this times its ranks). */
const STEP_WINDOW = 2000;
/** Samples per chunk (samples_ts index). */
const SAMPLE_CHUNK = 2000;

export interface RetentionCounts {
  samples: number;
  steps: number;
  events: number;
}

export interface RetentionParts {
  /** Ended runs deleted (their remaining rows go with them: ON DELETE CASCADE); their ids. */
  deleteEndedRuns(cutoff: number): string[];
  /** Events older than the cutoff (a small table: one statement); how many. */
  deleteEvents(cutoff: number): number;
}

/**
 * A sweep: each next() deletes one chunk and says whether work remains; counts holds what went.
 * The ended runs go last, after their steps went in windows, so their cascade is small.
 */
export function createRetentionSweep(db: Database, parts: RetentionParts, cutoff: number) {
  const samples = db.prepare(`DELETE FROM samples WHERE rowid IN (SELECT rowid FROM samples WHERE ts < ? LIMIT ${SAMPLE_CHUNK})`);
  const runIds = db.prepare(`SELECT id FROM runs`).pluck();
  const firstStep = db.prepare(`SELECT step FROM steps WHERE run_id = ? AND step > ? ORDER BY step LIMIT 1`).pluck();
  const stepWindow = db.prepare(`DELETE FROM steps WHERE run_id = ? AND step >= ? AND step < ? AND ts < ?`);
  const counts: RetentionCounts = { samples: 0, steps: 0, events: 0 };
  let ended: string[] | null = null;
  let phase: 'samples' | 'steps' | 'rest' | 'done' = 'samples';
  let runs: string[] = [];
  let run = 0;
  let after = -Infinity;

  const next = (): boolean => {
    switch (phase) {
      case 'samples': {
        const n = samples.run(cutoff).changes;
        counts.samples += n;
        if (n < SAMPLE_CHUNK) {
          phase = 'steps';
          runs = runIds.all() as string[];
        }
        return true;
      }
      case 'steps': {
        if (run >= runs.length) {
          phase = 'rest';
          return true;
        }
        const from = firstStep.get(runs[run], after) as number | undefined;
        const n = from === undefined ? 0 : stepWindow.run(runs[run], from, from + STEP_WINDOW, cutoff).changes;
        counts.steps += n;
        if (n === 0) {
          run++;
          after = -Infinity;
        } else after = from! + STEP_WINDOW - 1;
        return true;
      }
      case 'rest':
        counts.events += parts.deleteEvents(cutoff);
        ended = parts.deleteEndedRuns(cutoff);
        phase = 'done';
        return false;
      case 'done':
        return false;
    }
  };
  return { next, counts, ended: (): string[] => ended ?? [] };
}
