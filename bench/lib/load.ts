// A bounded load: R runs each posting `rate` step reports per second (in batches every 100 ms,
// as the Python client does) over real HTTP on loopback, for a fixed time. Counts what was
// acknowledged, measures latency, samples the sidecar's RSS and CPU each second. Stops by itself.
// Every request's completion time is kept, so the caller can show latency over time (a stall
// shows where it happened).
import { readFileSync } from 'node:fs';
import { parsePidStat } from '../../collectors/process-parse.js';
import { jsonClient } from './http.js';
import { quantile } from './stats.js';

export interface LoadResult {
  runs: number;
  seconds: number;
  sent: number;
  acknowledged: number;
  stored: number;
  errors: number;
  latencyMs: { p50: number; p99: number; max: number };
  /** One per answered request: seconds since the load started when it was answered, and its latency in ms. */
  answered: { atS: Float64Array; latencyMs: Float64Array };
  rssMb: number[]; // one sample per second
  /** The sidecar's CPU seconds at each RSS sample (cumulative). */
  cpuS: number[];
}

const rssOf = (pid: number): number => {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
};
const cpuOf = (pid: number): number => parsePidStat(readFileSync(`/proc/${pid}/stat`, 'utf8')).cpuSeconds;

export async function runLoad(url: string, pid: number, opts: { runs: number; rate: number; seconds: number }): Promise<LoadResult> {
  const client = jsonClient(url, { connections: 16 });
  const ids: string[] = [];
  for (let r = 0; r < opts.runs; r++) {
    const res = await client.post('/v1/runs', { name: `load-${r}`, config: { batch_size: 32, learning_rate: 0.01, num_workers: 2 }, tune: { mode: 'off' } });
    ids.push(res.json.id);
  }
  const perBatch = Math.max(1, Math.round(opts.rate / 10));
  const capacity = Math.ceil(opts.seconds * 10 * opts.runs) + opts.runs;
  const atS = new Float64Array(capacity);
  const latency = new Float64Array(capacity);
  let n = 0;
  const rss: number[] = [];
  const cpu: number[] = [];
  let sent = 0;
  let acknowledged = 0;
  let errors = 0;
  const next = new Array(opts.runs).fill(0);
  const start = performance.now();
  const end = Date.now() + opts.seconds * 1000;
  const sample = () => {
    rss.push(rssOf(pid));
    cpu.push(cpuOf(pid));
  };
  sample();
  const rssTimer = setInterval(sample, 1000);
  const inflight = new Set<Promise<void>>();
  const base = Date.now() / 1000;
  while (Date.now() < end) {
    const tick = Date.now();
    for (let r = 0; r < opts.runs; r++) {
      const steps = [];
      for (let i = 0; i < perBatch; i++) {
        const step = next[r]++;
        steps.push({ step, duration_s: 0.01, data_wait_s: 0.002, samples: 32, loss: 2 / (1 + step / 1000), ts: base + step / opts.rate });
      }
      sent += steps.length;
      const t0 = performance.now();
      const p = client.post(`/v1/runs/${ids[r]}/steps`, { steps }).then(
        (res) => {
          const t1 = performance.now();
          if (n < capacity) {
            atS[n] = (t1 - start) / 1000;
            latency[n++] = t1 - t0;
          }
          if (res.status === 202) acknowledged += res.json.accepted;
          else errors++;
        },
        () => void errors++,
      ).finally(() => inflight.delete(p));
      inflight.add(p);
    }
    await new Promise((r) => setTimeout(r, Math.max(0, 100 - (Date.now() - tick))));
  }
  await Promise.all(inflight);
  clearInterval(rssTimer);
  let stored = 0;
  for (const id of ids) stored += (await client.get(`/v1/runs/${id}`)).json.summary.steps;
  client.close();
  const lat = Array.from(latency.subarray(0, n));
  return {
    runs: opts.runs, seconds: opts.seconds, sent, acknowledged, stored, errors,
    latencyMs: { p50: quantile(lat, 0.5), p99: quantile(lat, 0.99), max: lat.reduce((a, b) => Math.max(a, b), 0) },
    answered: { atS: atS.subarray(0, n), latencyMs: latency.subarray(0, n) },
    rssMb: rss,
    cpuS: cpu,
  };
}
