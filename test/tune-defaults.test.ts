// The tuning defaults are defined once (domain/tune-defaults.ts): the API fills a run's tune from
// DEFAULT_TUNE, and the documented registration example is EXAMPLE_TUNE. The Python client keeps
// its own copy (it registers runs without asking the sidecar first); this file holds the two equal.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_TUNE, EXAMPLE_TUNE } from '../domain/tune-defaults.js';
import { BASE_TUNE } from '../tuner/window-fixtures.js';
import { GOOD_RUN, testApp, type TestApp } from './helpers/app.js';

let t: TestApp;
beforeAll(async () => {
  t = await testApp();
});
afterAll(async () => {
  await t.close();
});

const register = async (body: object) => {
  const res = await t.app.inject({ method: 'POST', url: '/v1/runs', payload: body });
  expect(res.statusCode, res.body).toBe(201);
  return res.json();
};

describe('tuning defaults', () => {
  it('a run that sends no tune is tuned with DEFAULT_TUNE', async () => {
    expect((await register({ name: 'no-tune' })).tune).toEqual(DEFAULT_TUNE);
  });

  it('fields left out come from DEFAULT_TUNE', async () => {
    expect((await register({ name: 'advise-only', tune: { mode: 'advise' } })).tune).toEqual({ ...DEFAULT_TUNE, mode: 'advise' });
  });

  it('the documented example (DESIGN §4) is what the tests register and the tuner tests start from', async () => {
    expect((await register(GOOD_RUN)).tune).toEqual(EXAMPLE_TUNE);
    expect(BASE_TUNE).toEqual(EXAMPLE_TUNE);
  });

  it('the Python client registers with the same defaults (clients/python/trainpilot/_join.py)', () => {
    // The standard library is enough to import the client's defaults: any python3 will do.
    const r = spawnSync('python3', ['-c', 'import json, trainpilot._join as j; print(json.dumps(j.DEFAULT_TUNE))'], {
      encoding: 'utf8', env: { ...process.env, PYTHONPATH: join(import.meta.dirname, '..', 'clients', 'python') },
    });
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(DEFAULT_TUNE);
  });
});
