// Collector samples: the run's process tree every tick, host and GPUs at a coarser interval
// (a week of 1 s host+8 GPU rows would be ~1.5 GB; a 10 s grid keeps it ~150 MB).
// The process rows of each tick are held and written with the host and GPU rows, one
// transaction every HOST_SAMPLE_EVERY_S rather than one a second (a commit each second was the
// idle sidecar's largest store cost, docs/footprint.md). A read of the series writes what is held
// first, so reads see every tick; a crash loses at most those seconds of collector samples,
// never anything a client sent.
import type { Database, Statement } from 'better-sqlite3';
import type { Snapshot } from '../collectors/readings.js';

/** Host and GPU rows are kept at most this often. */
export const HOST_SAMPLE_EVERY_S = 10;

/** Per-run series names served by GET /v1/runs/:id/series, and where each comes from. */
export const SERIES = {
  step_duration_seconds: { from: 'steps', expr: 'duration_s' },
  data_wait_seconds: { from: 'steps', expr: 'data_wait_s' },
  data_wait_ratio: { from: 'steps', expr: 'CASE WHEN duration_s > 0 THEN data_wait_s / duration_s ELSE 0 END' },
  // The job's samples/s over step time (tuner/throughput.ts, jobStepRate) of each rank-0 step.
  samples_per_second: { from: 'steps', expr: 'CASE WHEN duration_s > 0 THEN samples * world_size / duration_s ELSE NULL END' },
  loss: { from: 'steps', expr: 'CASE WHEN abs(loss) < 1e308 THEN loss END' },
  mem_peak_bytes: { from: 'steps', expr: 'mem_peak_bytes' },
  batch_size: { from: 'config', expr: "json_extract(config, '$.batch_size')" },
  learning_rate: { from: 'config', expr: "json_extract(config, '$.learning_rate')" },
  num_workers: { from: 'config', expr: "json_extract(config, '$.num_workers')" },
  grad_accum_steps: { from: 'config', expr: "json_extract(config, '$.grad_accum_steps')" },
  process_cpu_seconds_total: { from: 'process', expr: "json_extract(data, '$.cpuSecondsTotal')" },
  process_resident_memory_bytes: { from: 'process', expr: "json_extract(data, '$.residentMemoryBytes')" },
  process_workers: { from: 'process', expr: "json_extract(data, '$.workerCount')" },
} as const;

export type SeriesName = keyof typeof SERIES;

export function createSamplesRepo(db: Database) {
  const insert = db.prepare(`INSERT INTO samples (ts, source, run_id, key, data) VALUES (?, ?, ?, ?, ?)`);
  const series = new Map<SeriesName, Statement<unknown[]>>();
  for (const [name, def] of Object.entries(SERIES) as Array<[SeriesName, (typeof SERIES)[SeriesName]]>) {
    const sql =
      def.from === 'steps'
        ? `SELECT ts, ${def.expr} AS v FROM steps WHERE run_id = ? AND ts >= ? AND ts <= ? AND rank = 0 ORDER BY step LIMIT ?`
        : def.from === 'config'
          ? `SELECT created_at AS ts, ${def.expr} AS v FROM config_versions WHERE run_id = ? AND created_at >= ? AND created_at <= ? ORDER BY version LIMIT ?`
          : `SELECT ts, ${def.expr} AS v FROM samples WHERE run_id = ? AND source = 'process' AND ts >= ? AND ts <= ? ORDER BY ts LIMIT ?`;
    series.set(name, db.prepare(sql));
  }
  const deleteBefore = db.prepare(`DELETE FROM samples WHERE ts < ?`);
  let lastHostRow = -Infinity;
  /** Process rows not written yet: ts, run id, pid, the reading as JSON. */
  const held: Array<[number, string, string, string]> = [];

  // The held rows leave the buffer before the write: a store that cannot write (disk full) loses
  // those samples rather than holding more each tick.
  const write = db.transaction((rows: typeof held, s: Snapshot | null) => {
    for (const [ts, runId, pid, data] of rows) insert.run(ts, 'process', runId, pid, data);
    if (!s) return;
    if (s.host) insert.run(s.ts, 'host', null, '', JSON.stringify(s.host));
    for (const g of s.gpus ?? []) insert.run(s.ts, 'gpu', null, String(g.index), JSON.stringify(g));
  });
  const flush = () => {
    if (held.length > 0) write(held.splice(0), null);
  };

  return {
    /** Holds the tick's process rows; one transaction when host and GPU rows are due. */
    record(s: Snapshot): void {
      for (const p of s.processes) held.push([s.ts, p.runId, String(p.pid), JSON.stringify(p)]);
      if (s.ts - lastHostRow < HOST_SAMPLE_EVERY_S) return;
      lastHostRow = s.ts;
      write(held.splice(0), s);
    },
    /** Writes the held process rows (before reads, and at close). */
    flush,
    /** Retention: drops samples older than the cutoff (unix seconds); returns how many. */
    deleteBefore(cutoff: number): number {
      return deleteBefore.run(cutoff).changes;
    },
    series(runId: string, name: SeriesName, from: number, to: number, limit: number): Array<[number, number | null]> {
      if (SERIES[name].from === 'process') flush();
      const rows = series.get(name)!.all(runId, from, to, limit) as Array<{ ts: number; v: number | null }>;
      return rows.map((r) => [r.ts, r.v]);
    },
  };
}

export type SamplesRepo = ReturnType<typeof createSamplesRepo>;
