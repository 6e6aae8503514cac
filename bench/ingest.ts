// bench/ingest: step reports/s for batched ingest over real HTTP on loopback, and p50/p99 latency
// of single-report posts, against the real `trainpilot serve` child process.
// Budget (DESIGN §7): ≥ 50 000 reports/s batched; single report p99 ≤ 2 ms.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jsonClient } from './lib/http.js';
import { spawnSidecar } from './lib/sidecar-process.js';
import { quantile } from './lib/stats.js';

const BATCH = 500;
const BATCHES = Number(process.env.BENCH_BATCHES ?? 400); // 200 000 reports
const CONCURRENCY = 4;
const SINGLES = Number(process.env.BENCH_SINGLES ?? 3000);

function reports(from: number, n: number) {
  const out = [];
  for (let i = 0; i < n; i++) out.push({ step: from + i, duration_s: 0.08, data_wait_s: 0.01, samples: 64, loss: 1.5, ts: 1764300000 + (from + i) / 100 });
  return out;
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'trainpilot-bench-ingest-'));
  const sidecar = await spawnSidecar(['--db', join(dir, 'bench.db'), '--gpu', 'off', '--interval', '1s']);
  const client = jsonClient(sidecar.url, { connections: CONCURRENCY });
  const post = async (path: string, body: unknown) => {
    const res = await client.post(path, body);
    if (res.status >= 300) throw new Error(`${path}: ${res.status} ${JSON.stringify(res.json)}`);
    return res.json;
  };
  try {
    const run = await post('/v1/runs', { name: 'bench-ingest', config: { batch_size: 64, learning_rate: 0.01, num_workers: 2 }, tune: { mode: 'off' } });
    const bodies = Array.from({ length: BATCHES }, (_, b) => JSON.stringify({ steps: reports(b * BATCH, BATCH) }));
    // Warm-up: JIT, SQLite page cache.
    for (let b = 0; b < 10; b++) await post(`/v1/runs/${run.id}/steps`, { steps: reports(10_000_000 + b * BATCH, BATCH) });

    let next = 0;
    const t0 = performance.now();
    await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
      while (next < bodies.length) await post(`/v1/runs/${run.id}/steps`, bodies[next++]);
    }));
    const batchedS = (performance.now() - t0) / 1000;
    const perS = (BATCHES * BATCH) / batchedS;

    const run2 = await post('/v1/runs', { name: 'bench-single', tune: { mode: 'off' } });
    const lat: number[] = [];
    for (let i = 0; i < SINGLES; i++) {
      const body = { steps: reports(i, 1) };
      const s = performance.now();
      await post(`/v1/runs/${run2.id}/steps`, body);
      lat.push(performance.now() - s);
    }
    const stored = (await client.get(`/v1/runs/${run.id}`)).json as { summary: { steps: number } };
    console.log('bench/ingest — real `trainpilot serve` child process, HTTP/1.1 keep-alive on loopback');
    console.log(`  batched: ${BATCHES} batches × ${BATCH} reports, ${CONCURRENCY} connections: ${batchedS.toFixed(2)} s → ${Math.round(perS).toLocaleString('en')} reports/s (budget ≥ 50 000)`);
    console.log(`  stored:  ${stored.summary.steps.toLocaleString('en')} steps in the run (expected ${(BATCHES * BATCH + 10 * BATCH).toLocaleString('en')})`);
    console.log(`  single:  ${SINGLES} sequential 1-report posts: p50 ${quantile(lat, 0.5).toFixed(3)} ms, p99 ${quantile(lat, 0.99).toFixed(3)} ms, max ${Math.max(...lat).toFixed(3)} ms (budget p99 ≤ 2 ms)`);
  } finally {
    client.close();
    await sidecar.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
