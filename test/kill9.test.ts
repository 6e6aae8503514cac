// kill -9 of the real sidecar during heavy ingest: the store opens, passes integrity_check, and
// holds every batch that was acknowledged with 202.
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { jsonClient } from '../bench/lib/http.js';
import { spawnSidecar } from '../bench/lib/sidecar-process.js';
import { steps } from './helpers/app.js';

const dir = mkdtempSync(join(tmpdir(), 'trainpilot-kill9-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('keeps every acknowledged batch across kill -9', async () => {
  const db = join(dir, 'store.db');
  const sidecar = await spawnSidecar(['--db', db, '--gpu', 'off']);
  const client = jsonClient(sidecar.url, { connections: 6 });
  const run = (await client.post('/v1/runs', { name: 'kill9', config: { batch_size: 32, learning_rate: 0.1, num_workers: 1 }, tune: { mode: 'off' } })).json;
  const acked: number[] = [];
  let sent = 0;
  let killed = false;
  const BATCH = 250;

  const writer = async () => {
    while (!killed) {
      const b = sent++;
      try {
        const res = await client.post(`/v1/runs/${run.id}/steps`, { steps: steps(b * BATCH, BATCH) });
        if (res.status === 202) acked.push(b);
      } catch {
        return; // connection reset by the kill
      }
    }
  };
  const writers = Array.from({ length: 6 }, writer);
  while (acked.length < 40) await new Promise((r) => setTimeout(r, 5));
  killed = true;
  sidecar.proc.kill('SIGKILL');
  await Promise.allSettled(writers);
  await sidecar.stop();
  client.close();

  const sql = new Database(db);
  expect(sql.pragma('integrity_check', { simple: true })).toBe('ok');
  const stored = new Set((sql.prepare('SELECT step FROM steps WHERE run_id = ?').all(run.id) as Array<{ step: number }>).map((r) => r.step));
  sql.close();
  const missing = acked.flatMap((b) => Array.from({ length: BATCH }, (_, i) => b * BATCH + i)).filter((s) => !stored.has(s));
  console.log(`kill -9: ${acked.length} batches acknowledged (${acked.length * BATCH} reports), ${stored.size} stored, ${sent} sent`);
  expect(missing).toEqual([]);
  // Batches are all-or-nothing: a batch in flight at the kill is whole or absent.
  expect(stored.size % BATCH).toBe(0);

  const again = await spawnSidecar(['--db', db, '--gpu', 'off']);
  const c2 = jsonClient(again.url);
  try {
    const view = (await c2.get(`/v1/runs/${run.id}`)).json;
    expect(view.summary.steps).toBe(stored.size);
  } finally {
    c2.close();
    expect(await again.stop()).toBe(0);
  }
}, 60_000);
