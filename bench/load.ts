// bench/load: 64 runs × 100 step reports/s over real HTTP on loopback against `trainpilot serve`,
// 10 minutes by default (LOAD_SECONDS to change): acknowledged vs stored, p99 latency, RSS over time.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runLoad } from './lib/load.js';
import { spawnSidecar } from './lib/sidecar-process.js';

const seconds = Number(process.env.LOAD_SECONDS ?? 600);
const dir = mkdtempSync(join(tmpdir(), 'trainpilot-bench-load-'));
const sidecar = await spawnSidecar(['--db', join(dir, 'load.db'), '--gpu', 'off']);
try {
  const r = await runLoad(sidecar.url, sidecar.proc.pid!, { runs: 64, rate: 100, seconds });
  const rss = r.rssMb;
  const third = Math.max(1, Math.floor(rss.length / 3));
  const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  console.log(`bench/load — ${r.runs} runs × 100 reports/s for ${r.seconds} s, real sidecar on loopback`);
  console.log(`  sent ${r.sent.toLocaleString('en')}, acknowledged ${r.acknowledged.toLocaleString('en')}, stored ${r.stored.toLocaleString('en')}, errors ${r.errors}`);
  console.log(`  latency: p50 ${r.latencyMs.p50.toFixed(2)} ms, p99 ${r.latencyMs.p99.toFixed(2)} ms, max ${r.latencyMs.max.toFixed(1)} ms`);
  console.log(`  sidecar RSS: first third avg ${avg(rss.slice(0, third)).toFixed(1)} MB, last third avg ${avg(rss.slice(-third)).toFixed(1)} MB, max ${Math.max(...rss).toFixed(1)} MB`);
  console.log(`  RSS each ${Math.max(1, Math.round(rss.length / 20))} s: ${rss.filter((_, i) => i % Math.max(1, Math.round(rss.length / 20)) === 0).map((x) => x.toFixed(0)).join(' ')}`);
} finally {
  await sidecar.stop();
  rmSync(dir, { recursive: true, force: true });
}
