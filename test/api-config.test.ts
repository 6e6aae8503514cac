import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Decision } from '../domain/decisions.js';
import { pointEvidence } from '../domain/measured.js';
import { figures } from '../tuner/window-fixtures.js';
import { GOOD_RUN, registerRun, steps, testApp, type TestApp } from './helpers/app.js';

let t: TestApp;
let id: string;
beforeEach(async () => {
  t = await testApp();
  id = await registerRun(t.app);
});
afterEach(async () => {
  await t.close();
});

const decision = (batch: number, recommendOnly = false): Decision => ({
  knob: 'batch_size',
  action: 'increase',
  reason: `throughput rose with batch size; trying ${batch}`,
  evidence: { samples_per_second: 812.5, gain_ratio: 0.12 },
  configBefore: { ...GOOD_RUN.config },
  configAfter: { ...GOOD_RUN.config, batch_size: batch },
  advice: [{ code: 'mixed_precision', title: 'Use mixed precision', why: 'halves activation memory' }],
  recommendOnly,
});

describe('config versions and long-poll', () => {
  it('answers at once when a newer version exists', async () => {
    const res = await t.app.inject({ url: `/v1/runs/${id}/config?after=0&wait_s=30` });
    expect(res.json()).toMatchObject({ config_version: 1, config: GOOD_RUN.config, source: 'initial' });
  });

  it('wakes a waiting long-poll within 50 ms of a new version from the tuner port', async () => {
    const t0 = performance.now();
    const pending = t.app.inject({ url: `/v1/runs/${id}/config?after=1&wait_s=10` });
    await new Promise((r) => setTimeout(r, 200));
    expect(t.runs.waitingPolls()).toBe(1);
    const created = performance.now();
    const rec = t.runs.applyDecision(id, decision(128));
    const res = await pending;
    const latencyMs = performance.now() - created;
    expect(rec.configVersion).toBe(2);
    expect(res.json()).toMatchObject({ config_version: 2, config: { batch_size: 128 }, source: 'tuner', decision_id: rec.id });
    expect(res.json().reason).toMatch(/trying 128/);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(200);
    expect(latencyMs).toBeLessThan(50);
    expect(t.runs.waitingPolls()).toBe(0);
  });

  it('answers with the current version after wait_s when none comes', async () => {
    const t0 = performance.now();
    const res = await t.app.inject({ url: `/v1/runs/${id}/config?after=1&wait_s=0.3` });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(290);
    expect(res.json().config_version).toBe(1);
  });

  it('rejects wait_s above 60 and a negative after', async () => {
    expect((await t.app.inject({ url: `/v1/runs/${id}/config?wait_s=61` })).statusCode).toBe(400);
    expect((await t.app.inject({ url: `/v1/runs/${id}/config?after=-1` })).statusCode).toBe(400);
    expect((await t.app.inject({ url: `/v1/runs/${id}/config?wait_s=abc` })).json().message).toMatch(/wait_s/);
  });

  it('records a recommendation in advise mode without a config version', async () => {
    const adv = await registerRun(t.app, { ...GOOD_RUN, tune: { ...GOOD_RUN.tune, mode: 'advise' } });
    const rec = t.runs.applyDecision(adv, decision(128));
    expect(rec.configVersion).toBeNull();
    expect((await t.app.inject({ url: `/v1/runs/${adv}/config` })).json().config_version).toBe(1);
    const d = (await t.app.inject({ url: `/v1/runs/${adv}/decisions` })).json().decisions;
    expect(d).toHaveLength(1);
    expect(d[0]).toMatchObject({ knob: 'batch_size', recommend_only: false, config_version: null, evidence: { gain_ratio: 0.12 } });
  });

  it('keeps the decision audit log with outcomes', async () => {
    const rec = t.runs.applyDecision(id, decision(128));
    t.runs.setOutcome(id, rec.id, { status: 'rolled_back', gainRatio: -0.08, note: 'throughput fell 8 %' });
    const d = (await t.app.inject({ url: `/v1/runs/${id}/decisions` })).json().decisions;
    expect(d[0]).toMatchObject({
      id: rec.id, config_before: { batch_size: 64 }, config_after: { batch_size: 128 }, config_version: 2,
      outcome: { status: 'rolled_back', gainRatio: -0.08 }, advice: [{ code: 'mixed_precision' }],
    });
  });
});

describe("a decision's measured figures over HTTP", () => {
  it('keeps evidence.before_* and outcome.after in their names, and adds measured_before with the same figures', async () => {
    const before = figures({ batchSize: 64, numWorkers: 2, samplesPerSecond: 339.123456, dataWaitRatio: 0.42, memPeakBytes: 3e9, loss: 1.93, processCpuCores: 1.5, gpuMemoryUsedBytes: null });
    const after = figures({ batchSize: 128, numWorkers: 2, samplesPerSecond: 613.4567, relNoise: 0.004, workerBusyRatio: 0.8 });
    const rec = t.runs.applyDecision(id, { ...decision(128), before, evidence: { bottleneck: 'input_bound', ...pointEvidence(before, 'before_'), predicted_gain: 0.5 } });
    t.runs.setOutcome(id, rec.id, { status: 'kept', gainRatio: 0.809, note: 'kept', after });
    const [d] = (await t.app.inject({ url: `/v1/runs/${id}/decisions` })).json().decisions;
    expect(d.evidence).toMatchObject({ before_batch_size: 64, before_num_workers: 2, before_samples_per_second: 339.123456, before_data_wait_ratio: 0.42, before_mem_peak_bytes: 3e9, before_process_cpu_cores: 1.5 });
    const prefixed = Object.fromEntries(Object.entries(d.evidence).filter(([k]) => k.startsWith('before_')).map(([k, v]) => [k.slice('before_'.length), v]));
    expect(d.measured_before).toEqual(prefixed);
    expect(d.measured_before).toMatchObject({ samples_per_second: 339.123456, loss: 1.93, gpu_memory_used_bytes: null, worker_busy_ratio: null });
    expect(d.outcome).toEqual({
      status: 'kept', gainRatio: 0.809, note: 'kept',
      after: {
        batch_size: 128, num_workers: 2, grad_accum_steps: 1, steps: after.steps, samples_per_second: 613.4567, step_seconds: after.stepSeconds,
        compute_seconds: after.computeSeconds, data_wait_ratio: 0, rel_noise: 0.004, mem_peak_bytes: null, loss: null, loss_sigma: 0,
        process_cpu_cores: null, worker_busy_ratio: 0.8,
      },
    });
  });

  it('answers measured_before null for a decision made before anything was measured', async () => {
    t.runs.applyDecision(id, decision(128));
    const [d] = (await t.app.inject({ url: `/v1/runs/${id}/decisions` })).json().decisions;
    expect(d.measured_before).toBeNull();
    expect(d.evidence).toEqual({ samples_per_second: 812.5, gain_ratio: 0.12 });
  });
});

describe('events', () => {
  const ev = (body: unknown) => t.app.inject({ method: 'POST', url: `/v1/runs/${id}/events`, payload: body as object });

  it('acknowledges an applied version and refuses one that does not exist with 409', async () => {
    t.runs.applyDecision(id, decision(128));
    expect((await ev({ kind: 'config_applied', step: 10, data: { version: 2 } })).statusCode).toBe(202);
    expect((await t.app.inject({ url: `/v1/runs/${id}` })).json().applied_version).toBe(2);
    const res = await ev({ kind: 'config_applied', data: { version: 9 } });
    expect(res.statusCode).toBe(409);
    expect(res.json().message).toMatch(/no config version 9/);
  });

  it('needs the batch size on an oom event', async () => {
    expect((await ev({ kind: 'oom', data: {} })).statusCode).toBe(400);
    expect((await ev({ kind: 'oom', step: 3, data: { batch_size: 256 } })).statusCode).toBe(202);
    expect(t.runs.readWindow(id)!.oomBatchSizes).toEqual([256]);
  });

  it('rejects unknown kinds and ends the run on finished, waking long-polls', async () => {
    expect((await ev({ kind: 'exploded' })).statusCode).toBe(400);
    const pending = t.app.inject({ url: `/v1/runs/${id}/config?after=1&wait_s=20` });
    await new Promise((r) => setTimeout(r, 100));
    expect((await ev({ kind: 'finished' })).json()).toEqual({ accepted: true, state: 'finished' });
    expect((await pending).json().state).toBe('finished');
    expect(t.runs.readWindow(id)).toBeUndefined();
  });
});

describe('series', () => {
  it('serves step and config series of a run', async () => {
    await t.app.inject({ method: 'POST', url: `/v1/runs/${id}/steps`, payload: { steps: steps(0, 5) } });
    const res = await t.app.inject({ url: `/v1/runs/${id}/series?metric=samples_per_second` });
    expect(res.statusCode).toBe(200);
    const pts = res.json().points;
    expect(pts).toHaveLength(5);
    expect(pts[0][1]).toBeCloseTo(64 / 0.08, 6);
    const bs = (await t.app.inject({ url: `/v1/runs/${id}/series?metric=batch_size` })).json().points;
    expect(bs.map((p: number[]) => p[1])).toEqual([64]);
  });

  it('names the allowed series when the metric is unknown', async () => {
    const res = await t.app.inject({ url: `/v1/runs/${id}/series?metric=nope` });
    expect(res.statusCode).toBe(400);
    expect(res.json().message).toMatch(/samples_per_second/);
  });
});
