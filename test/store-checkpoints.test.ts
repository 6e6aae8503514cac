// WAL checkpoints off the main thread under a stream of step batches (store/checkpointer.ts): the
// worker takes over, the WAL is started over and stays bounded, and nothing written is lost.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { openStore } from '../store/store.js';

const dir = mkdtempSync(join(tmpdir(), 'trainpilot-checkpoints-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const tune = { mode: 'off' as const, knobs: [], optimizer: 'adam' as const, lr_scaling: 'auto' as const, keep_global_batch: false, bounds: {} };

const COMMITS_PER_S = 4000;

it('moves checkpoints to a worker under many commits a second, restarts the WAL, and keeps every row', async () => {
  const path = join(dir, 'busy.db');
  const s = openStore({ path });
  expect(s.checkpoints().mode).toBe('sqlite');
  const runs = Array.from({ length: 16 }, (_, i) => s.registerRun({ name: `r${i}`, pid: null, config: null, tune }).id);
  let n = 0;
  const t0 = Date.now();
  const deadline = t0 + 20_000;
  let maxWal = 0;
  while (Date.now() < deadline && s.checkpoints().restarts < 2) {
    for (let k = 0; k < 50; k++, n++) {
      const run = runs[n % runs.length];
      const base = Math.floor(n / runs.length) * 10;
      s.addSteps(run, Array.from({ length: 10 }, (_, i) => ({
        step: base + i, ts: Date.now() / 1000, durationS: 0.01, dataWaitS: 0, samples: 8, loss: 1, memPeakBytes: null, gradSqNorm: null, gradSqNormSmall: null, rank: 0, worldSize: 1, configVersion: null,
      })));
    }
    maxWal = Math.max(maxWal, statSync(`${path}-wal`).size);
    // At most COMMITS_PER_S, so the WAL's bound is the same on any host: what it grows by between the
    // worker's looks (200 ms) scales with the write rate, and an unpaced loop on a fast CI host wrote
    // 104 MB before a restart was answered. Still ~6× bench/load's 640 commits/s.
    const ahead = n / COMMITS_PER_S - (Date.now() - t0) / 1000;
    await new Promise((r) => (ahead > 0 ? setTimeout(r, ahead * 1000) : setImmediate(r)));
  }
  const c = s.checkpoints();
  console.log(`checkpoints: ${n} commits in ${((Date.now() - t0) / 1000).toFixed(1)} s, mode ${c.mode}, ${c.restarts} WAL restarts by the main thread (longest ${c.maxRestartMs.toFixed(1)} ms), WAL file at most ${(maxWal / 1e6).toFixed(1)} MB`);
  expect(c.mode).toBe('worker');
  expect(c.restarts).toBeGreaterThanOrEqual(2);
  // 8192 frames of 4 KB, and what this loop (far faster than a sidecar's ingest) wrote while the
  // restart was asked for and answered: bounded, where without restarts it grows with every commit.
  expect(maxWal).toBeLessThan(100e6);
  expect(s.db.prepare('SELECT count(*) FROM steps').pluck().get()).toBe(n * 10);
  s.close();
  const again = openStore({ path });
  expect(again.db.prepare('SELECT count(*) FROM steps').pluck().get()).toBe(n * 10);
  again.close();
}, 60_000);

it('leaves checkpoints to SQLite for a store in memory and for a few commits a second', () => {
  const mem = openStore({ path: ':memory:' });
  expect(mem.checkpoints().mode).toBe('sqlite');
  mem.close();
  const s = openStore({ path: join(dir, 'quiet.db') });
  const run = s.registerRun({ name: 'q', pid: null, config: null, tune }).id;
  s.addSteps(run, [{ step: 0, ts: 1, durationS: 0.01, dataWaitS: 0, samples: 8, loss: 1, memPeakBytes: null, gradSqNorm: null, gradSqNormSmall: null, rank: 0, worldSize: 1, configVersion: null }]);
  expect(s.checkpoints().mode).toBe('sqlite');
  s.close();
});
