// bench/overhead: what the sidecar costs the machine it watches. The real `trainpilot serve`
// samples at 1 s for BENCH_SECONDS (default 60) with the stand-in nvidia-smi replaying the
// 8-GPU capture (datakit-gtx-8card.xml) and one watched run (a small process tree the
// stand-in reports on GPU 0, so --query-compute-apps runs too). Reported: CPU as % of one
// core and peak RSS of the sidecar's own process, the stand-in nvidia-smi processes apart,
// and, in the same run as the reference, Debian's prometheus-node-exporter scraped at 1 Hz.
// For attribution, the collectors alone (createSampler with the same settings and run, in a
// bare Node process with no server or store) run in the same window.
// The sidecar is started as users start it: bin/trainpilot.js serve with no node flags
// (bench/lib/sidecar-process.ts; BENCH_NODE_FLAGS adds some to compare).
// Budget (DESIGN §7, docs/footprint.md): ≤ 0.35 % of one core, ≤ 70 MB at the peak. Prints
// figures; asserts nothing.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseChildren, parsePidStat } from '../collectors/process-parse.js';
import { jsonClient } from './lib/http.js';
import { LAUNCHER_FLAGS, REPO_ROOT, SIDECAR_NODE_FLAGS, spawnSidecar } from './lib/sidecar-process.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 60);
// Start-up (module loading, schema compilation, V8's memory-reducer GCs in the first ~10 s)
// is reported apart: the window measures the sidecar as it runs for hours.
const WARMUP_S = Number(process.env.BENCH_WARMUP ?? 30);
const NODE_EXPORTER = process.env.NODE_EXPORTER ?? '/usr/bin/prometheus-node-exporter';
const STAND_IN = join(REPO_ROOT, 'test/bin/nvidia-smi');
const SAMPLER = join(REPO_ROOT, 'dist/collectors/sampler.js');
/** The collectors alone: argv[1] is the watched pid. */
const SAMPLER_ONLY = `import(${JSON.stringify(SAMPLER)}).then(({ createSampler }) => createSampler({
  intervalS: 1, gpu: 'on', nvidiaSmiPath: ${JSON.stringify(STAND_IN)},
  watchedRuns: () => [{ runId: 'bench', pid: Number(process.argv[1]) }], onSnapshot: () => {}, onProcessExit: () => {},
}).start());`;
const MB = 1e6;

interface Cpu { self: number; reaped: number }
const cpuOf = (pid: number): Cpu => {
  const s = parsePidStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  return { self: s.cpuSeconds, reaped: s.reapedChildrenCpuSeconds };
};
const statusKiB = (pid: number, field: 'VmHWM' | 'VmRSS'): number => {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
};
const childrenOf = (pid: number): number[] =>
  readdirSync(`/proc/${pid}/task`).flatMap((tid) => {
    try {
      return parseChildren(readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8'));
    } catch {
      return [];
    }
  });

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

async function waitHttp(url: string, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms`);
}

/** CPU seconds of the stand-ins: live children's own time, plus what the sidecar reaped. */
class StandInCpu {
  private readonly seen = new Map<number, { first: number; last: number }>();
  constructor(private readonly sidecar: number) {}
  sample(): void {
    for (const pid of childrenOf(this.sidecar)) {
      try {
        const c = cpuOf(pid).self;
        const e = this.seen.get(pid);
        this.seen.set(pid, { first: e?.first ?? c, last: c });
      } catch {
        // ended between listing and reading
      }
    }
  }
  /** Pids alive at both samples count from the first; pids started later count whole. */
  since(startPids: Set<number>): number {
    let sum = 0;
    for (const [pid, e] of this.seen) sum += startPids.has(pid) ? e.last - e.first : e.last;
    return sum;
  }
  pids(): number[] {
    return [...this.seen.keys()];
  }
}

async function main(): Promise<void> {
  if (!existsSync(NODE_EXPORTER)) throw new Error(`${NODE_EXPORTER} is missing (apt-get install prometheus-node-exporter)`);
  const dir = mkdtempSync(join(tmpdir(), 'trainpilot-bench-overhead-'));
  const procs: ChildProcess[] = [];
  const control = join(dir, 'control.json');
  try {
    // The watched run: a parent with two workers, like a job with data-loader workers.
    const job = spawn(process.execPath, ['-e', "const {spawn}=require('node:child_process');for(let i=0;i<2;i++)spawn('sleep',['3600'],{stdio:'ignore'});setInterval(()=>{},1e6)"], { stdio: 'ignore' });
    procs.push(job);
    writeFileSync(control, JSON.stringify({ mode: 'ok', apps: [{ gpu: 0, pid: job.pid, usedMiB: 20480, name: 'python' }] }));

    const nePort = await freePort();
    const ne = spawn(NODE_EXPORTER, [`--web.listen-address=127.0.0.1:${nePort}`], { stdio: 'ignore' });
    procs.push(ne);
    const neUrl = `http://127.0.0.1:${nePort}/metrics`;
    await waitHttp(neUrl);

    const sidecar = await spawnSidecar(
      ['--db', join(dir, 'x.db'), '--interval', '1s', '--gpu', 'on', '--nvidia-smi', STAND_IN],
      { env: { FAKE_NVIDIA_SMI_CONTROL: control } },
    );
    const alone = spawn(process.execPath, [...LAUNCHER_FLAGS, '-e', SAMPLER_ONLY, String(job.pid)], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, FAKE_NVIDIA_SMI_CONTROL: control } });
    procs.push(alone);
    const api = jsonClient(sidecar.url);
    const sidecarPid = sidecar.proc.pid!;
    const reg = await api.post('/v1/runs', { name: 'bench-overhead', pid: job.pid, config: { batch_size: 64, learning_rate: 0.001, num_workers: 2 }, tune: { mode: 'off' } });
    const watched = reg.status === 201;

    await new Promise((r) => setTimeout(r, WARMUP_S * 1000));
    const standIn = new StandInCpu(sidecarPid);
    standIn.sample();
    const startPids = new Set(standIn.pids());
    const sc0 = cpuOf(sidecarPid);
    const startupHwm = statusKiB(sidecarPid, 'VmHWM');
    const ne0 = cpuOf(ne.pid!);
    const al0 = cpuOf(alone.pid!);
    const t0 = performance.now();
    let scrapes = 0;
    let rssMax = 0;
    for (let i = 0; i < SECONDS; i++) {
      const tick = performance.now();
      const res = await fetch(neUrl);
      await res.arrayBuffer();
      if (res.ok) scrapes++;
      standIn.sample();
      rssMax = Math.max(rssMax, statusKiB(sidecarPid, 'VmRSS'));
      await new Promise((r) => setTimeout(r, Math.max(0, 1000 - (performance.now() - tick))));
    }
    const wall = (performance.now() - t0) / 1000;
    // The peak through the end of the window (start-up included), before this bench's own GET
    // /v1/host below: that first request compiles the route's response serializer (on first use
    // since issue 23), which a person's first look at the host costs as well; printed apart.
    const windowHwm = statusKiB(sidecarPid, 'VmHWM');
    standIn.sample();
    const sc1 = cpuOf(sidecarPid);
    const ne1 = cpuOf(ne.pid!);
    const al1 = cpuOf(alone.pid!);
    const aloneHwm = statusKiB(alone.pid!, 'VmHWM');
    const streamPid = childrenOf(sidecarPid).find((p) => readFileSync(`/proc/${p}/cmdline`, 'utf8').includes('-lms'));
    const host = (await api.get('/v1/host')).json;
    const sidecarHwm = statusKiB(sidecarPid, 'VmHWM');
    const neHwm = statusKiB(ne.pid!, 'VmHWM');
    const standInHwm = streamPid ? statusKiB(streamPid, 'VmHWM') : 0;
    api.close();
    await sidecar.stop();

    const pct = (cpuS: number) => ((cpuS / wall) * 100).toFixed(2);
    const sidecarCpu = sc1.self - sc0.self;
    const standInCpu = standIn.since(startPids) + (sc1.reaped - sc0.reaped);
    const health = (host.collectors as Array<{ name: string; up: boolean; last_duration_seconds: number | null }>)
      .map((c) => `${c.name} ${c.up ? 'up' : 'DOWN'} ${((c.last_duration_seconds ?? 0) * 1000).toFixed(2)} ms`).join(', ');
    console.log(`window ${wall.toFixed(1)} s at 1 s sampling, after ${WARMUP_S} s warm-up; ${host.gpus?.length ?? 0} GPUs; watched run: ${watched ? `yes (${host.processes?.[0]?.worker_count ?? '?'} workers, GPU memory ${JSON.stringify(host.processes?.[0]?.gpu_memory_bytes ?? {})})` : `no (POST /v1/runs answered ${reg.status})`}`);
    console.log(`collectors: ${health}`);
    console.log(`sidecar start-up: ${sc0.self.toFixed(2)} CPU s and ${(startupHwm / MB).toFixed(1)} MB peak RSS from exec to the end of the ${WARMUP_S} s warm-up`);
    console.log('');
    console.log('process                          CPU % of one core   peak RSS (VmHWM)   RSS in window (max)');
    console.log(`trainpilot serve (sidecar)       ${pct(sidecarCpu).padStart(8)} %        ${(windowHwm / MB).toFixed(1).padStart(7)} MB         ${(rssMax / MB).toFixed(1).padStart(7)} MB`);
    console.log(`  after its first GET /v1/host                        ${(sidecarHwm / MB).toFixed(1).padStart(7)} MB (VmHWM)`);
    console.log(`  stand-in nvidia-smi (apart)    ${pct(standInCpu).padStart(8)} %        ${(standInHwm / MB).toFixed(1).padStart(7)} MB (the -lms stream)`);
    console.log(`collectors alone (no server)     ${pct(al1.self - al0.self).padStart(8)} %        ${(aloneHwm / MB).toFixed(1).padStart(7)} MB`);
    console.log(`prometheus-node-exporter         ${pct(ne1.self - ne0.self).padStart(8)} %        ${(neHwm / MB).toFixed(1).padStart(7)} MB         (${scrapes} scrapes at 1 Hz)`);
    console.log('');
    console.log(`budget (DESIGN §7): sidecar ≤ 0.35 % of one core → ${pct(sidecarCpu)} %; ≤ 70 MB peak → ${(windowHwm / MB).toFixed(1)} MB (${(rssMax / MB).toFixed(1)} MB in the window)` +
      ` (node flags: ${SIDECAR_NODE_FLAGS.length ? SIDECAR_NODE_FLAGS.join(' ') : 'none'})`);
  } finally {
    for (const p of procs) p.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
