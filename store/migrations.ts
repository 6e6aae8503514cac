// Versioned schema migrations, applied in order at start inside one transaction each.
// PRAGMA user_version holds the number of migrations applied (SQLite's own slot for it).
import type { Database } from 'better-sqlite3';

const MIGRATIONS: string[] = [
  // 1: the initial schema
  `
  CREATE TABLE runs (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    pid INTEGER,
    created_at REAL NOT NULL,
    ended_at REAL,
    state TEXT NOT NULL,
    tune TEXT NOT NULL,
    config_version INTEGER NOT NULL,
    applied_version INTEGER NOT NULL
  );
  CREATE TABLE config_versions (
    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    version INTEGER NOT NULL,
    config TEXT NOT NULL,
    created_at REAL NOT NULL,
    source TEXT NOT NULL,
    reason TEXT NOT NULL,
    decision_id INTEGER,
    applied_at REAL,
    applied_step INTEGER,
    PRIMARY KEY (run_id, version)
  ) WITHOUT ROWID;
  CREATE TABLE steps (
    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    rank INTEGER NOT NULL,
    step INTEGER NOT NULL,
    ts REAL NOT NULL,
    duration_s REAL NOT NULL,
    data_wait_s REAL NOT NULL,
    samples INTEGER NOT NULL,
    loss REAL,
    mem_peak_bytes REAL,
    grad_sq_norm REAL,
    grad_sq_norm_small REAL,
    world_size INTEGER NOT NULL,
    config_version INTEGER NOT NULL,
    PRIMARY KEY (run_id, step, rank)
  ) WITHOUT ROWID;
  CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    ts REAL NOT NULL,
    kind TEXT NOT NULL,
    step INTEGER,
    data TEXT NOT NULL
  );
  CREATE INDEX events_run ON events(run_id, id);
  CREATE TABLE decisions (
    id INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    ts REAL NOT NULL,
    step INTEGER,
    knob TEXT NOT NULL,
    action TEXT NOT NULL,
    reason TEXT NOT NULL,
    evidence TEXT NOT NULL,
    config_before TEXT NOT NULL,
    config_after TEXT NOT NULL,
    advice TEXT NOT NULL,
    recommend_only INTEGER NOT NULL,
    config_version INTEGER,
    outcome TEXT NOT NULL
  );
  CREATE INDEX decisions_run ON decisions(run_id, id);
  CREATE TABLE samples (
    ts REAL NOT NULL,
    source TEXT NOT NULL,
    run_id TEXT,
    key TEXT NOT NULL,
    data TEXT NOT NULL
  );
  CREATE INDEX samples_run_ts ON samples(run_id, ts);
  CREATE INDEX samples_ts ON samples(ts);
  `,
  // 2: the CPU budget the job reported from inside itself at registration (cores, where it was read)
  `
  ALTER TABLE runs ADD COLUMN cpu_budget TEXT;
  `,
  // 3: what the tuner last said of each run (bottleneck, evidence, advice), so a finished run keeps
  // it across restarts; written when the bottleneck or its advice changes and when the run ends
  `
  CREATE TABLE run_status (
    run_id TEXT PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
    ts REAL NOT NULL,
    status TEXT NOT NULL
  ) WITHOUT ROWID;
  `,
  // 4: the typed figures a decision keeps (domain/measured.ts): the window it was measured against,
  // for a rollback the trial it undid, and how the move was chosen (DecisionBasis). Rows of older
  // releases leave them NULL; the reader (events.ts) reads their evidence keys instead.
  `
  ALTER TABLE decisions ADD COLUMN measured_before TEXT;
  ALTER TABLE decisions ADD COLUMN measured_rejected TEXT;
  ALTER TABLE decisions ADD COLUMN basis TEXT;
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

/** Applies the migrations this file has that the database lacks; refuses a newer database. */
export function migrate(db: Database): number {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > MIGRATIONS.length) {
    throw new Error(
      `the store has schema version ${current}, newer than this trainpilot knows (${MIGRATIONS.length}); upgrade trainpilot or use another --db`,
    );
  }
  for (let v = current; v < MIGRATIONS.length; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v]);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
  return MIGRATIONS.length - current;
}
