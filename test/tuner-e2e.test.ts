// End to end through the real HTTP server: a simulated job registers, posts its steps,
// long-polls its config, applies new versions and acknowledges them with config_applied
// (or reports oom), while the real tuner loop reads and writes through the store.
// The store's clock is the simulation's, so cooldowns run on simulated time.
import { afterEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../server/app.js';
import { openRuns, type TestRuns } from './helpers/runs.js';
import { createTunerLoop } from '../tuner/loop.js';
import { oracle, steadyState, DEFAULT_MODEL } from '../tuner/simulator.js';
import { createSimJob } from '../tuner/simulator-job.js';
import { scenarioByName } from '../tuner/simulator-scenarios.js';
import type { RunConfig } from '../domain/config.js';
import type { StepPoint } from '../domain/steps.js';

let app: FastifyInstance | undefined;
let store: TestRuns | undefined;
afterEach(async () => {
  await app?.close();
  store?.close();
  app = undefined;
  store = undefined;
});

async function call(base: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, json: await res.json() };
}

const stepBody = (s: StepPoint) => ({
  step: s.step, ts: s.ts, duration_s: s.durationS, data_wait_s: s.dataWaitS, samples: s.samples, loss: s.loss ?? undefined,
  ...(s.memPeakBytes !== null ? { mem_peak_bytes: s.memPeakBytes } : {}), config_version: s.configVersion,
});

async function driveOverHttp(name: string, steps: number) {
  const scenario = scenarioByName(name);
  const model = { ...DEFAULT_MODEL, ...scenario.model };
  const job = createSimJob({ model, config: scenario.config, seed: 11 });
  store = openRuns({ path: ':memory:', now: () => job.t });
  app = await buildApp({ runs: store, version: 'test' });
  const base = await app.listen({ host: '127.0.0.1', port: 0 });
  const tuner = createTunerLoop({ intervalS: 1, ports: store.ports, cpuBudget: { cores: model.cores, source: 'simulated host' } });

  const reg = await call(base, 'POST', '/v1/runs', { name, config: scenario.config, tune: scenario.tune });
  expect(reg.status).toBe(201);
  const id: string = reg.json.id;
  let known = reg.json.config_version as number;
  let nextTick = job.t + 1;
  let pending: StepPoint[] = [];
  for (let i = 0; i < steps; i++) {
    pending.push(job.runStep());
    if (job.t < nextTick) continue;
    nextTick = job.t + 1;
    const posted = await call(base, 'POST', `/v1/runs/${id}/steps`, { steps: pending.map(stepBody) });
    expect(posted.status).toBe(202);
    pending = [];
    // The sidecar's collectors would sample here; the simulator stands in for them.
    const r = job.readings();
    store.recordSnapshot({ ts: job.t, host: r.host, gpus: r.gpus, processes: r.process ? [{ ...r.process, runId: id }] : [], health: [] });
    tuner.tick();
    // The client's poller: what the step response announced, or what the tuner just wrote.
    const cfg = await call(base, 'GET', `/v1/runs/${id}/config?after=${known}&wait_s=0`);
    expect(cfg.status).toBe(200);
    if (cfg.json.config_version > known) {
      known = cfg.json.config_version;
      for (const e of job.sync(known, cfg.json.config as RunConfig)) {
        const ev = await call(base, 'POST', `/v1/runs/${id}/events`, { kind: e.kind, step: e.step ?? undefined, ts: e.ts, data: e.data });
        expect(ev.status).toBe(202);
      }
    }
  }
  const decisions = (await call(base, 'GET', `/v1/runs/${id}/decisions`)).json.decisions;
  const run = (await call(base, 'GET', `/v1/runs/${id}`)).json;
  const space = {
    batch: { min: scenario.tune.bounds.batch_size!.min, max: scenario.tune.bounds.batch_size!.max },
    workers: { min: scenario.tune.bounds.num_workers!.min, max: scenario.tune.bounds.num_workers!.max },
  };
  const best = oracle(model, space).throughput;
  const end = steadyState(model, job.applied.config.batch_size, job.applied.config.num_workers).throughput / best;
  return { job, decisions, run, end };
}

describe('tuner end to end over HTTP', () => {
  it('input-bound: workers then batch size, each version applied and acknowledged', async () => {
    const { job, decisions, run, end } = await driveOverHttp('input-bound', 2500);
    expect(end).toBeGreaterThanOrEqual(0.95);
    expect(job.applied.version).toBeGreaterThan(1);
    expect(decisions[0]).toMatchObject({ knob: 'num_workers', action: 'increase', recommend_only: false });
    for (const d of decisions) {
      expect(d.reason).toBeTruthy();
      expect(d.evidence).toBeTypeOf('object');
    }
    expect(decisions.some((d: { outcome: { status: string } }) => d.outcome.status === 'kept')).toBe(true);
    expect(JSON.stringify(run)).toMatch(/bottleneck/);
  });

  it('blind job (step reports only): OOMs reported over HTTP back the batch off, each size once', async () => {
    const { job, decisions, end } = await driveOverHttp('blind', 1500);
    expect(job.ooms.length).toBeGreaterThan(0);
    expect(new Set(job.ooms).size).toBe(job.ooms.length);
    expect(job.applied.config.batch_size).toBeLessThan(Math.min(...job.ooms));
    expect(decisions.some((d: { reason: string }) => /out of memory/.test(d.reason))).toBe(true);
    expect(end).toBeGreaterThanOrEqual(0.95);
  });
});
