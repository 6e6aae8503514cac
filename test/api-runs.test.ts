import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GOOD_RUN, registerRun, testApp, type TestApp } from './helpers/app.js';

let t: TestApp;
beforeEach(async () => {
  t = await testApp();
});
afterEach(async () => {
  await t.close();
});

describe('runs', () => {
  it('registers a run at config version 1 and reads it back', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/v1/runs', payload: GOOD_RUN });
    expect(res.statusCode).toBe(201);
    const run = res.json();
    expect(run).toMatchObject({ name: 'resnet50-a', pid: 12345, config_version: 1, state: 'running', config: GOOD_RUN.config });
    expect(run.tune).toMatchObject({ mode: 'auto', optimizer: 'adam', bounds: GOOD_RUN.tune.bounds });

    const one = await t.app.inject({ url: `/v1/runs/${run.id}` });
    expect(one.statusCode).toBe(200);
    expect(one.json()).toMatchObject({ id: run.id, label: 'resnet50-a', summary: { steps: 0, decisions: 0 } });

    const list = await t.app.inject({ url: '/v1/runs' });
    expect(list.json().runs.map((r: { id: string }) => r.id)).toEqual([run.id]);
  });

  it('fills tune defaults and accepts a watch-only run without config', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/v1/runs', payload: { name: 'watch-only', pid: 4242 } });
    expect(res.statusCode).toBe(201);
    expect(res.json()).toMatchObject({ config: null, config_version: 0, tune: { mode: 'auto', lr_scaling: 'auto' } });
  });

  it('keeps the loader knobs and the host-memory budget a job sends, and leaves them out when it does not (issue 22)', async () => {
    const config = { ...GOOD_RUN.config, prefetch_factor: 4, persistent_workers: false, pin_memory: true };
    const tune = { ...GOOD_RUN.tune, host_memory_budget_bytes: 6 * 2 ** 30, bounds: { ...GOOD_RUN.tune.bounds, prefetch_factor: { min: 2, max: 8 } } };
    const id = await registerRun(t.app, { ...GOOD_RUN, name: 'loader', config, tune });
    const run = (await t.app.inject({ url: `/v1/runs/${id}` })).json();
    expect(run.config).toEqual(config);
    expect(run.tune.host_memory_budget_bytes).toBe(6 * 2 ** 30);
    const cfg = (await t.app.inject({ url: `/v1/runs/${id}/config` })).json();
    expect(cfg.config).toEqual(config);
    // An older client's registration: none of them, as before.
    const old = (await t.app.inject({ url: `/v1/runs/${await registerRun(t.app)}` })).json();
    expect(Object.keys(old.config).sort()).toEqual(['batch_size', 'grad_accum_steps', 'learning_rate', 'num_workers']);
    expect(old.tune).not.toHaveProperty('host_memory_budget_bytes');
    // A prefetch_factor outside its bound is refused like any knob's.
    const bad = await t.app.inject({ method: 'POST', url: '/v1/runs', payload: { ...GOOD_RUN, name: 'x', config: { ...config, prefetch_factor: 16 }, tune } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().message).toMatch(/config\.prefetch_factor: 16 is outside tune\.bounds\.prefetch_factor \[2, 8\]/);
  });

  it('gives two live runs with one name distinct metric labels', async () => {
    const a = await registerRun(t.app);
    const b = await registerRun(t.app);
    const la = (await t.app.inject({ url: `/v1/runs/${a}` })).json().label;
    const lb = (await t.app.inject({ url: `/v1/runs/${b}` })).json().label;
    expect(la).toBe('resnet50-a');
    expect(lb).not.toBe(la);
  });

  it('sets a config through PUT and answers 409 to a stale expected_version', async () => {
    const id = await registerRun(t.app);
    const put = await t.app.inject({
      method: 'PUT', url: `/v1/runs/${id}/config`,
      payload: { config: { ...GOOD_RUN.config, batch_size: 128 }, expected_version: 1 },
    });
    expect(put.statusCode).toBe(200);
    expect(put.json()).toMatchObject({ config_version: 2, config: { batch_size: 128 }, source: 'user' });
    const stale = await t.app.inject({
      method: 'PUT', url: `/v1/runs/${id}/config`,
      payload: { config: { ...GOOD_RUN.config, batch_size: 256 }, expected_version: 1 },
    });
    expect(stale.statusCode).toBe(409);
    expect(stale.json()).toMatchObject({ error: 'stale_config_version' });
    expect(stale.json().message).toMatch(/version 2/);
    expect((await t.app.inject({ url: `/v1/runs/${id}/config` })).json().config.batch_size).toBe(128);
  });

  it('lets a job attach its config to a watch-only run', async () => {
    const id = await registerRun(t.app, { name: 'attached', pid: 99 });
    const put = await t.app.inject({ method: 'PUT', url: `/v1/runs/${id}/config`, payload: { config: GOOD_RUN.config, tune: { mode: 'advise' } } });
    expect(put.statusCode).toBe(200);
    expect(put.json()).toMatchObject({ config_version: 1, source: 'client' });
    expect((await t.app.inject({ url: `/v1/runs/${id}` })).json().applied_version).toBe(1);
    expect((await t.app.inject({ url: `/v1/runs/${id}` })).json().tune.mode).toBe('advise');
  });

  it('serves the OpenAPI description of every route', async () => {
    const res = await t.app.inject({ url: '/docs/json' });
    expect(res.statusCode).toBe(200);
    const paths = Object.keys(res.json().paths);
    for (const p of ['/v1/runs', '/v1/runs/{id}', '/v1/runs/{id}/steps', '/v1/runs/{id}/events', '/v1/runs/{id}/config',
      '/v1/runs/{id}/decisions', '/v1/runs/{id}/series', '/v1/host', '/healthz', '/readyz', '/metrics']) {
      expect(paths).toContain(p);
    }
    expect((await t.app.inject({ url: '/docs' })).statusCode).toBeLessThan(400);
  });

  it('answers healthz and readyz', async () => {
    expect((await t.app.inject({ url: '/healthz' })).json()).toEqual({ status: 'ok' });
    expect((await t.app.inject({ url: '/readyz' })).statusCode).toBe(200);
  });
});

describe('PATCH /v1/runs/:id', () => {
  let t2: TestApp;
  beforeEach(async () => {
    t2 = await testApp();
  });
  afterEach(async () => {
    await t2.close();
  });

  it('gives a run registered without a pid its pid once, then refuses another', async () => {
    const id = await registerRun(t2.app, { name: 'later' });
    const ok = await t2.app.inject({ method: 'PATCH', url: `/v1/runs/${id}`, payload: { pid: 777 } });
    expect(ok.statusCode).toBe(200);
    expect(ok.json().pid).toBe(777);
    expect(t2.runs.activeRuns().find((r) => r.id === id)?.pid).toBe(777);
    const again = await t2.app.inject({ method: 'PATCH', url: `/v1/runs/${id}`, payload: { pid: 778 } });
    expect(again.statusCode).toBe(409);
    expect(again.json().message).toMatch(/already watches pid 777/);
    expect((await t2.app.inject({ method: 'PATCH', url: `/v1/runs/${id}`, payload: { pid: 0 } })).statusCode).toBe(400);
  });
});
