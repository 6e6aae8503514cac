// Step reports: written a batch per transaction, read back in step order.
import type { Database } from 'better-sqlite3';
import type { StepPoint } from '../../tuner/window.js';

interface StepRow {
  rank: number; step: number; ts: number; duration_s: number; data_wait_s: number; samples: number;
  loss: number | null; mem_peak_bytes: number | null; grad_sq_norm: number | null; grad_sq_norm_small: number | null;
  world_size: number; config_version: number;
}

export function rowToStep(r: StepRow): StepPoint {
  return {
    step: r.step,
    ts: r.ts,
    durationS: r.duration_s,
    dataWaitS: r.data_wait_s,
    samples: r.samples,
    loss: r.loss,
    memPeakBytes: r.mem_peak_bytes,
    gradSqNorm: r.grad_sq_norm,
    gradSqNormSmall: r.grad_sq_norm_small,
    rank: r.rank,
    worldSize: r.world_size,
    configVersion: r.config_version,
  };
}

export function createStepsRepo(db: Database) {
  // OR IGNORE: a client that retries a batch it already sent (lost reply) must not fail or double count.
  const insert = db.prepare(
    `INSERT OR IGNORE INTO steps (run_id, rank, step, ts, duration_s, data_wait_s, samples, loss, mem_peak_bytes,
       grad_sq_norm, grad_sq_norm_small, world_size, config_version)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const after = db.prepare(
    `SELECT * FROM steps WHERE run_id = ? AND step > ? ORDER BY step, rank LIMIT ?`,
  );
  const latest = db.prepare(
    `SELECT * FROM (SELECT * FROM steps WHERE run_id = ? ORDER BY step DESC, rank DESC LIMIT ?) ORDER BY step, rank`,
  );
  const totals = db.prepare(
    `SELECT count(*) AS n, coalesce(sum(samples), 0) AS samples FROM steps WHERE run_id = ?`,
  );
  const lastLoss = db.prepare(
    `SELECT loss FROM steps WHERE run_id = ? AND loss IS NOT NULL ORDER BY step DESC LIMIT 1`,
  );

  return {
    /** Inserts the batch; returns the points that were new (duplicates of stored steps are skipped). */
    insertMany(runId: string, steps: StepPoint[]): StepPoint[] {
      const fresh: StepPoint[] = [];
      for (const s of steps) {
        const r = insert.run(
          runId, s.rank, s.step, s.ts, s.durationS, s.dataWaitS, s.samples, s.loss, s.memPeakBytes,
          s.gradSqNorm, s.gradSqNormSmall, s.worldSize, s.configVersion,
        );
        if (r.changes > 0) fresh.push(s);
      }
      return fresh;
    },
    after(runId: string, afterStep: number, limit: number): StepPoint[] {
      return (after.all(runId, afterStep, limit) as StepRow[]).map(rowToStep);
    },
    latest(runId: string, limit: number): StepPoint[] {
      return (latest.all(runId, limit) as StepRow[]).map(rowToStep);
    },
    totals(runId: string): { steps: number; samples: number; lastLoss: number | null } {
      const t = totals.get(runId) as { n: number; samples: number };
      const l = lastLoss.get(runId) as { loss: number } | undefined;
      return { steps: t.n, samples: t.samples, lastLoss: l ? l.loss : null };
    },
  };
}

export type StepsRepo = ReturnType<typeof createStepsRepo>;
