// Every route: malformed JSON, wrong types, bad numbers, inverted bounds, unknown ids, wrong content
// types and oversized bodies get the right 4xx, and the stored data is byte-for-byte unchanged.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GOOD_RUN, registerRun, steps, testApp, type TestApp } from './helpers/app.js';

let t: TestApp;
let id: string;
beforeAll(async () => {
  t = await testApp({ bodyLimit: 64 * 1024 });
  id = await registerRun(t.app);
  await t.app.inject({ method: 'POST', url: `/v1/runs/${id}/steps`, payload: { steps: steps(0, 20) } });
  await t.app.inject({ method: 'POST', url: `/v1/runs/${id}/events`, payload: { kind: 'epoch_end', step: 19 } });
});
afterAll(async () => {
  await t.close();
});

/** Every table's rows, so "unchanged" means unchanged. */
function dump(): string {
  const tables = ['runs', 'config_versions', 'steps', 'events', 'decisions', 'samples'];
  return JSON.stringify(tables.map((tb) => t.runs.db.prepare(`SELECT * FROM ${tb} ORDER BY 1, 2`).all()));
}

const cfg = GOOD_RUN.config;
type Case = [string, string, string, unknown, number, RegExp?];
const cases = (): Case[] => [
  // POST /v1/runs
  ['POST', '/v1/runs', 'malformed JSON', '{"name": "x",', 400, /JSON/],
  ['POST', '/v1/runs', 'a missing name', { config: cfg }, 400, /name/],
  ['POST', '/v1/runs', 'a name with a slash', { name: '../../etc/passwd' }, 400, /name/],
  ['POST', '/v1/runs', 'an empty name', { name: '' }, 400, /name/],
  ['POST', '/v1/runs', 'a string batch size', { name: 'a', config: { ...cfg, batch_size: '64' } }, 400, /batch_size/],
  ['POST', '/v1/runs', 'a zero batch size', { name: 'a', config: { ...cfg, batch_size: 0 } }, 400, /batch_size/],
  ['POST', '/v1/runs', 'a negative learning rate', { name: 'a', config: { ...cfg, learning_rate: -0.1 } }, 400, /learning_rate/],
  ['POST', '/v1/runs', '1e999 workers', '{"name":"a","config":{"batch_size":8,"learning_rate":0.1,"num_workers":1e999}}', 400, /num_workers/],
  ['POST', '/v1/runs', 'a huge pid', { name: 'a', pid: 2 ** 40 }, 400, /pid/],
  ['POST', '/v1/runs', 'inverted bounds', { name: 'a', config: cfg, tune: { bounds: { batch_size: { min: 512, max: 8 } } } }, 400, /bounds\.batch_size: min 512 is greater than max 8/],
  ['POST', '/v1/runs', 'a config outside its bounds', { name: 'a', config: { ...cfg, batch_size: 4096 }, tune: { bounds: { batch_size: { min: 8, max: 1024 } } } }, 400, /config\.batch_size/],
  ['POST', '/v1/runs', 'a prefetch_factor of 0', { name: 'a', config: { ...cfg, prefetch_factor: 0 } }, 400, /prefetch_factor/],
  ['POST', '/v1/runs', 'persistent_workers as a string', { name: 'a', config: { ...cfg, persistent_workers: 'yes' } }, 400, /persistent_workers/],
  ['POST', '/v1/runs', 'a host-memory budget of 1.5 bytes', { name: 'a', tune: { host_memory_budget_bytes: 1.5 } }, 400, /host_memory_budget_bytes/],
  ['POST', '/v1/runs', 'an unknown tune mode', { name: 'a', tune: { mode: 'yolo' } }, 400, /mode/],
  ['POST', '/v1/runs', 'an unknown knob', { name: 'a', tune: { knobs: ['momentum'] } }, 400, /knobs/],
  ['POST', '/v1/runs', 'an unknown field', { name: 'a', owner: 'me' }, 400, /owner/],
  ['POST', '/v1/runs', 'an array body', [GOOD_RUN], 400],
  ['POST', '/v1/runs', 'a constructor.prototype key', '{"name":"a","constructor":{"prototype":{"x":1}}}', 400],
  ['POST', '/v1/runs', 'a body over the limit', { name: 'a', pad: 'x'.repeat(70 * 1024) }, 413, /large/i],
  // PUT /v1/runs/:id/config
  ['PUT', `/v1/runs/{id}/config`, 'no config', {}, 400, /config/],
  ['PUT', `/v1/runs/{id}/config`, 'a NaN-ish learning rate', '{"config":{"batch_size":8,"learning_rate":NaN,"num_workers":1}}', 400, /JSON/],
  ['PUT', `/v1/runs/{id}/config`, 'a stale expected version', { config: cfg, expected_version: 7 }, 409, /expected 7/],
  ['PUT', `/v1/runs/{id}/config`, 'a config outside the run bounds', { config: { ...cfg, num_workers: 99 } }, 400, /num_workers/],
  ['PUT', '/v1/runs/rnope/config', 'an unknown run', { config: cfg }, 404],
  // POST /v1/runs/:id/steps (more in api-steps.test.ts)
  ['POST', `/v1/runs/{id}/steps`, 'data_wait_s > duration_s', { steps: [{ step: 99, duration_s: 0.1, data_wait_s: 0.2, samples: 1 }] }, 400, /data_wait_s/],
  ['POST', `/v1/runs/{id}/steps`, 'a negative sample count', { steps: [{ step: 99, duration_s: 0.1, data_wait_s: 0, samples: -1 }] }, 400, /samples/],
  ['POST', `/v1/runs/{id}/steps`, 'a millisecond timestamp', { steps: [{ step: 99, duration_s: 0.1, data_wait_s: 0, samples: 1, ts: 1764300000500 }] }, 400, /ts/],
  ['POST', '/v1/runs/rnope/steps', 'an unknown run', { steps: steps(99, 1) }, 404],
  // POST /v1/runs/:id/events
  ['POST', `/v1/runs/{id}/events`, 'no kind', {}, 400, /kind/],
  ['POST', `/v1/runs/{id}/events`, 'an oom without batch size', { kind: 'oom' }, 400, /batch_size/],
  ['POST', `/v1/runs/{id}/events`, 'an oom with a string batch size', { kind: 'oom', data: { batch_size: '64' } }, 400, /batch_size/],
  ['POST', `/v1/runs/{id}/events`, 'an applied version that does not exist', { kind: 'config_applied', data: { version: 5 } }, 409],
  ['POST', `/v1/runs/{id}/events`, 'a negative step', { kind: 'epoch_end', step: -1 }, 400, /step/],
  ['POST', `/v1/runs/{id}/events`, 'too many data keys', { kind: 'note', data: Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`k${i}`, i])) }, 400, /data/],
  ['POST', '/v1/runs/rnope/events', 'an unknown run', { kind: 'note' }, 404],
  // GET routes with bad queries
  ['GET', `/v1/runs/{id}/steps?after_step=abc`, 'a non-numeric after_step', undefined, 400, /after_step/],
  ['GET', `/v1/runs/{id}/steps?limit=0`, 'a zero limit', undefined, 400, /limit/],
  ['GET', `/v1/runs/{id}/steps?limit=1e999`, 'an infinite limit', undefined, 400, /limit/],
  ['GET', `/v1/runs/{id}/config?wait_s=-1`, 'a negative wait', undefined, 400, /wait_s/],
  ['GET', `/v1/runs/{id}/series?metric=loss&from=5&to=1`, 'from after to', undefined, 400, /from/],
  ['GET', `/v1/runs/{id}/series`, 'no metric', undefined, 400, /metric/],
  ['GET', `/v1/runs/{id}/decisions?limit=-5`, 'a negative limit', undefined, 400, /limit/],
  ['GET', '/v1/runs?state=zombie', 'an unknown state', undefined, 400, /state/],
  ['GET', '/v1/runs/rnope', 'an unknown run', undefined, 404],
  ['GET', `/v1/runs/${'x'.repeat(65)}`, 'an overlong id', undefined, 400, /id/],
  ['GET', '/v1/runs/rnope/decisions', 'an unknown run', undefined, 404],
  ['GET', '/v1/runs/rnope/series?metric=loss', 'an unknown run', undefined, 404],
  ['GET', '/v1/nothing', 'an unknown route', undefined, 404, /no route/],
  ['DELETE', '/v1/runs', 'an unknown method', undefined, 404],
];

describe('bad input on every route', () => {
  for (const [method, path, what, body, status, msg] of cases()) {
    it(`${method} ${path.split('?')[0]}: ${what} → ${status}`, async () => {
      const before = dump();
      const res = await t.app.inject({
        method: method as 'GET',
        url: path.replace('{id}', id),
        ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, payload: typeof body === 'string' ? body : JSON.stringify(body) }),
      });
      expect(res.statusCode, res.body).toBe(status);
      const json = res.json();
      expect(typeof json.error).toBe('string');
      expect(typeof json.message).toBe('string');
      if (msg) expect(json.message).toMatch(msg);
      expect(dump()).toBe(before);
    });
  }

  it('answers 415 for a form-encoded body on every POST and PUT', async () => {
    const before = dump();
    for (const [method, url] of [['POST', '/v1/runs'], ['POST', `/v1/runs/${id}/steps`], ['POST', `/v1/runs/${id}/events`], ['PUT', `/v1/runs/${id}/config`]]) {
      const res = await t.app.inject({ method: method as 'POST', url, headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'name=a' });
      expect(res.statusCode, url).toBe(415);
    }
    expect(dump()).toBe(before);
  });
});
