// Multi-node data parallel end to end (issue 16, DESIGN §9), with real PyTorch: two sidecars
// (`trainpilot serve`, own ports and stores) stand for two nodes; four gloo ranks on loopback,
// ranks 0–1 talking to the first, 2–3 to the second, whose loader is slower. Rank 0's sidecar
// must name ranks 2 and 3 as stragglers on node-b, with the evidence; the second sidecar holds
// the run with its ranks' steps and process trees; every version lands at the same step on every
// rank; the second sidecar killed mid-run and restarted with an empty store rejoins the run, and
// with rank 0's sidecar killed too the job goes on with its last config: every rank exits 0.
// Needs `npm run build` (dist/) and /usr/bin/python3 with torch: fails without torch when CI=true.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, spawnSidecar, type SidecarProcess } from '../bench/lib/sidecar-process.js';
import { waitUntil } from './helpers/wait.js';

const PYTHON = '/usr/bin/python3';
const WORKER = join(REPO_ROOT, 'clients/python/tests/multinode_worker.py');
const STEPS = 1100;
/** Seconds the second node's loader takes per batch; the first node's takes none. */
const SLOW_LOAD_S = 0.03;

const torch = spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8' });
const hasTorch = torch.status === 0;
if (!hasTorch && process.env.CI === 'true') throw new Error(`multinode e2e: ${PYTHON} has no torch (CI=true fails instead of skipping): ${torch.stderr}`);

const dir = mkdtempSync(join(tmpdir(), 'trainpilot-multinode-'));
const procs: ChildProcess[] = [];
const sidecars: SidecarProcess[] = [];
afterAll(async () => {
  for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL');
  await Promise.all(sidecars.map((s) => s.stop('SIGKILL')));
  rmSync(dir, { recursive: true, force: true });
});

async function freePort(): Promise<number> {
  return new Promise((res) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
  });
}

async function api<T>(url: string, path: string, init?: RequestInit): Promise<T> {
  const r = await fetch(url + path, { ...init, headers: { 'content-type': 'application/json' } });
  if (!r.ok) throw new Error(`${init?.method ?? 'GET'} ${path}: ${r.status} ${await r.text()}`);
  return (await r.json()) as T;
}

const until = <T>(what: string, fn: () => Promise<T | undefined | false | null>, timeoutMs: number, context: () => string): Promise<T> =>
  waitUntil(what, fn, { timeoutMs, intervalMs: 250, context });

interface RankEntry { rank: number; node: string | null; samples_per_second: number | null; step_seconds: number | null; data_wait_ratio: number | null; last_step: number | null; straggler: boolean; pid: number | null; process: { alive: boolean; resident_memory_bytes: number } | null }
interface RunView { id: string; state: string; config_version: number; applied_version: number; tune: { mode: string }; bottleneck: { kind: string; evidence: Record<string, unknown> } | null; advice: Array<{ code: string; why: string }>; ranks?: RankEntry[] }
interface Step { step: number; rank: number; world_size: number }
interface Event { kind: string; step: number | null; data: Record<string, unknown> }

describe.skipIf(!hasTorch && process.env.CI !== 'true')('multi-node data parallel: a sidecar per node, one run, stragglers named', () => {
  it('names the slow node\'s ranks as stragglers, keeps the run on both sidecars, and survives its sidecars killed mid-run', async () => {
    const sidecar = async (name: string, port = 0) => {
      const s = await spawnSidecar(['--db', join(dir, `${name}.db`), '--gpu', 'off', '--interval', '1s', '--port', String(port)]);
      sidecars.push(s);
      return s;
    };
    const bPort = await freePort();
    const a = await sidecar('node-a');
    let b = await sidecar('node-b', bPort);
    const masterPort = await freePort();
    const out = ['', '', '', ''];
    const err = ['', '', '', ''];
    const context = () => `${err.map((e, r) => `--- rank ${r} stderr\n${e.slice(-1500)}`).join('\n')}\n--- node-a\n${a.stderr().slice(-1500)}\n--- node-b\n${b.stderr().slice(-1500)}`;
    const exits = [0, 1, 2, 3].map((rank) => {
      const p = spawn(PYTHON, [WORKER, String(STEPS)], {
        cwd: REPO_ROOT,
        env: {
          PATH: process.env.PATH, HOME: process.env.HOME, PYTHONPATH: join(REPO_ROOT, 'clients/python'), OMP_NUM_THREADS: '1',
          MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(masterPort), WORLD_SIZE: '4', RANK: String(rank),
          TRAINPILOT_URL: rank < 2 ? a.url : b.url, TRAINPILOT_NODE: rank < 2 ? 'node-a' : 'node-b',
          LOAD_DELAY_S: rank < 2 ? '0' : String(SLOW_LOAD_S),
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      procs.push(p);
      p.stdout!.on('data', (d) => (out[rank] += d));
      p.stderr!.on('data', (d) => (err[rank] += d));
      return new Promise<number | null>((res) => p.once('exit', (code) => res(code)));
    });

    // Rank 0 registered on node-a; find the run there.
    const runId = await until('the run on node-a', async () => (await api<{ runs: RunView[] }>(a.url, '/v1/runs')).runs[0]?.id, 30_000, context);

    // Rank 0's sidecar names ranks 2 and 3, on node-b, held back by their data loading.
    const lead = await until('stragglers in node-a\'s bottleneck evidence', async () => {
      const v = await api<RunView>(a.url, `/v1/runs/${runId}`);
      return Array.isArray(v.bottleneck?.evidence.stragglers) && v.ranks?.length === 4 ? v : undefined;
    }, 60_000, context);
    const ev = lead.bottleneck!.evidence;
    expect(ev.stragglers).toEqual([2, 3]);
    expect(ev.straggler_nodes).toEqual(['node-b']);
    expect(ev.straggler_cause).toBe('data_loading');
    expect(ev.straggler_data_wait_ratio as number).toBeGreaterThan((ev.others_data_wait_ratio as number) + 0.1);
    expect(String(ev.straggler_why)).toMatch(/^Ranks 2, 3 on node-b wait [\d.]+ ?% of each step for data, the other ranks [\d.]+ ?%/);
    expect(ev.straggler_action).toBe('advise');
    expect(lead.advice.find((x) => x.code === 'stragglers_data_loading')?.why).toMatch(/one config for all its ranks/);
    expect(lead.ranks!.map((r) => [r.rank, r.node, r.straggler])).toEqual([[0, 'node-a', false], [1, 'node-a', false], [2, 'node-b', true], [3, 'node-b', true]]);
    for (const r of lead.ranks!) {
      expect(r.samples_per_second, `rank ${r.rank}`).toBeGreaterThan(0);
      expect(r.step_seconds, `rank ${r.rank}`).toBeGreaterThan(0);
      expect(r.last_step, `rank ${r.rank}`).toBeGreaterThan(0);
    }
    // node-a watches its own ranks' processes.
    expect(lead.ranks!.filter((r) => r.rank < 2).every((r) => r.pid !== null)).toBe(true);

    // One decision for the job, from rank 0's sidecar: a new version there reaches every rank.
    const set = await api<{ config_version: number }>(a.url, `/v1/runs/${runId}/config`, {
      method: 'PUT', body: JSON.stringify({ config: { batch_size: 4, learning_rate: 0.05, num_workers: 0 }, reason: 'multinode e2e' }),
    });

    // The second node's sidecar holds the run under the same id: its ranks' steps, process trees,
    // and the new version (from its ranks' acknowledgements); it only classifies (mode off).
    const copy = await until('node-b\'s copy with both ranks\' process trees and the new version', async () => {
      const v = await api<RunView>(b.url, `/v1/runs/${runId}`);
      const trees = (v.ranks ?? []).filter((r) => r.process?.alive && r.process.resident_memory_bytes > 0);
      return trees.length === 2 && v.applied_version >= set.config_version ? v : undefined;
    }, 40_000, context);
    expect(copy.tune.mode).toBe('off');
    expect(copy.ranks!.map((r) => [r.rank, r.node])).toEqual([[2, 'node-b'], [3, 'node-b']]);
    const bSteps = await api<{ steps: Step[] }>(b.url, `/v1/runs/${runId}/steps?limit=10000`);
    expect(new Set(bSteps.steps.map((s) => s.rank))).toEqual(new Set([2, 3]));
    expect(bSteps.steps.every((s) => s.world_size === 4)).toBe(true);
    const aSteps = await api<{ steps: Step[] }>(a.url, `/v1/runs/${runId}/steps?limit=10000`);
    expect(new Set(aSteps.steps.map((s) => s.rank))).toEqual(new Set([0, 1]));

    // Rank 0's sidecar heard both of its ranks apply the version, at the step every rank applied it.
    const acks = await until('node-a\'s acknowledgements of the new version', async () => {
      const evs = (await api<{ events: Event[] }>(a.url, `/v1/runs/${runId}/events?limit=1000`)).events
        .filter((e) => e.kind === 'config_applied' && e.data.version === set.config_version);
      return evs.length === 2 ? evs : undefined;
    }, 20_000, context);
    expect(acks[0].step).toBe(acks[1].step);

    // The second node's sidecar dies mid-run; it comes back on its port with an empty store, and
    // its ranks make their copy of the run again and announce themselves: it rejoins the run.
    await b.stop('SIGKILL');
    b = await sidecar('node-b-restarted', bPort);
    const rejoined = await until('node-b\'s sidecar to hold the run again', async () => {
      const v = await api<RunView>(b.url, `/v1/runs/${runId}`);
      return (v.ranks ?? []).filter((r) => r.process?.alive).length === 2 ? v : undefined;
    }, 30_000, context);
    expect(rejoined.config_version).toBe(set.config_version);
    expect(rejoined.tune.mode).toBe('off');

    // Rank 0's sidecar dies too: the job goes on with its last config, and every rank ends well.
    await a.stop('SIGKILL');
    const killedA = Date.now() / 1000;
    const codes = await Promise.race([
      Promise.all(exits),
      new Promise<never>((_, rej) => setTimeout(() => rej(new Error(`ranks did not end\n${context()}`)), 90_000)),
    ]);
    expect(codes, context()).toEqual([0, 0, 0, 0]);

    // Every rank applied every version at the same step, with the same values.
    const results = out.map((o) => JSON.parse(o.trim().split('\n').at(-1)!) as { rank: number; id: string; applied: number[][]; ended: number });
    for (const r of results) expect(r.ended, `rank ${r.rank} trained on after both kills`).toBeGreaterThan(killedA);
    expect(results.map((r) => r.id)).toEqual([runId, runId, runId, runId]);
    const applied = results[0].applied;
    expect(applied.some(([, v, bs]) => v === set.config_version && bs === 4)).toBe(true);
    for (const r of results) expect(r.applied, `rank ${r.rank}`).toEqual(applied);
    expect(applied.at(-1)![1]).toBe(set.config_version); // nothing newer came while rank 0's sidecar was gone
    expect(acks.map((e) => [e.data.rank, e.step]).sort()).toEqual([[0, applied.at(-1)![0]], [1, applied.at(-1)![0]]]);
    // The job ran on after both kills: rank 2 reported steps to the restarted sidecar.
    const late = await until('steps on the restarted sidecar', async () => (await api<{ steps: Step[] }>(b.url, `/v1/runs/${runId}/steps?limit=10000`)).steps, 5_000, context);
    expect(late.length).toBeGreaterThan(0);
  }, 180_000);
});
