// bench/footprint: where the idle sidecar's resident memory goes, by part (docs/footprint.md).
//   1. The sidecar put together one part at a time (bench/footprint-stages.ts, bundled as the CLI
//      is bundled): RSS, anonymous and file-backed, and the V8 heap after each part, after full
//      GCs. Then what a sidecar pays only when used: 20 runs with steps, /metrics, the page,
//      /docs, ranks.
//   2. The sidecar as users start it (bin/trainpilot.js serve, no node flags), 8-GPU stand-in,
//      1 s sampling: peak (VmHWM) and RSS after BENCH_SECONDS (default 20), for the whole.
// Prints figures; asserts nothing. Needs `npm run build`.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { REPO_ROOT, spawnSidecar } from './lib/sidecar-process.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 20);
const STAND_IN = join(REPO_ROOT, 'test/bin/nvidia-smi');
const MB = 1e6;

interface Stage { stage: string; rss: number; anon: number; file: number; hwm: number; heapUsed: number; heapTotal: number; external: number }

async function bundleStages(out: string): Promise<string> {
  const esbuild = await import('esbuild');
  const { bundleOptions } = await import(pathToFileURL(join(REPO_ROOT, 'scripts/bundle-options.mjs')).href);
  // Written next to dist/ so that the bundle's relative paths (the page's files, package.json) resolve.
  await esbuild.build({ ...bundleOptions(REPO_ROOT, { stages: 'dist/bench/footprint-stages.js' }, out), sourcemap: false });
  return join(out, 'stages.js');
}

function runStages(file: string, dir: string): Promise<Stage[]> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--expose-gc', file, STAND_IN, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    p.once('error', reject);
    p.once('exit', (code) => (code === 0 ? resolve(out.trim().split('\n').map((l) => JSON.parse(l) as Stage)) : reject(new Error(`stages exited ${code}`))));
  });
}

const statusKiB = (pid: number, field: string): number =>
  Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'trainpilot-bench-footprint-'));
  const out = join(REPO_ROOT, 'dist/app-footprint');
  try {
    const stages = await runStages(await bundleStages(out), dir);
    const f = (n: number) => (n / MB).toFixed(1).padStart(6);
    const d = (n: number) => `${n >= 0 ? '+' : '−'}${(Math.abs(n) / MB).toFixed(1)}`.padStart(6);
    console.log('part (cumulative; after full GCs)                              RSS    ΔRSS  Δanon  Δfile    heap  Δheap');
    let prev: Stage | null = null;
    for (const s of stages) {
      const p = prev ?? { ...s, rss: 0, anon: 0, file: 0, heapUsed: 0 };
      console.log(`${s.stage.padEnd(62)} ${f(s.rss)} ${d(s.rss - p.rss)} ${d(s.anon - p.anon)} ${d(s.file - p.file)} ${f(s.heapUsed)} ${d(s.heapUsed - p.heapUsed)}`);
      prev = s;
    }
    console.log(`(MB; peak RSS of the staged process ${f(stages.at(-1)!.hwm).trim()} MB)`);

    const sidecar = await spawnSidecar(['--db', join(dir, 'whole.db'), '--interval', '1s', '--gpu', 'on', '--nvidia-smi', STAND_IN]);
    const pid = sidecar.proc.pid!;
    let max = 0;
    for (let i = 0; i < SECONDS; i++) {
      await new Promise((r) => setTimeout(r, 1000));
      max = Math.max(max, statusKiB(pid, 'VmRSS'));
    }
    console.log('');
    console.log(`the whole sidecar (bin/trainpilot.js serve, no node flags, 8 GPUs, 1 s): peak ${f(statusKiB(pid, 'VmHWM')).trim()} MB, ` +
      `highest 1 s reading ${f(max).trim()} MB, after ${SECONDS} s ${f(statusKiB(pid, 'VmRSS')).trim()} MB ` +
      `(anon ${f(statusKiB(pid, 'RssAnon')).trim()}, file ${f(statusKiB(pid, 'RssFile')).trim()})`);
    await sidecar.stop();
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(out, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
