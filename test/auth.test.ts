import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tokenMatches } from '../server/auth.js';
import { isLoopback, toServeOptions } from '../cli/serve-options.js';
import { GOOD_RUN, testApp, type TestApp } from './helpers/app.js';

const TOKEN = 'b7f0c2d9e4a14c3a8f5e6d7c8b9a0f1e';
let t: TestApp;
beforeAll(async () => {
  t = await testApp({ token: TOKEN });
});
afterAll(async () => {
  await t.close();
});

describe('bearer token', () => {
  it('leaves /healthz and /readyz open and closes everything else', async () => {
    expect((await t.app.inject({ url: '/healthz' })).statusCode).toBe(200);
    expect((await t.app.inject({ url: '/readyz' })).statusCode).toBe(200);
    for (const url of ['/v1/runs', '/metrics', '/v1/host', '/docs/json']) {
      const res = await t.app.inject({ url });
      expect(res.statusCode, url).toBe(401);
      expect(res.json().error).toBe('unauthorized');
    }
  });

  it('rejects a wrong token and changes nothing', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/v1/runs', headers: { authorization: `Bearer ${TOKEN}x` }, payload: GOOD_RUN });
    expect(res.statusCode).toBe(401);
    expect(res.body).not.toContain(TOKEN);
    expect(t.runs.listRuns()).toHaveLength(0);
  });

  it('accepts the right token', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/v1/runs', headers: { authorization: `Bearer ${TOKEN}` }, payload: GOOD_RUN });
    expect(res.statusCode).toBe(201);
  });

  it('compares whole tokens, whatever their length', () => {
    expect(tokenMatches(`Bearer ${TOKEN}`, TOKEN)).toBe(true);
    expect(tokenMatches(`Bearer ${TOKEN.slice(0, -1)}`, TOKEN)).toBe(false);
    expect(tokenMatches(TOKEN, TOKEN)).toBe(false);
    expect(tokenMatches(undefined, TOKEN)).toBe(false);
  });
});

describe('exposure', () => {
  const opts = (values: Record<string, string | null>, env: NodeJS.ProcessEnv = {}) =>
    toServeOptions({ host: '127.0.0.1', port: '9477', db: 'x.db', interval: '1s', 'nvidia-smi': 'nvidia-smi', gpu: 'auto', 'token-file': null, retention: '7d', 'metrics-listen': null, log: 'info', ...values }, env);

  it('refuses a non-loopback bind without a token, saying why', () => {
    const r = opts({ host: '0.0.0.0' });
    expect(r.errors.join('\n')).toMatch(/0\.0\.0\.0 is not a loopback address.*token is required/);
    expect(opts({ host: '0.0.0.0' }, { TRAINPILOT_TOKEN: TOKEN }).errors).toEqual([]);
  });

  it('knows loopback addresses', () => {
    expect(['127.0.0.1', '127.1.2.3', '::1', 'localhost'].every(isLoopback)).toBe(true);
    expect(['0.0.0.0', '10.0.0.1', '::', 'example.org'].some(isLoopback)).toBe(false);
  });

  it('names each bad flag', () => {
    const r = opts({ interval: 'soon', gpu: 'maybe', port: '70000', retention: '1s' });
    expect(r.errors.join('\n')).toMatch(/--interval/);
    expect(r.errors.join('\n')).toMatch(/--gpu/);
    expect(r.errors.join('\n')).toMatch(/--port/);
    expect(r.errors.join('\n')).toMatch(/--retention/);
  });
});
