// A job in a cgroup whose memory limit (v1) leaves room for its start config but not for the
// workers the tuner would otherwise add (issue 22): the tuner never plans past the budget, the
// job is never OOM-killed, its cgroup's usage stays under the limit, and the refused worker count
// is named in the decisions. Real PyTorch, a real sidecar, a real cgroup (root and
// /sys/fs/cgroup/memory needed: fails under CI=true without them, skipped elsewhere).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSidecar, type SidecarProcess } from '../bench/lib/sidecar-process.js';

const PYTHON = '/usr/bin/python3';
const V1 = '/sys/fs/cgroup/memory';
const canCgroup = existsSync(`${V1}/memory.limit_in_bytes`) && process.getuid?.() === 0;
if (!canCgroup && process.env.CI === 'true') throw new Error(`${V1} is not writable here (CI=true)`);
const LIMIT = 1000 * 2 ** 20;
const dir = mkdtempSync(join(tmpdir(), 'trainpilot-memory-'));
const cg = `${V1}/trainpilot-job-${process.pid}`;
let s: SidecarProcess;

beforeAll(async () => {
  if (!canCgroup) return;
  const probe = spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8' });
  if (probe.status !== 0) throw new Error(`${PYTHON} cannot import torch: ${probe.stderr}`);
  s = await spawnSidecar(['--db', join(dir, 'memory.db'), '--gpu', 'off', '--interval', '1s']);
  mkdirSync(cg);
  writeFileSync(`${cg}/memory.limit_in_bytes`, String(LIMIT));
}, 60_000);
afterAll(async () => {
  await s?.stop('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
  for (let i = 0; i < 40 && existsSync(cg); i++) {
    try { rmdirSync(cg); } catch { await new Promise((r) => setTimeout(r, 100)); }
  }
});

describe('the host-memory budget on a job under a cgroup memory limit', () => {
  it.skipIf(!canCgroup)('never plans workers past it, names the refused count, and the job is not OOM-killed', async () => {
    // The CLI and its job start inside the cgroup: the shell joins it, then execs the launcher.
    const cmd = `echo $$ > ${cg}/cgroup.procs && exec node bin/trainpilot.js run --url ${s.url} -- ${PYTHON} ` +
      'test/fixtures/zero-code/fat_workers.py --epochs 14 --workers 1 --transform-ms 3';
    const child = spawn('sh', ['-c', cmd], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    const id = /\(run (\S+), pid \d+\)/.exec(err)?.[1] ?? '';
    const decisions = ((await (await fetch(`${s.url}/v1/runs/${id}/decisions`)).json()) as { decisions: Array<Record<string, any>> }).decisions;
    const maxUsage = Number(readFileSync(`${cg}/memory.max_usage_in_bytes`, 'utf8'));
    const text = JSON.stringify(decisions);
    console.log(`memory e2e: exit ${code}, cgroup peak ${(maxUsage / 2 ** 20).toFixed(0)} MiB of ${LIMIT / 2 ** 20}; ` +
      `epochs ${out.trim().split('\n').map((l) => /workers (\d+)/.exec(l)?.[1]).join(',')}; ` +
      `decisions: ${decisions.map((d) => `${d.knob} ${d.action} (${d.reason})`).join('; ')}`);
    expect(code, err).toBe(0);
    expect(out.trim().split('\n').every((l) => / workers 1,/.test(l)), out).toBe(true);
    expect(decisions.filter((d) => d.knob === 'num_workers' && d.action === 'increase')).toEqual([]);
    expect(text).toMatch(/2 workers would pass the host-memory budget \(\d+ MB per worker, room for 1; cgroup memory limit/);
    expect(maxUsage).toBeLessThan(LIMIT);
  }, 120_000);
});
