// The route schemas, checked once here rather than by Ajv on every sidecar's first request
// (server/validation.ts compiles them without the meta-schema), and the serializer's rewrite of
// "X or null" shown to write what the schema as written does.
import { Ajv } from 'ajv';
import build from 'fast-json-stringify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import * as common from '../server/schemas/common.js';
import * as config from '../server/schemas/config.js';
import * as decisions from '../server/schemas/decisions.js';
import * as events from '../server/schemas/events.js';
import * as host from '../server/schemas/host.js';
import * as rankView from '../server/schemas/rank-view.js';
import * as ranks from '../server/schemas/ranks.js';
import * as runs from '../server/schemas/runs.js';
import * as series from '../server/schemas/series.js';
import * as steps from '../server/schemas/steps.js';
import { nullableForSerializer } from '../server/validation.js';
import { GOOD_RUN, registerRun, steps as stepBatch, testApp, type TestApp } from './helpers/app.js';

const modules = { common, config, decisions, events, host, rankView, ranks, runs, series, steps };
const schemas = Object.entries(modules).flatMap(([m, exports]) =>
  Object.entries(exports as Record<string, unknown>)
    .filter(([, v]) => typeof v === 'object' && v !== null && ('type' in v || 'anyOf' in v || 'properties' in v))
    .map(([name, v]) => [`${m}.${name}`, v] as const));

describe('route schemas', () => {
  it('are valid JSON Schema (draft-07, Ajv\'s meta-schema)', () => {
    const ajv = new Ajv({ strict: false });
    expect(schemas.length).toBeGreaterThan(20);
    for (const [name, schema] of schemas) {
      expect(ajv.validateSchema(schema as object), `${name}: ${ajv.errorsText()}`).toBe(true);
    }
  });

  it('rewrites only anyOf of a typed schema and null', () => {
    expect(nullableForSerializer({ anyOf: [{ type: 'number' }, { type: 'null' }], description: 'd' })).toEqual({ type: 'number', description: 'd', nullable: true });
    expect(nullableForSerializer({ anyOf: [{ type: 'null' }, { type: 'object', properties: { a: { anyOf: [{ type: 'string' }, { type: 'null' }] } } }] }))
      .toEqual({ type: 'object', properties: { a: { type: 'string', nullable: true } }, nullable: true });
    const left = [{ anyOf: [{ const: 'a' }, { const: 'b' }] }, { anyOf: [{ $ref: 'x' }, { type: 'null' }] }, { anyOf: [{ type: 'null' }, { type: 'null' }] }];
    for (const s of left) expect(nullableForSerializer(s)).toEqual(s);
  });
});

describe('the serializer with nullable fields rewritten', () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await testApp();
  });
  afterEach(async () => {
    await t.close();
  });

  it('writes a run, with and without its nulls, as the schema as written does', async () => {
    const watchOnly = (await t.app.inject({ method: 'POST', url: '/v1/runs', payload: { name: 'watch-only' } })).json();
    const id = await registerRun(t.app, GOOD_RUN);
    await t.app.inject({ method: 'POST', url: `/v1/runs/${id}/steps`, payload: { steps: stepBatch(1, 20) } });
    const full = (await t.app.inject({ url: `/v1/runs/${id}` })).json();
    const asWritten = build(runs.RunView as object);
    const rewritten = build(nullableForSerializer(runs.RunView) as object);
    for (const doc of [watchOnly, full]) expect(rewritten(doc)).toBe(asWritten(doc));
    expect(JSON.stringify(runs.RunView)).toContain('anyOf'); // the test still tests something
  });
});
