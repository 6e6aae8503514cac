// Each enumeration is one `as const` array; the API's schemas, /metrics and the views take their
// values from it, so every value is accepted, stored and shown, and nothing else is.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RUN_STATES } from '../domain/run-states.js';
import { BOTTLENECK_KINDS } from '../tuner/classify.js';
import { KNOBS, LR_SCALINGS, OPTIMIZERS, TUNE_MODES } from '../domain/config.js';
import { testApp, type TestApp } from './helpers/app.js';

let t: TestApp;
beforeAll(async () => {
  t = await testApp();
});
afterAll(async () => {
  await t.close();
});

const register = (name: string, tune: object) => t.app.inject({ method: 'POST', url: '/v1/runs', payload: { name, tune } });

describe('tune settings', () => {
  const values: Array<[string, readonly string[]]> = [['mode', TUNE_MODES], ['optimizer', OPTIMIZERS], ['lr_scaling', LR_SCALINGS]];
  it.each(values)('%s: every value of its array is accepted and shown back, another is a 400', async (field, all) => {
    for (const v of all) {
      const res = await register(`${field}-${v}`, { [field]: v });
      expect(res.statusCode, res.body).toBe(201);
      expect(res.json().tune[field]).toBe(v);
    }
    expect((await register(`${field}-bad`, { [field]: 'none-of-these' })).statusCode).toBe(400);
  });

  it('knobs: all of them at once, each once', async () => {
    const res = await register('knobs-all', { knobs: [...KNOBS] });
    expect(res.json().tune.knobs).toEqual([...KNOBS]);
    expect((await register('knobs-twice', { knobs: [KNOBS[0], KNOBS[0]] })).statusCode).toBe(400);
  });
});

describe('run states and bottleneck kinds on /metrics', () => {
  it('counts runs by every state and exports every bottleneck kind', async () => {
    const body = (await t.app.inject({ url: '/metrics' })).body;
    for (const state of RUN_STATES) expect(body).toContain(`trainpilot_runs{state="${state}"}`);
    for (const kind of BOTTLENECK_KINDS) expect(body).toContain(`kind="${kind}"}`);
  });

  it('lists runs by every state; another is a 400', async () => {
    for (const state of RUN_STATES) expect((await t.app.inject({ url: `/v1/runs?state=${state}` })).statusCode).toBe(200);
    expect((await t.app.inject({ url: '/v1/runs?state=zombie' })).statusCode).toBe(400);
  });
});
