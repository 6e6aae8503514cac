// Hostile inputs, property-based, through app.inject against every route in the OpenAPI
// description: never a 5xx, rejected requests leave the store unchanged, memory stays bounded.
import fc from 'fast-check';
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GOOD_RUN, registerRun, steps, testApp, type TestApp } from './helpers/app.js';

let t: TestApp;
let id: string;
let operations: Array<{ method: string; path: string }>;
beforeAll(async () => {
  t = await testApp({ bodyLimit: 256 * 1024 });
  id = await registerRun(t.app);
  await t.app.inject({ method: 'POST', url: `/v1/runs/${id}/steps`, payload: { steps: steps(0, 10) } });
  const doc = (await t.app.inject({ url: '/docs/json' })).json() as { paths: Record<string, Record<string, unknown>> };
  operations = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => ({ method: m.toUpperCase(), path })));
});
afterAll(async () => {
  await t.close();
});

function fingerprint(): string {
  const h = createHash('sha256');
  for (const tb of ['runs', 'config_versions', 'steps', 'events', 'decisions']) {
    h.update(JSON.stringify(t.runs.db.prepare(`SELECT * FROM ${tb} ORDER BY 1, 2`).all()));
  }
  return h.digest('hex');
}

const oddStrings = fc.oneof(
  fc.string(),
  fc.constantFrom('\u0000', '😀'.repeat(50), '../../../etc/passwd', "'; DROP TABLE runs; --", '__proto__', 'constructor', '%00', 'x'.repeat(5000), '', ' ', 'NaN', 'Infinity', '-0', '1e308', '0x10'),
);
const oddNumbers = fc.oneof(
  fc.double(),
  fc.integer(),
  fc.constantFrom(-0, 1e308, -1e308, 2 ** 53 + 1, 2 ** 63, -1, 0, 0.5, 1e-320),
);
const jsonValue: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small', withCrossShrink: true },
    oddNumbers, oddStrings, fc.boolean(), fc.constant(null),
    fc.array(tie('value'), { maxLength: 5 }),
    fc.dictionary(fc.oneof(oddStrings, fc.constantFrom('steps', 'config', 'name', 'kind', 'data', 'tune', 'batch_size', 'step', 'duration_s')), tie('value'), { maxKeys: 5 })),
})).value;

/** Valid bodies with one field replaced by something hostile: the cases most likely to slip through. */
const mutatedBody = fc.record({
  base: fc.constantFrom<Record<string, unknown>>(
    { ...GOOD_RUN },
    { steps: steps(100, 2) },
    { kind: 'oom', step: 3, data: { batch_size: 64 } },
    { kind: 'config_applied', data: { version: 1 } },
    { config: GOOD_RUN.config, expected_version: 1 },
  ),
  path: fc.array(fc.constantFrom('steps', 0, 'config', 'tune', 'bounds', 'batch_size', 'data', 'version', 'name', 'step', 'duration_s', 'data_wait_s', 'samples', 'mode'), { maxLength: 3 }),
  value: jsonValue,
}).map(({ base, path, value }) => {
  const copy = structuredClone(base) as Record<string | number, unknown>;
  let cur: Record<string | number, unknown> = copy;
  for (const k of path.slice(0, -1)) {
    if (cur[k] && typeof cur[k] === 'object') cur = cur[k] as Record<string | number, unknown>;
  }
  cur[path.at(-1) ?? 'extra'] = value;
  return copy;
});

const deepNesting = fc.integer({ min: 100, max: 5000 }).map((d) => '{"a":'.repeat(d) + '1' + '}'.repeat(d));
const validBody = fc.constantFrom<Record<string, unknown>>(
  { ...GOOD_RUN },
  { name: 'fuzz-run' },
  { steps: steps(1000, 3) },
  { kind: 'note', data: { text: 'hello' } },
  { config: GOOD_RUN.config },
);
const rawBody = fc.oneof(
  validBody.map((v) => JSON.stringify(v)),
  jsonValue.map((v) => JSON.stringify(v) ?? 'null'),
  mutatedBody.map((v) => JSON.stringify(v)),
  mutatedBody.map((v) => JSON.stringify(v).slice(0, -3)), // truncated
  mutatedBody.map((v) => JSON.stringify(v).replace('{', '{"name":"dup","name":"dup2",')), // duplicate keys
  deepNesting,
  fc.constantFrom('{"__proto__":{"polluted":1}}', '{"constructor":{"prototype":{"polluted":1}}}', '[]', '', '\u0000', '{"steps":' + '['.repeat(2000)),
  fc.constant(JSON.stringify({ steps: steps(0, 6000) })),
);
const pathId = fc.oneof(fc.constant('__ID__'), fc.constant('__ID__'), oddStrings.map((s) => encodeURIComponent(s).slice(0, 200)));
const query = fc.dictionary(
  fc.constantFrom('after', 'wait_s', 'after_step', 'limit', 'metric', 'from', 'to', 'state', '__proto__'),
  fc.oneof(oddStrings, oddNumbers.map(String)),
  { maxKeys: 3 },
);
const contentType = fc.constantFrom('application/json', 'application/json', 'application/json; charset=utf-8', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', undefined);

describe('hostile inputs through every route', () => {
  it('never answers 5xx, never changes the store on a rejection, keeps memory bounded (10 000 cases)', async () => {
    global.gc?.();
    const heapBefore = process.memoryUsage().heapUsed;
    let cases = 0;
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(fc.nat(), pathId, query, rawBody, contentType, async (opIndex, rid, q, body, ct) => {
        cases++;
        const op = operations[opIndex % operations.length];
        const realId = rid === '__ID__' ? id : rid;
        const qs = new URLSearchParams(Object.entries(q).map(([k, v]): [string, string] => {
          // A valid long-poll wait would make the case wait; keep waits to zero.
          if (k === 'wait_s' && Number(v) >= 0 && Number(v) <= 60) return [k, '0'];
          return [k, String(v)];
        })).toString();
        const url = op.path.replace('{id}', realId) + (qs ? `?${qs}` : '');
        const before = fingerprint();
        const res = await t.app.inject({
          method: op.method as 'GET',
          url,
          ...(op.method === 'GET' ? {} : { payload: body, headers: ct ? { 'content-type': ct } : {} }),
        });
        statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
        if (res.statusCode >= 500) throw new Error(`${op.method} ${url} → ${res.statusCode}: ${res.body.slice(0, 300)}`);
        if (res.statusCode >= 400) {
          const json = res.json();
          expect(typeof json.error).toBe('string');
          if (fingerprint() !== before) throw new Error(`${op.method} ${url} was rejected (${res.statusCode}) but changed the store`);
        }
      }),
      { numRuns: 10_000, seed: Number(process.env.FUZZ_SEED ?? 20261128) },
    );
    global.gc?.();
    const growth = process.memoryUsage().heapUsed - heapBefore;
    console.log(`fuzz: ${cases} cases, statuses ${JSON.stringify(Object.fromEntries(statuses))}, heap growth ${(growth / 1e6).toFixed(1)} MB`);
    expect(cases).toBeGreaterThanOrEqual(10_000);
    expect((statuses.get(201) ?? 0) + (statuses.get(202) ?? 0)).toBeGreaterThan(0); // the generator reaches valid requests too
    expect(growth).toBeLessThan(200e6);
    expect((await t.app.inject({ url: '/healthz' })).statusCode).toBe(200);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  }, 300_000);
});
