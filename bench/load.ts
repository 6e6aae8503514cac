// bench/load: 64 runs × 100 step reports/s over real HTTP on loopback against `trainpilot serve`
// (bin/trainpilot.js, no node flags), 10 minutes by default: sent, acknowledged and stored; latency
// p50/p99/max; and, per slice of the run, a latency histogram, the sidecar's RSS and CPU, so a
// stall shows where it happened. Budget (DESIGN §7): nothing lost, request p99 ≤ 50 ms, no stall
// over 500 ms, ≤ 120 MB resident and flat over the last 5 minutes. Prints figures; asserts nothing.
//   node dist/bench/load.js [--minutes M] [--runs R] [--rate STEPS_PER_S] [--slice S]
// (LOAD_SECONDS, the older knob, still sets the length in seconds.)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runLoad } from './lib/load.js';
import { quantile } from './lib/stats.js';
import { spawnSidecar } from './lib/sidecar-process.js';

const { values } = parseArgs({ options: { minutes: { type: 'string' }, runs: { type: 'string' }, rate: { type: 'string' }, slice: { type: 'string' } } });
const seconds = values.minutes !== undefined ? Number(values.minutes) * 60 : Number(process.env.LOAD_SECONDS ?? 600);
const runs = Number(values.runs ?? 64);
const rate = Number(values.rate ?? 100);
const sliceS = Number(values.slice ?? (seconds >= 300 ? 30 : 10));
/** Histogram bucket upper bounds, ms; the last bucket is everything above. */
const BOUNDS = [1, 2, 5, 10, 20, 50, 100, 500];
const STALL_MS = 500;

const dir = mkdtempSync(join(tmpdir(), 'trainpilot-bench-load-'));
const sidecar = await spawnSidecar(['--db', join(dir, 'load.db'), '--gpu', 'off']);
try {
  const r = await runLoad(sidecar.url, sidecar.proc.pid!, { runs, rate, seconds });
  const { atS, latencyMs } = r.answered;
  console.log(`bench/load — ${r.runs} runs × ${rate} reports/s for ${r.seconds} s, real sidecar (bin/trainpilot.js, no node flags) on loopback`);
  console.log(`  sent ${r.sent.toLocaleString('en')}, acknowledged ${r.acknowledged.toLocaleString('en')}, stored ${r.stored.toLocaleString('en')}, errors ${r.errors}` +
    ` → ${r.sent === r.stored && r.errors === 0 ? 'nothing lost' : `LOST ${r.sent - r.stored}`}`);
  const stalls = latencyMs.filter((x) => x > STALL_MS).length;
  console.log(`  latency of ${latencyMs.length.toLocaleString('en')} requests: p50 ${r.latencyMs.p50.toFixed(2)} ms, p99 ${r.latencyMs.p99.toFixed(2)} ms, max ${r.latencyMs.max.toFixed(1)} ms; ${stalls} over ${STALL_MS} ms`);

  // Per slice: requests answered in it, their latency histogram, p99/max, and the sidecar's RSS and CPU.
  const slices = Math.ceil(r.seconds / sliceS);
  const header = BOUNDS.map((b) => `≤${b}`.padStart(6)).join('') + '  >500'.padStart(6);
  console.log('');
  console.log(`  from s   requests ${header}     p99     max   RSS max   CPU % of a core`);
  for (let k = 0; k < slices; k++) {
    const lo = k * sliceS;
    const hi = lo + sliceS;
    const lat: number[] = [];
    for (let i = 0; i < atS.length; i++) if (atS[i] >= lo && atS[i] < hi) lat.push(latencyMs[i]);
    const counts = new Array(BOUNDS.length + 1).fill(0);
    for (const x of lat) {
      const b = BOUNDS.findIndex((u) => x <= u);
      counts[b === -1 ? BOUNDS.length : b]++;
    }
    const rss = r.rssMb.slice(lo, Math.min(hi + 1, r.rssMb.length));
    const cpu = r.cpuS.length > hi ? ((r.cpuS[Math.min(hi, r.cpuS.length - 1)] - r.cpuS[lo]) / sliceS) * 100 : NaN;
    console.log(`  ${String(lo).padStart(6)} ${String(lat.length).padStart(10)} ${counts.map((c) => String(c).padStart(6)).join('')} ${quantile(lat, 0.99).toFixed(1).padStart(7)} ${Math.max(0, ...lat).toFixed(1).padStart(7)} ${Math.max(...rss).toFixed(1).padStart(9)} ${Number.isNaN(cpu) ? '' : cpu.toFixed(1).padStart(10)}`);
  }

  const rss = r.rssMb;
  const last = rss.slice(-Math.min(rss.length, 300));
  // Least-squares slope of RSS over the last 5 minutes (or the whole run when shorter), MB per minute.
  const xs = last.map((_, i) => i / 60);
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
  const my = last.reduce((a, b) => a + b, 0) / last.length;
  const slope = xs.reduce((s, x, i) => s + (x - mx) * (last[i] - my), 0) / Math.max(1e-9, xs.reduce((s, x) => s + (x - mx) ** 2, 0));
  console.log('');
  console.log(`  sidecar RSS: max ${Math.max(...rss).toFixed(1)} MB; last ${last.length} s: ${Math.min(...last).toFixed(1)}–${Math.max(...last).toFixed(1)} MB, slope ${slope >= 0 ? '+' : ''}${slope.toFixed(2)} MB/min`);
  console.log(`  sidecar CPU over the run: ${(((r.cpuS.at(-1)! - r.cpuS[0]) / r.seconds) * 100).toFixed(1)} % of a core`);
} finally {
  await sidecar.stop();
  rmSync(dir, { recursive: true, force: true });
}
