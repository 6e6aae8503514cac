// WAL checkpoints off the main thread while steps pour in. better-sqlite3 is synchronous, and
// SQLite's automatic checkpoint runs inside the commit that pushes the WAL past 1000 pages: under
// bench/load (64 runs × 100 steps/s: ~640 commits/s, ~16 KB of WAL each) that was a checkpoint
// every ~0.4 s, each copying ~4 MB into the database and fsyncing both files on the main thread:
// 20–60 ms (up to 150 ms) on a busy VM disk, every request behind it waiting, and ~45 % of the
// store's time (the same commits with synchronous = OFF: 0.19 ms each against 0.34 ms).
//
// When commits come faster than BUSY_COMMITS_PER_S, the main connection stops checkpointing
// (wal_autocheckpoint = 0) and a worker thread with a connection of its own checkpoints PASSIVE
// every CHECKPOINT_MS: copies and fsyncs happen there, never blocking the writer. One thing
// only the writer can do: start the WAL over from its beginning, which SQLite does at a write
// that begins when every frame has been copied back. Under steady writes the worker's copy is
// never quite complete (commits land while it copies), so when the WAL reaches RESTART_FRAMES
// the worker asks, and the main thread checkpoints what the worker's last pass left (a few
// hundred frames, two small fsyncs), after which its next write starts the WAL over. When the
// writes slow down the worker leaves and SQLite's own checkpoint comes back. The idle sidecar
// never starts the worker (bench/overhead).
//
// Same durability: a checkpoint is the same operation on either connection (sqlite.org/wal.html),
// and one cut short (a crash, the worker ended) is redone by the next.
import type { Database } from 'better-sqlite3';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/** Step batches per second above which checkpoints move off the main thread. */
const BUSY_COMMITS_PER_S = 100;
/** The worker's checkpoint period. */
const CHECKPOINT_MS = 200;
/** WAL frames (4 KB pages) at which the writer starts the WAL over: ~32 MB on disk at most. */
const RESTART_FRAMES = 8192;
/** The worker leaves after this long with nothing to copy. */
const IDLE_MS = 30_000;
/** SQLite's own default (pages), restored when the worker leaves. */
const AUTO_CHECKPOINT_PAGES = 1000;

// CommonJS in the worker (eval): better-sqlite3 resolved by the main thread, so it is the same copy.
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
// This isolate's set-up undid the V8 flags the launcher set at run time (process-wide): set them again first.
for (const f of workerData.v8Flags) require('node:v8').setFlagsFromString(f);
const Database = require(workerData.sqlite);
const db = new Database(workerData.path, { fileMustExist: true });
let idleSince = Date.now();
let lastLog = -1;
let waiting = false;
let timer = null;
parentPort.on('message', (m) => {
  if (m === 'restarted') { waiting = false; return; }
  if (m === 'stop') { clearTimeout(timer); db.close(); parentPort.close(); }
});
const round = () => {
  timer = setTimeout(round, workerData.everyMs);
  if (waiting) return;
  const r = db.pragma('wal_checkpoint(PASSIVE)')[0];
  if (r.log !== lastLog) idleSince = Date.now(); // written to since the last round
  lastLog = r.log;
  if (r.log >= workerData.restartFrames) { waiting = true; parentPort.postMessage('restart'); }
  else if (Date.now() - idleSince > workerData.idleMs) { clearTimeout(timer); parentPort.postMessage('idle'); }
};
timer = setTimeout(round, workerData.everyMs);
`;

export interface Checkpointer {
  /** Counts one commit of step reports; may move checkpoints to the worker. */
  committed(): void;
  /** 'sqlite' (the commit's own) or 'worker'. */
  mode(): 'sqlite' | 'worker';
  /** Restarts of the WAL the main thread made, and the longest such checkpoint (ms). */
  stats(): { restarts: number; maxRestartMs: number };
  close(): void;
}

export function createCheckpointer(db: Database, path: string): Checkpointer {
  let worker: Worker | null = null;
  let windowStart = Date.now();
  let commits = 0;
  let failed = false;
  let restarts = 0;
  let maxRestartMs = 0;

  const leave = () => {
    if (!worker) return;
    const w = worker;
    worker = null;
    if (db.open) db.pragma(`wal_autocheckpoint = ${AUTO_CHECKPOINT_PAGES}`);
    w.removeAllListeners();
    w.on('error', () => {});
    w.postMessage('stop');
  };

  const start = () => {
    const w = new Worker(WORKER, {
      eval: true,
      workerData: {
        sqlite: createRequire(import.meta.url).resolve('better-sqlite3'), path, everyMs: CHECKPOINT_MS, restartFrames: RESTART_FRAMES, idleMs: IDLE_MS,
        // The launcher's run-time V8 flags (cli/v8-settings.ts), which a new isolate undoes for the whole process.
        v8Flags: ((globalThis as Record<symbol, unknown>)[Symbol.for('trainpilot.v8.runTimeFlags')] as string[] | undefined) ?? [],
      },
      // A small isolate: it runs a dozen lines.
      resourceLimits: { maxYoungGenerationSizeMb: 1, maxOldGenerationSizeMb: 8 },
    });
    w.unref();
    worker = w;
    db.pragma('wal_autocheckpoint = 0');
    w.on('message', (m: string) => {
      if (m === 'idle') return leave();
      if (m !== 'restart' || !db.open) return;
      const t0 = performance.now();
      db.pragma('wal_checkpoint(PASSIVE)');
      const ms = performance.now() - t0;
      restarts++;
      if (ms > maxRestartMs) maxRestartMs = ms;
      w.postMessage('restarted');
    });
    // A worker that fails gives checkpoints back to SQLite for good: the WAL never goes unchecked.
    const fail = () => {
      failed = true;
      leave();
    };
    w.on('error', fail);
    w.on('exit', () => worker === w && fail());
  };

  return {
    committed() {
      commits++;
      const now = Date.now();
      if (now - windowStart < 1000) return;
      const rate = (commits * 1000) / (now - windowStart);
      windowStart = now;
      commits = 0;
      if (worker || failed || rate < BUSY_COMMITS_PER_S) return;
      try {
        start();
      } catch {
        failed = true;
        leave();
      }
    },
    mode: () => (worker ? 'worker' : 'sqlite'),
    stats: () => ({ restarts, maxRestartMs }),
    close: leave,
  };
}
