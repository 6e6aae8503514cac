// GET /v1/host carries GPM activity (docs/gpu.md) for the GPUs that have it, and no key for the others.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { fixtureSnapshot } from './helpers/prometheus-state.js';
import { testApp, type TestApp } from './helpers/app.js';

let t: TestApp;
beforeAll(async () => {
  // The 8 × V100S capture, GPU 0 with the documented dmon format's GPM rows (bench/metrics/fixture.ts).
  t = await testApp({ host: () => ({ snapshot: fixtureSnapshot(), health: [], inventory: { host: null, gpu: null } }) });
});
afterAll(() => t.close());

it('shows GPU 0\'s GPM ratios in snake_case, and none for GPUs without GPM', async () => {
  const res = await t.app.inject({ url: '/v1/host' });
  expect(res.statusCode, res.body).toBe(200);
  const gpus = res.json().gpus;
  expect(gpus[0].activity).toEqual({ sm_active_ratio: 0.94, sm_occupancy_ratio: 0.42, tensor_active_ratio: 0.01, dram_active_ratio: 0.36, fp32_active_ratio: 0.72 });
  expect(gpus[1]).not.toHaveProperty('activity');
});
