// Step reports: written a batch per transaction, read back in step order.
import type { Database } from 'better-sqlite3';
import type { StepPoint } from '../domain/steps.js';

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
  // Multi-row inserts: one statement per CHUNK rows cuts per-row VM and binding overhead ~3x.
  const CHUNK = 50;
  const COLS = 13;
  const insertChunk = db.prepare(
    `INSERT OR IGNORE INTO steps (run_id, rank, step, ts, duration_s, data_wait_s, samples, loss, mem_peak_bytes,
       grad_sq_norm, grad_sq_norm_small, world_size, config_version)
     VALUES ${Array.from({ length: CHUNK }, () => `(${Array(COLS).fill('?').join(', ')})`).join(', ')}`,
  );
  const params: unknown[] = new Array(CHUNK * COLS);
  const maxStep = db.prepare(`SELECT max(step) AS m FROM steps WHERE run_id = ? AND rank = ?`).pluck();
  /**
   * The newest stored step per run, by rank, so an in-order batch skips duplicate checks. By rank
   * in an array rather than a "run\0rank" key: no string is made per step (docs/footprint.md).
   */
  const newest = new Map<string, number[]>();
  const newestOf = (runId: string, rank: number): number => {
    let byRank = newest.get(runId);
    if (byRank === undefined) newest.set(runId, (byRank = []));
    let m = byRank[rank];
    if (m === undefined) {
      m = (maxStep.get(runId, rank) as number | null) ?? -1;
      byRank[rank] = m;
    }
    return m;
  };
  const setNewest = (runId: string, rank: number, step: number): void => {
    if (step > newestOf(runId, rank)) newest.get(runId)![rank] = step;
  };
  /** True when every step is above the stored ones and the batch has no repeats: all rows are new. */
  const allFresh = (runId: string, steps: StepPoint[]): boolean => {
    // A batch is usually one rank's steps in order: the map of each rank's last step is made
    // only when a second rank appears.
    let last: Map<number, number> | null = null;
    let rank = -1;
    let prev = -1;
    for (const s of steps) {
      if (s.rank !== rank) {
        if (rank !== -1) (last ??= new Map()).set(rank, prev);
        rank = s.rank;
        prev = last?.get(rank) ?? newestOf(runId, rank);
      }
      if (s.step <= prev) return false;
      prev = s.step;
    }
    return true;
  };
  const bind = (at: number, runId: string, s: StepPoint) => {
    params[at] = runId; params[at + 1] = s.rank; params[at + 2] = s.step; params[at + 3] = s.ts;
    params[at + 4] = s.durationS; params[at + 5] = s.dataWaitS; params[at + 6] = s.samples; params[at + 7] = s.loss;
    params[at + 8] = s.memPeakBytes; params[at + 9] = s.gradSqNorm; params[at + 10] = s.gradSqNormSmall;
    params[at + 11] = s.worldSize; params[at + 12] = s.configVersion;
  };
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
  const deleteBefore = db.prepare(`DELETE FROM steps WHERE ts < ?`);

  return {
    /** Inserts the batch; returns the points that were new (duplicates of stored steps are skipped). */
    insertMany(runId: string, steps: StepPoint[]): StepPoint[] {
      let fresh: StepPoint[] = [];
      if (allFresh(runId, steps)) {
        let i = 0;
        for (; i + CHUNK <= steps.length; i += CHUNK) {
          for (let j = 0; j < CHUNK; j++) bind(j * COLS, runId, steps[i + j]);
          insertChunk.run(params);
        }
        for (; i < steps.length; i++) {
          const s = steps[i];
          insert.run(runId, s.rank, s.step, s.ts, s.durationS, s.dataWaitS, s.samples, s.loss, s.memPeakBytes,
            s.gradSqNorm, s.gradSqNormSmall, s.worldSize, s.configVersion);
        }
        fresh = steps;
      } else for (const s of steps) {
        const r = insert.run(
          runId, s.rank, s.step, s.ts, s.durationS, s.dataWaitS, s.samples, s.loss, s.memPeakBytes,
          s.gradSqNorm, s.gradSqNormSmall, s.worldSize, s.configVersion,
        );
        if (r.changes > 0) fresh.push(s);
      }
      for (const s of fresh) setNewest(runId, s.rank, s.step);
      return fresh;
    },
    after(runId: string, afterStep: number, limit: number): StepPoint[] {
      return (after.all(runId, afterStep, limit) as StepRow[]).map(rowToStep);
    },
    latest(runId: string, limit: number): StepPoint[] {
      return (latest.all(runId, limit) as StepRow[]).map(rowToStep);
    },
    /** Retention: drops step reports older than the cutoff (unix seconds); returns how many. */
    deleteBefore(cutoff: number): number {
      return deleteBefore.run(cutoff).changes;
    },
    totals(runId: string): { steps: number; samples: number; lastLoss: number | null } {
      const t = totals.get(runId) as { n: number; samples: number };
      const l = lastLoss.get(runId) as { loss: number } | undefined;
      return { steps: t.n, samples: t.samples, lastLoss: l ? l.loss : null };
    },
  };
}

export type StepsRepo = ReturnType<typeof createStepsRepo>;
