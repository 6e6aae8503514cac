// A bounded load: R runs each posting `rate` step reports per second (in batches every 100 ms, as
// the Python client does) over real HTTP on loopback, for a fixed time. The requests come from a
// process of its own (load-client.ts: open loop, intended/sent/answered times per request); this
// process registers the runs, samples the sidecar's (and the client's) RSS and CPU from /proc each
// second, and counts what was stored. Stops by itself.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parsePidStat } from '../../collectors/process-parse.js';
import { jsonClient } from './http.js';
import { LAUNCHER_FLAGS, REPO_ROOT } from './sidecar-process.js';
import { quantile } from './stats.js';

export interface LoadResult {
  runs: number;
  seconds: number;
  sent: number;
  acknowledged: number;
  stored: number;
  errors: number;
  /** Answered − intended send time, over the answered requests. */
  latencyMs: { p50: number; p99: number; max: number };
  /** Sent − intended: how far the load client fell behind its own schedule. */
  sendLagMs: { p99: number; max: number };
  /** One per request, in intended order: intended send time (s since the load started), latency (ms; NaN when it failed). */
  requests: { intendedS: Float64Array; latencyMs: Float64Array; sendLagMs: Float64Array };
  rssMb: number[]; // the sidecar's, one sample per second
  /** The sidecar's CPU seconds at each RSS sample (cumulative). */
  cpuS: number[];
  /** The sidecar's peak resident memory (VmHWM) at the end, MB. */
  hwmMb: number;
  /** The load client's CPU over the run, % of one core. */
  clientCpuPct: number;
}

const statusField = (pid: number, field: 'VmRSS' | 'VmHWM'): number => {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
};
const cpuOf = (pid: number): number => {
  try {
    return parsePidStat(readFileSync(`/proc/${pid}/stat`, 'utf8')).cpuSeconds;
  } catch {
    return NaN;
  }
};

const CLIENT = join(REPO_ROOT, 'dist/bench/lib/load-client.js');

export async function runLoad(url: string, pid: number, opts: { runs: number; rate: number; seconds: number; connections?: number }): Promise<LoadResult> {
  const api = jsonClient(url, { connections: 4 });
  const ids: string[] = [];
  for (let r = 0; r < opts.runs; r++) {
    const res = await api.post('/v1/runs', { name: `load-${r}`, config: { batch_size: 32, learning_rate: 0.01, num_workers: 2 }, tune: { mode: 'off' } });
    ids.push(res.json.id);
  }
  const dir = mkdtempSync(join(tmpdir(), 'trainpilot-load-client-'));
  const out = join(dir, 'times.bin');
  const rss: number[] = [];
  const cpu: number[] = [];
  const client = spawn(process.execPath, [...LAUNCHER_FLAGS, CLIENT, url, out, String(opts.rate), String(opts.seconds), String(opts.connections ?? opts.runs), ...ids], { stdio: ['ignore', 'pipe', 'inherit'] });
  let line = '';
  client.stdout.setEncoding('utf8').on('data', (d: string) => (line += d));
  const exited = new Promise<number | null>((res) => client.once('exit', (code) => res(code)));
  const sample = () => {
    rss.push(statusField(pid, 'VmRSS'));
    cpu.push(cpuOf(pid));
  };
  sample();
  let clientCpu = 0;
  const timer = setInterval(() => {
    sample();
    const c = cpuOf(client.pid!);
    if (!Number.isNaN(c)) clientCpu = c;
  }, 1000);
  const code = await exited;
  clearInterval(timer);
  if (code !== 0) throw new Error(`load client exited with ${code}`);
  const counts = JSON.parse(line) as { sent: number; acknowledged: number; errors: number; requests: number };
  const raw = readFileSync(out);
  rmSync(dir, { recursive: true, force: true });
  const times = new Float64Array(raw.buffer, raw.byteOffset, raw.byteLength / 8);
  const n = counts.requests;
  const intendedS = new Float64Array(n);
  const latencyMs = new Float64Array(n);
  const sendLagMs = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    intendedS[k] = times[k * 3] / 1000;
    sendLagMs[k] = times[k * 3 + 1] - times[k * 3];
    latencyMs[k] = times[k * 3 + 2] - times[k * 3];
  }
  let stored = 0;
  for (const id of ids) stored += (await api.get(`/v1/runs/${id}`)).json.summary.steps;
  const hwmMb = statusField(pid, 'VmHWM');
  api.close();
  const lat = Array.from(latencyMs).filter((x) => !Number.isNaN(x));
  const lag = Array.from(sendLagMs).filter((x) => !Number.isNaN(x));
  return {
    runs: opts.runs, seconds: opts.seconds, ...counts, stored,
    latencyMs: { p50: quantile(lat, 0.5), p99: quantile(lat, 0.99), max: lat.reduce((a, b) => Math.max(a, b), 0) },
    sendLagMs: { p99: quantile(lag, 0.99), max: lag.reduce((a, b) => Math.max(a, b), 0) },
    requests: { intendedS, latencyMs, sendLagMs },
    rssMb: rss,
    cpuS: cpu,
    hwmMb,
    clientCpuPct: (clientCpu / opts.seconds) * 100,
  };
}
