// bench/load: 64 runs × 100 step reports/s over real HTTP on loopback against `trainpilot serve`
// (bin/trainpilot.js, no node flags), 10 minutes by default: sent, acknowledged and stored; latency
// p50/p99/max; and, per slice of the run, a latency histogram, the sidecar's RSS and CPU, so a
// stall shows where it happened. Budget (DESIGN §7): nothing lost, request p99 ≤ 50 ms, no stall
// over 500 ms, ≤ 120 MB resident and flat over the last 5 minutes. Prints figures; asserts nothing.
//   node dist/bench/load.js [--minutes M] [--runs R] [--rate STEPS_PER_S] [--slice S] [--connections C]
// (LOAD_SECONDS, the older knob, still sets the length in seconds.)
// The requests come from a process of its own, open loop (bench/lib/load-client.ts): latency is
// answered − intended send time, and the client's send lag says whether it kept up; where it did
// not (p99 lag over LAG_OK_MS), the latency figures include its own delay and are marked so.
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runLoad } from './lib/load.js';
import { quantile } from './lib/stats.js';
import { spawnSidecar } from './lib/sidecar-process.js';

const { values } = parseArgs({ options: { minutes: { type: 'string' }, runs: { type: 'string' }, rate: { type: 'string' }, slice: { type: 'string' }, connections: { type: 'string' } } });
const seconds = values.minutes !== undefined ? Number(values.minutes) * 60 : Number(process.env.LOAD_SECONDS ?? 600);
const runs = Number(values.runs ?? 64);
const rate = Number(values.rate ?? 100);
const sliceS = Number(values.slice ?? (seconds >= 300 ? 30 : 10));
const connections = values.connections !== undefined ? Number(values.connections) : undefined;
/** Histogram bucket upper bounds, ms; the last bucket is everything above. */
const BOUNDS = [1, 2, 5, 10, 20, 50, 100, 500];
const STALL_MS = 500;
/** The client kept up when its p99 send lag is under this. */
const LAG_OK_MS = 10;

const load = () => loadavg().map((x) => x.toFixed(2)).join(' ');
const loadBefore = load();
const dir = mkdtempSync(join(tmpdir(), 'trainpilot-bench-load-'));
const sidecar = await spawnSidecar(['--db', join(dir, 'load.db'), '--gpu', 'off']);
try {
  const r = await runLoad(sidecar.url, sidecar.proc.pid!, { runs, rate, seconds, connections });
  const { intendedS, latencyMs, sendLagMs } = r.requests;
  const keptUp = r.sendLagMs.p99 <= LAG_OK_MS;
  console.log(`bench/load — ${r.runs} runs × ${rate} reports/s for ${r.seconds} s, real sidecar (bin/trainpilot.js, pid ${sidecar.proc.pid}) on loopback; load average ${loadBefore} before, ${load()} after`);
  console.log(`  sent ${r.sent.toLocaleString('en')}, acknowledged ${r.acknowledged.toLocaleString('en')}, stored ${r.stored.toLocaleString('en')}, errors ${r.errors}` +
    ` → ${r.sent === r.stored && r.errors === 0 ? 'nothing lost' : `LOST ${r.sent - r.stored}`}`);
  const answered = Array.from(latencyMs).filter((x) => !Number.isNaN(x));
  const stalls = answered.filter((x) => x > STALL_MS).length;
  console.log(`  latency (answered − intended send) of ${answered.length.toLocaleString('en')} requests: p50 ${r.latencyMs.p50.toFixed(2)} ms, p99 ${r.latencyMs.p99.toFixed(2)} ms, max ${r.latencyMs.max.toFixed(1)} ms; ${stalls} over ${STALL_MS} ms`);
  console.log(`  load client (own process, open loop): send lag p99 ${r.sendLagMs.p99.toFixed(2)} ms, max ${r.sendLagMs.max.toFixed(1)} ms, CPU ${r.clientCpuPct.toFixed(1)} % of a core → ${keptUp ? 'kept up' : `FELL BEHIND (p99 lag over ${LAG_OK_MS} ms): latency includes its own delay`}`);

  // Per slice of intended send time: its requests' latency histogram, p99/max, the client's lag, the sidecar's RSS and CPU.
  const slices = Math.ceil(r.seconds / sliceS);
  const header = BOUNDS.map((b) => `≤${b}`.padStart(6)).join('') + '  >500'.padStart(6);
  console.log('');
  console.log(`  from s   requests ${header}     p99     max  lag p99   RSS min–max  CPU %`);
  for (let k = 0; k < slices; k++) {
    const lo = k * sliceS;
    const hi = lo + sliceS;
    const lat: number[] = [];
    const lag: number[] = [];
    for (let i = 0; i < intendedS.length; i++) {
      if (intendedS[i] < lo || intendedS[i] >= hi) continue;
      lag.push(sendLagMs[i]);
      if (!Number.isNaN(latencyMs[i])) lat.push(latencyMs[i]);
    }
    const counts = new Array(BOUNDS.length + 1).fill(0);
    for (const x of lat) {
      const b = BOUNDS.findIndex((u) => x <= u);
      counts[b === -1 ? BOUNDS.length : b]++;
    }
    const rss = r.rssMb.slice(lo, Math.min(hi + 1, r.rssMb.length));
    const cpu = r.cpuS.length > hi ? ((r.cpuS[hi] - r.cpuS[lo]) / sliceS) * 100 : NaN;
    console.log(`  ${String(lo).padStart(6)} ${String(lat.length).padStart(10)} ${counts.map((c) => String(c).padStart(6)).join('')} ${quantile(lat, 0.99).toFixed(1).padStart(7)} ${Math.max(0, ...lat).toFixed(1).padStart(7)} ${quantile(lag, 0.99).toFixed(1).padStart(8)} ${`${Math.min(...rss).toFixed(0)}–${Math.max(...rss).toFixed(1)}`.padStart(13)} ${Number.isNaN(cpu) ? '' : cpu.toFixed(1).padStart(6)}`);
  }

  // Where the stalls were: runs of consecutive intended times whose requests took over STALL_MS.
  const spans: Array<[number, number, number]> = [];
  for (let i = 0; i < intendedS.length; i++) {
    if (!(latencyMs[i] > STALL_MS)) continue;
    const last = spans.at(-1);
    if (last && intendedS[i] - last[1] < 0.2) {
      last[1] = intendedS[i];
      last[2] = Math.max(last[2], latencyMs[i]);
    } else spans.push([intendedS[i], intendedS[i], latencyMs[i]]);
  }
  if (spans.length) console.log(`\n  stalls over ${STALL_MS} ms (intended send time, worst latency): ${spans.slice(0, 20).map(([a, b, m]) => `${a.toFixed(1)}–${b.toFixed(1)} s ${m.toFixed(0)} ms`).join('; ')}${spans.length > 20 ? ` … (${spans.length})` : ''}`);

  const rss = r.rssMb;
  const last = rss.slice(-Math.min(rss.length, 300));
  // Least-squares slope of RSS over the last 5 minutes (or the whole run when shorter), MB per minute.
  const xs = last.map((_, i) => i / 60);
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
  const my = last.reduce((a, b) => a + b, 0) / last.length;
  const slope = xs.reduce((s, x, i) => s + (x - mx) * (last[i] - my), 0) / Math.max(1e-9, xs.reduce((s, x) => s + (x - mx) ** 2, 0));
  console.log('');
  console.log(`  sidecar RSS: max sampled ${Math.max(...rss).toFixed(1)} MB, peak (VmHWM) ${r.hwmMb.toFixed(1)} MB; last ${last.length} s: ${Math.min(...last).toFixed(1)}–${Math.max(...last).toFixed(1)} MB, slope ${slope >= 0 ? '+' : ''}${slope.toFixed(2)} MB/min`);
  console.log(`  sidecar RSS over time (MB, every ${sliceS} s): ${Array.from({ length: slices }, (_, k) => (rss[Math.min(rss.length - 1, (k + 1) * sliceS)] ?? NaN).toFixed(0)).join(' ')}`);
  console.log(`  sidecar CPU over the run: ${(((r.cpuS.at(-1)! - r.cpuS[0]) / r.seconds) * 100).toFixed(1)} % of a core`);
} finally {
  await sidecar.stop();
  rmSync(dir, { recursive: true, force: true });
}
