// scripts/gpu-check: the GPU path end to end on a machine with an NVIDIA GPU, in under 5 minutes.
// It saves nvidia-smi's own outputs (the query stream, -q -x, dmon --gpm-metrics, compute apps),
// starts a sidecar, runs a small CUDA training job under `trainpilot run --tune auto` (PyTorch
// from the machine), and compares what the sidecar exported with nvidia-smi's and torch.cuda's
// readings (compare.ts). One table; exit 1 on a mismatch. Without a GPU it says so and exits 0;
// without PyTorch with CUDA it says so and checks the collectors alone.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';
import { parseGpmOutput, gpmArgs } from '../../collectors/gpu-gpm.js';
import { CLI, REPO_ROOT, spawnSidecar, type SidecarProcess } from '../lib/sidecar-process.js';
import { compare, formatTable, medianOf, mismatches, type GpuFigures, type JobFigures, type SidecarRun } from './compare.js';

const MiB = 1024 * 1024;
const QUERY = ['index', 'uuid', 'utilization.gpu', 'memory.used', 'memory.total', 'power.draw'];

interface Options { nvidiaSmi: string | null; out: string; seconds: number; python: string }

function parseArgs(argv: string[]): Options {
  const o: Options = { nvidiaSmi: null, out: join(process.cwd(), `gpu-check-${new Date().toISOString().replace(/[:.]/g, '-')}`), seconds: 60, python: 'python3' };
  for (let i = 0; i < argv.length; i++) {
    const [k, v] = [argv[i], argv[i + 1]];
    if (k === '--nvidia-smi') o.nvidiaSmi = resolve(v);
    else if (k === '--out') o.out = resolve(v);
    else if (k === '--seconds') o.seconds = Number(v);
    else if (k === '--python') o.python = v;
    else if (k === '-h' || k === '--help') {
      process.stdout.write('Usage: scripts/gpu-check [--nvidia-smi PATH] [--out DIR] [--seconds N (job length, default 60)] [--python python3]\n');
      process.exit(0);
    } else throw new Error(`unknown argument ${k}`);
    i++;
  }
  return o;
}

function onPath(name: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) if (dir && existsSync(join(dir, name))) return join(dir, name);
  return null;
}

function run(cmd: string, args: string[], timeoutMs = 20_000): Promise<{ code: number; out: string; err: string }> {
  return new Promise((res) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 64 * MiB, encoding: 'utf8' }, (e, out, err) => {
      const code = e ? (typeof (e as NodeJS.ErrnoException).code === 'number' ? Number((e as NodeJS.ErrnoException).code) : 1) : 0;
      res({ code, out: out ?? '', err: err ?? (e ? e.message : '') });
    });
  });
}

/** `--query-gpu` stream lines stamped on arrival. */
function queryStream(smi: string, file: string): { stop(): void; rows: Array<{ at: number; cells: string[] }> } {
  const rows: Array<{ at: number; cells: string[] }> = [];
  const out = createWriteStream(file);
  const child = spawn(smi, [`--query-gpu=${QUERY.join(',')}`, '--format=csv,noheader,nounits', '-lms', '1000'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let buf = '';
  child.stdout.on('data', (d: Buffer) => {
    out.write(d);
    buf += d.toString();
    const lines = buf.split('\n');
    buf = lines.pop() ?? '';
    for (const l of lines) if (l.trim()) rows.push({ at: Date.now() / 1000, cells: l.split(',').map((c) => c.trim()) });
  });
  return { rows, stop: () => { child.kill(); out.end(); } };
}

const num = (c: string | undefined) => (c !== undefined && /^-?\d+(\.\d+)?$/.test(c) ? Number(c) : null);

/** The sidecar's GPU gauges, scraped once a second. */
function scraper(url: string): { stop(): void; samples: Array<{ at: number; body: string }> } {
  const samples: Array<{ at: number; body: string }> = [];
  const timer = setInterval(() => {
    void fetch(`${url}/metrics`).then((r) => r.text()).then((body) => samples.push({ at: Date.now() / 1000, body }), () => undefined);
  }, 1000);
  return { samples, stop: () => clearInterval(timer) };
}

function gauge(body: string, name: string, gpu: number): number | null {
  const m = new RegExp(`^${name}\\{gpu="${gpu}",[^}]*\\} (\\S+)$`, 'm').exec(body);
  return m ? Number(m[1]) : null;
}

function say(line: string): void {
  process.stdout.write(`gpu-check: ${line}\n`);
}

export async function main(argv: string[]): Promise<number> {
  const o = parseArgs(argv);
  const smi = o.nvidiaSmi ?? onPath('nvidia-smi');
  if (!smi) {
    say('no NVIDIA GPU here: nvidia-smi is not on PATH (nor given with --nvidia-smi). Nothing to check.');
    return 0;
  }
  const list = await run(smi, ['-L']);
  const gpus = list.out.split('\n').filter((l) => /^GPU \d+:/.test(l));
  if (list.code !== 0 || gpus.length === 0) {
    say(`no NVIDIA GPU here: ${smi} -L ${list.code !== 0 ? `failed (${(list.out + list.err).trim().split('\n').at(-1)})` : 'lists no GPU'}. Nothing to check.`);
    return 0;
  }
  mkdirSync(o.out, { recursive: true });
  say(`${gpus.length} GPU(s) via ${smi}; captures go to ${o.out}`);
  writeFileSync(join(o.out, 'nvidia-smi-L.txt'), list.out);
  writeFileSync(join(o.out, 'nvidia-smi-version.txt'), (await run(smi, ['--version'])).out);
  writeFileSync(join(o.out, 'nvidia-smi-q-x.xml'), (await run(smi, ['-q', '-x'])).out);

  const stream = queryStream(smi, join(o.out, 'query-gpu-stream.csv'));
  const db = join(o.out, 'trainpilot.db');
  let sidecar: SidecarProcess | undefined;
  let job: ChildProcess | undefined;
  try {
    sidecar = await spawnSidecar(['--db', db, '--gpu', 'on', '--nvidia-smi', smi, '--interval', '1s'], { timeoutMs: 30_000 });
    const scrape = scraper(sidecar.url);
    const torch = await run(o.python, ['-c', 'import json, torch; print(json.dumps({"v": torch.__version__, "cuda": torch.cuda.is_available()}))'], 60_000);
    const t = torch.code === 0 ? (JSON.parse(torch.out.trim().split('\n').at(-1) ?? '{}') as { v: string; cuda: boolean }) : null;
    let jobFigures: JobFigures | null = null;
    let runFigures: SidecarRun | null = null;
    let dmon: { code: number; out: string; err: string };
    const from = Date.now() / 1000;
    if (!t || !t.cuda) {
      say(t ? `PyTorch ${t.v} here has no CUDA: no training job; checking the collectors alone.` : `no PyTorch for ${o.python} (${torch.err.trim().split('\n').at(-1)}): no training job; checking the collectors alone.`);
      dmon = await run(smi, [...gpmArgs(1), '-c', '5'], 30_000);
      await new Promise((r) => setTimeout(r, 3000));
    } else {
      say(`PyTorch ${t.v} with CUDA: a ${o.seconds} s training job under trainpilot run --tune auto`);
      const jobOut = join(o.out, 'job.json');
      job = spawn(process.execPath, [CLI, 'run', '--url', sidecar.url, '--tune', 'auto', '--name', 'gpu-check', '--', o.python, join(REPO_ROOT, 'bench/gpu-check/job.py'), '--seconds', String(o.seconds), '--out', jobOut],
        { stdio: ['ignore', 'pipe', 'pipe'] });
      const log = createWriteStream(join(o.out, 'job.log'));
      job.stdout!.pipe(log);
      job.stderr!.pipe(log);
      const ended = new Promise<number>((res) => job!.once('exit', (c) => res(c ?? 1)));
      await new Promise((r) => setTimeout(r, Math.min(30, o.seconds / 2) * 1000));
      [dmon] = await Promise.all([run(smi, [...gpmArgs(1), '-c', '5'], 30_000), run(smi, ['--query-compute-apps=gpu_uuid,pid,used_memory,process_name', '--format=csv']).then((r) => writeFileSync(join(o.out, 'query-compute-apps.csv'), r.out))]);
      const code = await ended;
      if (code !== 0 || !existsSync(jobOut)) throw new Error(`the training job failed (exit ${code}); see ${join(o.out, 'job.log')}`);
      const j = JSON.parse(readFileSync(jobOut, 'utf8'));
      const api = async (path: string) => (await fetch(`${sidecar!.url}${path}`)).json();
      const runs = (await api('/v1/runs')) as { runs?: Array<{ id: string; name: string }> } | Array<{ id: string; name: string }>;
      const list = Array.isArray(runs) ? runs : runs.runs ?? [];
      const r = list.find((x) => x.name === 'gpu-check');
      const uuidIndex = new Map(stream.rows.map((row) => [row.cells[1], Number(row.cells[0])]));
      const gpuIndex = uuidIndex.get(j.uuid) ?? null;
      const watts = stream.rows.filter((row) => Number(row.cells[0]) === gpuIndex && row.at >= j.start_ts && row.at <= j.end_ts).map((row) => num(row.cells[5]) ?? 0);
      const integrated = watts.length > 0 ? (watts.reduce((a, b) => a + b, 0) / watts.length) * (j.end_ts - j.start_ts) : null;
      const energy = j.energy_joules ?? integrated;
      jobFigures = {
        steps: j.steps, samples: j.samples, joulesPerSample: energy === null ? null : energy / j.samples,
        joulesSource: j.energy_joules !== null ? 'NVML energy counter' : 'nvidia-smi power × job time',
        gpuIndex, reservedBytes: j.reserved_peak_bytes, endTs: j.end_ts,
      };
      if (r) {
        const view = (await api(`/v1/runs/${r.id}`)) as {
          summary: { steps: number; joules_per_sample: number | null }; config_version: number; applied_version: number; bottleneck: { kind: string } | null;
        };
        const decisions = (await api(`/v1/runs/${r.id}/decisions`)) as { decisions?: Array<{ ts: number }> } | Array<{ ts: number }>;
        const ds = Array.isArray(decisions) ? decisions : decisions.decisions ?? [];
        // The most the run's processes held on each GPU while it ran (its series go when the process does).
        const held: Record<string, number> = {};
        for (const { body } of scrape.samples) {
          for (const m of body.matchAll(/^trainpilot_run_gpu_memory_used_bytes\{run="gpu-check",gpu="(\d+)",[^}]*\} (\S+)$/gm)) held[m[1]] = Math.max(held[m[1]] ?? 0, Number(m[2]));
        }
        runFigures = {
          steps: view.summary.steps, joulesPerSample: view.summary.joules_per_sample, gpuMemoryBytes: held, decisions: ds.length,
          configVersion: view.config_version, appliedVersion: view.applied_version, bottleneck: view.bottleneck?.kind ?? null,
          lastDecisionTs: ds.length ? Math.max(...ds.map((d) => d.ts)) : null,
        };
        writeFileSync(join(o.out, 'run.json'), JSON.stringify({ view, decisions: ds }, null, 1));
      }
    }
    writeFileSync(join(o.out, 'dmon-gpm.txt'), dmon.out + (dmon.err ? `\n# stderr:\n${dmon.err}` : '') + `\n# exit ${dmon.code}\n`);
    const to = Date.now() / 1000;
    scrape.stop();
    stream.stop();
    writeFileSync(join(o.out, 'metrics.txt'), scrape.samples.at(-1)?.body ?? '');
    let gpm: ReturnType<typeof parseGpmOutput> = [];
    try {
      gpm = dmon.code === 0 ? parseGpmOutput(dmon.out) : [];
    } catch {
      gpm = []; // a header without GPM columns: unsupported
    }
    const gpmSupported = gpm.some((row) => Object.values(row.activity).some((v) => typeof v === 'number'));
    const indexes = [...new Set(stream.rows.map((row) => Number(row.cells[0])))].sort((a, b) => a - b);
    const inSpan = <T extends { at: number }>(xs: T[]) => xs.filter((x) => x.at >= from && x.at <= to);
    const reference: GpuFigures[] = indexes.map((i) => {
      const rows = inSpan(stream.rows).filter((row) => Number(row.cells[0]) === i);
      const act = gpm.filter((row) => row.index === i).map((row) => row.activity);
      return {
        index: i,
        utilizationRatio: medianOf(rows.map((row) => (num(row.cells[2]) === null ? null : num(row.cells[2])! / 100))),
        memoryUsedBytes: medianOf(rows.map((row) => (num(row.cells[3]) === null ? null : num(row.cells[3])! * MiB))),
        memoryTotalBytes: medianOf(rows.map((row) => (num(row.cells[4]) === null ? null : num(row.cells[4])! * MiB))),
        powerDrawWatts: medianOf(rows.map((row) => num(row.cells[5]))),
        smActiveRatio: medianOf(act.map((a) => a.smActiveRatio ?? null)),
        tensorActiveRatio: medianOf(act.map((a) => a.tensorActiveRatio ?? null)),
      };
    });
    const scraped = inSpan(scrape.samples);
    const sidecarFigures: GpuFigures[] = indexes.filter((i) => scraped.some((s) => gauge(s.body, 'trainpilot_gpu_utilization_ratio', i) !== null)).map((i) => ({
      index: i,
      utilizationRatio: medianOf(scraped.map((s) => gauge(s.body, 'trainpilot_gpu_utilization_ratio', i))),
      memoryUsedBytes: medianOf(scraped.map((s) => gauge(s.body, 'trainpilot_gpu_memory_used_bytes', i))),
      memoryTotalBytes: medianOf(scraped.map((s) => gauge(s.body, 'trainpilot_gpu_memory_total_bytes', i))),
      powerDrawWatts: medianOf(scraped.map((s) => gauge(s.body, 'trainpilot_gpu_power_draw_watts', i))),
      smActiveRatio: medianOf(scraped.map((s) => gauge(s.body, 'trainpilot_gpu_sm_active_ratio', i))),
      tensorActiveRatio: medianOf(scraped.map((s) => gauge(s.body, 'trainpilot_gpu_tensor_active_ratio', i))),
    }));
    const rows = compare({ sidecar: sidecarFigures, nvidiaSmi: reference, gpmSupported, job: jobFigures, run: runFigures });
    const table = formatTable(rows);
    writeFileSync(join(o.out, 'table.txt'), table + '\n');
    process.stdout.write(`${table}\n`);
    const bad = mismatches(rows);
    say(bad.length === 0 ? `all ${rows.length} checks agree (captures in ${o.out})` : `${bad.length} of ${rows.length} checks disagree: ${bad.map((r) => r.check).join('; ')}`);
    return bad.length === 0 ? 0 : 1;
  } finally {
    stream.stop();
    job?.kill();
    await sidecar?.stop();
  }
}

// Run as a script (scripts/gpu-check); importing it (tests) does not.
if (process.argv[1] && resolve(process.argv[1]).endsWith(join('bench', 'gpu-check', 'main.js'))) {
  main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (err: Error) => {
    process.stderr.write(`gpu-check: ${err.message}\n`);
    process.exitCode = 2;
  });
}
