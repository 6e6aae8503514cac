// A real app over a real SQLite file in a temp dir, for app.inject() tests.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildApp, type AppDeps } from '../../server/app.js';
import { createMetrics } from '../../server/metrics/registry.js';
import { metricsSource } from '../../server/metrics/store-source.js';
import { EXAMPLE_TUNE } from '../../domain/tune-defaults.js';
import { openRuns, type TestRuns } from './runs.js';

export interface TestApp {
  app: FastifyInstance;
  runs: TestRuns;
  dir: string;
  close(): Promise<void>;
}

export async function testApp(extra: Partial<AppDeps> = {}, now?: () => number): Promise<TestApp> {
  const dir = mkdtempSync(join(tmpdir(), 'trainpilot-test-'));
  const runs = openRuns({ path: join(dir, 'store.db'), now });
  const metrics = createMetrics(metricsSource(runs, () => undefined), { version: 'test' });
  runs.on((e) => {
    if (e.type === 'steps') metrics.observeSteps({ label: e.label }, e.steps);
  });
  const app = await buildApp({ runs, version: 'test', metrics, ...extra });
  await app.ready();
  return {
    app,
    runs,
    dir,
    async close() {
      await app.close();
      runs.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const GOOD_RUN = {
  name: 'resnet50-a',
  pid: 12345,
  config: { batch_size: 64, learning_rate: 0.001, num_workers: 2, grad_accum_steps: 1 },
  tune: EXAMPLE_TUNE,
};

export async function registerRun(app: FastifyInstance, body: object = GOOD_RUN): Promise<string> {
  const res = await app.inject({ method: 'POST', url: '/v1/runs', payload: body });
  if (res.statusCode !== 201) throw new Error(`register failed: ${res.statusCode} ${res.body}`);
  return res.json().id as string;
}

/** Recent enough that retention (7 d by default) keeps them; one report per 10 ms. */
const TS_BASE = Math.floor(Date.now() / 1000) - 3600;

export function steps(from: number, n: number, extra: object = {}) {
  return Array.from({ length: n }, (_, i) => ({
    step: from + i,
    duration_s: 0.08 + (i % 7) * 0.001,
    data_wait_s: 0.03,
    samples: 64,
    loss: 2 - (from + i) * 1e-4,
    ts: TS_BASE + (from + i) / 100,
    ...extra,
  }));
}
