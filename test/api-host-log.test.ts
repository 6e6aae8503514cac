// GET /v1/host in snake_case (every field of the real sampler's snapshot, the OpenAPI saying so),
// and the sidecar's one log: request lines at debug only, decisions and start-up at info, human
// lines by default and JSON when asked.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { humanLine, logStream } from '../server/log.js';
import { snakeKeys } from '../server/schemas/host.js';
import { startSidecar, type SidecarOptions } from '../server/sidecar.js';
import { GOOD_RUN, steps, testApp } from './helpers/app.js';

const STAND_IN = fileURLToPath(new URL('./bin/nvidia-smi', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'trainpilot-host-log-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const options = (over: Partial<SidecarOptions>): SidecarOptions => ({
  host: '127.0.0.1', port: 0, db: join(dir, `${Math.random().toString(36).slice(2)}.db`), intervalS: 0.2, nvidiaSmi: STAND_IN,
  gpu: 'on', token: null, retentionS: 86400, metricsListen: null, log: 'silent', ...over,
});

/** Every key at every depth, with its path; the keys of gpu_memory_bytes are GPU indices. */
function keys(v: unknown, path = ''): string[] {
  if (Array.isArray(v)) return v.flatMap((x, i) => keys(x, `${path}[${i}]`));
  if (v === null || typeof v !== 'object') return [];
  return Object.entries(v).flatMap(([k, x]) => (path.endsWith('gpu_memory_bytes') ? [] : [`${path}.${k}`, ...keys(x, `${path}.${k}`)]));
}

const until = async (f: () => boolean, ms = 10_000) => {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
};

describe('GET /v1/host', () => {
  it('answers snake_case at every depth, every field of the sampler\'s snapshot kept, and the OpenAPI says so', async () => {
    const s = await startSidecar(options({}));
    try {
      await s.app.inject({ method: 'POST', url: '/v1/runs', payload: { ...GOOD_RUN, pid: process.pid } });
      // The GPU inventory (driver, names) is read once, apart from the first tick: wait for it too.
      await until(() => (s.sampler.latest()?.processes.length ?? 0) > 0 && (s.sampler.latest()?.gpus?.length ?? 0) > 0 && s.sampler.inventory()?.gpu != null);
      const res = await s.app.inject({ url: '/v1/host' });
      expect(res.statusCode).toBe(200);
      const body = res.json();
      const all = keys(body);
      expect(all.filter((k) => /[A-Z]/.test(k.split('.').at(-1)!))).toEqual([]);
      expect(body.host).toMatchObject({ cpu_count: expect.any(Number), memory_total_bytes: expect.any(Number), cpu_utilization_ratio: expect.anything() });
      expect(body.gpus[0]).toMatchObject({ index: 0, utilization_ratio: expect.any(Number), memory_total_bytes: expect.any(Number), clock_event_reasons: expect.any(Array) });
      expect(body.processes[0]).toMatchObject({ pid: process.pid, alive: true, worker_count: expect.any(Number), gpu_memory_bytes: expect.any(Object) });
      expect(body.collectors.map((c: { name: string }) => c.name).sort()).toEqual(['gpu', 'host', 'process']);
      expect(body.collectors[0]).toHaveProperty('last_duration_seconds');
      expect(body.inventory.gpu).toMatchObject({ driver_version: expect.any(String), gpus: expect.any(Array) });
      // Nothing the collectors read is dropped on the way out: the answer has every key the snapshot has.
      const snap = snakeKeys({ host: s.sampler.latest()!.host, gpus: s.sampler.latest()!.gpus, inventory: s.sampler.inventory() });
      const shape = (ks: string[]) => [...new Set(ks.map((k) => k.replace(/\[\d+\]/g, '[]')))].sort();
      expect(shape(all.filter((k) => /^\.(host|gpus|inventory)/.test(k)))).toEqual(shape(keys(snap)));

      const doc = (await s.app.inject({ url: '/docs/json' })).json();
      const names: string[] = [];
      const walk = (v: unknown): void => {
        if (Array.isArray(v)) v.forEach(walk);
        else if (v && typeof v === 'object') {
          for (const [k, x] of Object.entries(v)) {
            if (k === 'properties') names.push(...Object.keys(x as object));
            walk(x);
          }
        }
      };
      walk(doc.paths['/v1/host'].get.responses['200']);
      expect(names).toContain('cpu_utilization_ratio');
      expect(names.length).toBeGreaterThan(50);
      expect(names.filter((n) => /[A-Z]/.test(n))).toEqual([]);
    } finally {
      await s.close();
    }
  });
});

describe('the log', () => {
  it('writes request lines at debug only, one per request', async () => {
    for (const level of ['info', 'debug'] as const) {
      const lines: string[] = [];
      const t = await testApp({ logger: { level, stream: logStream('json', level, { write: (l) => lines.push(l) }) } });
      const id = (await t.app.inject({ method: 'POST', url: '/v1/runs', payload: GOOD_RUN })).json().id;
      for (let i = 0; i < 4; i++) await t.app.inject({ method: 'POST', url: `/v1/runs/${id}/steps`, payload: { steps: steps(i * 10, 10) } });
      await t.close();
      const requests = lines.map((l) => JSON.parse(l)).filter((r) => r.url !== undefined);
      expect(requests.length, level).toBe(level === 'debug' ? 5 : 0);
      if (level === 'debug') expect(requests[1]).toMatchObject({ level: 20, method: 'POST', status_code: 202, msg: expect.stringMatching(/^POST \/v1\/runs\/\w+\/steps 202 [\d.]+ (ms|µs|s)$/) });
    }
  });

  it('says start-up, decisions and warnings as one human line each by default, JSON when asked', async () => {
    expect(humanLine({ level: 30, time: 1, pid: 2, hostname: 'h', msg: 'serving on http://127.0.0.1:9477', run_id: 'r1' })).toBe('trainpilot: serving on http://127.0.0.1:9477\n');
    // A warning's fields follow it, unless the message already says them.
    expect(humanLine({ level: 40, msg: 'tuner: run r1: the pass failed', run_id: 'r1', err: { message: 'boom' } })).toBe('trainpilot: warning: tuner: run r1: the pass failed: boom\n');
    expect(humanLine({ level: 50, msg: 'store write failed', code: 'SQLITE_FULL' })).toBe('trainpilot: error: store write failed (code=SQLITE_FULL)\n');
    const out: string[] = [];
    const human = logStream('human', 'info', { write: (l) => out.push(l) });
    human.write(`${JSON.stringify({ level: 30, time: 1, msg: 'Server listening at http://127.0.0.1:1' })}\n`); // Fastify's own: the start-up line says it
    human.write(`${JSON.stringify({ level: 30, time: 1, msg: 'run train.py: decision #1: num_workers increase 0 → 2 — input-bound' })}\n`);
    expect(out).toEqual(['trainpilot: run train.py: decision #1: num_workers increase 0 → 2 — input-bound\n']);
  });

  it('warns once when a collector goes down, with its reason, and says when it is back', async () => {
    const written: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string) => (written.push(String(chunk)), true)) as typeof process.stderr.write;
    process.env.FAKE_NVIDIA_SMI_MODE = 'exit'; // the stand-in fails as a broken driver does
    const s = await startSidecar(options({ log: 'info' }));
    try {
      await until(() => written.some((l) => l.includes('collector gpu is down')));
      await new Promise((r) => setTimeout(r, 600)); // more failed ticks: no more lines
      process.env.FAKE_NVIDIA_SMI_MODE = 'ok';
      await until(() => written.some((l) => l.includes('collector gpu is back')), 15_000);
    } finally {
      delete process.env.FAKE_NVIDIA_SMI_MODE;
      await s.close();
      process.stderr.write = write;
    }
    const lines = written.join('').split('\n').filter((l) => l.includes('collector gpu'));
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^trainpilot: warning: collector gpu is down: .+/);
    expect(lines[1]).toBe('trainpilot: collector gpu is back');
  }, 30_000);

  it('logs each decision the tuner makes at info, and the start-up line whatever the level, in the chosen format', async () => {
    const written: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    // The sidecar's log goes to stderr; catch it there for this test.
    process.stderr.write = ((chunk: string) => (written.push(String(chunk)), true)) as typeof process.stderr.write;
    const s = await startSidecar(options({ gpu: 'off', log: 'info', logFormat: 'json' }));
    try {
      s.announce('serving on somewhere');
      // Half of each step waits for data with no workers: the real tuner adds workers.
      const id = (await s.app.inject({ method: 'POST', url: '/v1/runs', payload: { ...GOOD_RUN, pid: undefined, config: { ...GOOD_RUN.config, num_workers: 0 } } })).json().id as string;
      await s.app.inject({ method: 'POST', url: `/v1/runs/${id}/steps`, payload: { steps: steps(0, 60, { data_wait_s: 0.05, duration_s: 0.1 }) } });
      await until(() => s.runs.decisions(id).length > 0, 15_000);
    } finally {
      await s.close();
      process.stderr.write = write;
    }
    const recs = written.join('').trim().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
    expect(recs[0]).toMatchObject({ level: 30, msg: 'serving on somewhere' });
    expect(recs.find((r) => r.decision_id !== undefined)).toMatchObject({ level: 30, knob: expect.any(String), msg: expect.stringMatching(/^run resnet50-a: decision #1: /) });
    expect(recs.filter((r) => r.url !== undefined)).toEqual([]); // no request lines at info
    for (const r of recs) expect(r.msg).not.toMatch(/\d\.\d{4,}/);
  });
});
