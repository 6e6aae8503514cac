// A store that can't take writes (disk full, read-only): clear 503s naming the cause, nothing
// half-written, reads and /metrics keep working, and writes resume when the store recovers.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { registerRun, steps, testApp, type TestApp } from './helpers/app.js';

let t: TestApp;
let id: string;
beforeEach(async () => {
  t = await testApp();
  id = await registerRun(t.app);
  await t.app.inject({ method: 'POST', url: `/v1/runs/${id}/steps`, payload: { steps: steps(0, 10) } });
});
afterEach(async () => {
  await t.close();
});

const count = () => (t.runs.db.prepare('SELECT count(*) AS n FROM steps').get() as { n: number }).n;

describe('store faults', () => {
  it('answers 503 while the database is full, keeps serving reads, and recovers', async () => {
    // SQLite's own page ceiling gives the same SQLITE_FULL a full disk does.
    const pages = t.runs.db.pragma('page_count', { simple: true }) as number;
    t.runs.db.pragma(`max_page_count = ${pages}`);
    const big = { steps: steps(10, 5000) };
    const res = await t.app.inject({ method: 'POST', url: `/v1/runs/${id}/steps`, payload: big });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ error: 'unavailable' });
    expect(res.json().message).toMatch(/SQLITE_FULL.*nothing was stored/);
    expect(res.headers['retry-after']).toBe('5');
    expect(count()).toBe(10);
    expect((await t.app.inject({ url: `/v1/runs/${id}` })).json().summary.steps).toBe(10);
    expect((await t.app.inject({ url: '/metrics' })).statusCode).toBe(200);
    expect((await t.app.inject({ url: '/healthz' })).statusCode).toBe(200);

    t.runs.db.pragma('max_page_count = 1073741823');
    expect((await t.app.inject({ method: 'POST', url: `/v1/runs/${id}/steps`, payload: big })).statusCode).toBe(202);
    expect(count()).toBe(5010);
  });

  it('answers 503 on a read-only store and registers nothing', async () => {
    t.runs.db.pragma('query_only = 1');
    const res = await t.app.inject({ method: 'POST', url: '/v1/runs', payload: { name: 'ro' } });
    expect(res.statusCode).toBe(503);
    expect(res.json().message).toMatch(/SQLITE_READONLY/);
    expect(t.runs.listRuns()).toHaveLength(1);
    t.runs.db.pragma('query_only = 0');
  });
});

describe('all or nothing', () => {
  it('leaves no half-registered run when the store fills up mid-registration', async () => {
    const pages = t.runs.db.pragma('page_count', { simple: true }) as number;
    t.runs.db.pragma(`max_page_count = ${pages}`);
    let results: number[] = [];
    for (let i = 0; i < 200; i++) {
      const r = await t.app.inject({ method: 'POST', url: '/v1/runs', payload: { name: `fill-${i}`, pid: 100 + i } });
      results.push(r.statusCode);
      if (r.statusCode === 503) break;
    }
    results = [...new Set(results)];
    expect(results).toContain(503);
    const runs = t.runs.db.prepare('SELECT id FROM runs').all() as Array<{ id: string }>;
    const started = t.runs.db.prepare("SELECT DISTINCT run_id FROM events WHERE kind = 'started'").all() as Array<{ run_id: string }>;
    expect(started.map((r) => r.run_id).sort()).toEqual(runs.map((r) => r.id).sort());
    t.runs.db.pragma('max_page_count = 1073741823');
  });
});
