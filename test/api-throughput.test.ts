// One quantity, every place: a steady data-parallel job shows the same samples/s in the run view
// (GET /v1/runs/:id), on /metrics, in the report, in the series API and in the tuner's evidence
// (issue 12, item 3).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Step } from '../cli/api-client.js';
import { quarterThroughput } from '../cli/report-data.js';
import { tune } from '../tuner/decide.js';
import { measure } from '../tuner/measure.js';
import { makeSteps, makeWindow } from '../tuner/window-fixtures.js';
import { registerRun, testApp, type TestApp } from './helpers/app.js';

const RANKS = 2;
const STEP_S = 0.05;
const SAMPLES_PER_RANK = 32;
const STEPS_PER_RANK = 200;
/** Each rank posts its own reports, 50 at a time, as the Python client's sender does. */
const BATCH = 50;
/** The job's samples/s: both ranks' 32 samples every 0.05 s. */
const JOB_RATE = (RANKS * SAMPLES_PER_RANK) / STEP_S;

/** Recent enough that retention keeps them; every rank's step i ends at the same moment. */
const T0 = Math.floor(Date.now() / 1000) - 3600;

function rankSteps(rank: number, from: number, n: number) {
  return Array.from({ length: n }, (_, i) => ({
    step: from + i,
    duration_s: STEP_S,
    data_wait_s: 0.005,
    samples: SAMPLES_PER_RANK,
    loss: 2,
    ts: T0 + (from + i + 1) * STEP_S,
    rank,
    world_size: RANKS,
  }));
}

let t: TestApp;
let id: string;

async function post(rank: number, from: number): Promise<void> {
  const res = await t.app.inject({ method: 'POST', url: `/v1/runs/${id}/steps`, payload: { steps: rankSteps(rank, from, BATCH) } });
  expect(res.statusCode).toBe(202);
}

async function viewRate(): Promise<number> {
  return (await t.app.inject({ url: `/v1/runs/${id}` })).json().summary.samples_per_second;
}

async function metricsRate(): Promise<number> {
  const body = (await t.app.inject({ url: '/metrics' })).body;
  const line = body.split('\n').find((l) => l.startsWith('trainpilot_run_samples_per_second{run="resnet50-a"}'));
  expect(line, body).toBeDefined();
  return Number(line!.split(' ').at(-1));
}

beforeAll(async () => {
  t = await testApp();
  id = await registerRun(t.app);
  // Every batch but rank 1's last: the ranks' reports arrive apart.
  for (let from = 0; from < STEPS_PER_RANK; from += BATCH) {
    for (let rank = 0; rank < RANKS; rank++) if (rank === 0 || from + BATCH < STEPS_PER_RANK) await post(rank, from);
  }
});
afterAll(async () => {
  await t.close();
});

describe(`a steady ${RANKS}-rank job (${SAMPLES_PER_RANK} samples per rank every ${STEP_S} s)`, () => {
  it('shows the job\'s samples/s while one rank\'s reports are a batch behind', async () => {
    // Before, /metrics divided both ranks' samples by one span covering them both: 1071.
    expect(await metricsRate()).toBeCloseTo(JOB_RATE, 3);
    expect(await viewRate()).toBeCloseTo(JOB_RATE, 3);
    await post(1, STEPS_PER_RANK - BATCH);
  });

  it(`the run view says ${JOB_RATE} samples/s`, async () => {
    const run = (await t.app.inject({ url: `/v1/runs/${id}` })).json();
    expect(run.summary.samples).toBe(RANKS * SAMPLES_PER_RANK * STEPS_PER_RANK);
    expect(run.summary.samples_per_second).toBeCloseTo(JOB_RATE, 3);
  });

  it(`/metrics says ${JOB_RATE} samples/s`, async () => {
    expect(await metricsRate()).toBeCloseTo(JOB_RATE, 3);
  });

  it(`the report says ${JOB_RATE} samples/s at start and at end`, async () => {
    const page = (await t.app.inject({ url: `/v1/runs/${id}/steps?limit=10000` })).json();
    expect(page.steps).toHaveLength(RANKS * STEPS_PER_RANK);
    const q = quarterThroughput(page.steps as Step[]);
    expect(q.start?.samples_per_second).toBeCloseTo(JOB_RATE, 6);
    expect(q.end?.samples_per_second).toBeCloseTo(JOB_RATE, 6);
  });

  it(`the series API says ${JOB_RATE} samples/s at every step`, async () => {
    const pts = (await t.app.inject({ url: `/v1/runs/${id}/series?metric=samples_per_second` })).json().points as Array<[number, number]>;
    expect(pts).toHaveLength(STEPS_PER_RANK);
    for (const [, v] of pts) expect(v).toBeCloseTo(JOB_RATE, 6);
  });

  it(`the tuner's evidence says ${JOB_RATE} samples/s`, () => {
    const steps = [0, 1]
      .flatMap((rank) => makeSteps({ n: STEPS_PER_RANK, durationS: STEP_S, samples: SAMPLES_PER_RANK, rank, worldSize: RANKS }))
      .sort((a, b) => a.step - b.step || a.rank - b.rank);
    const w = makeWindow({ steps });
    expect(measure(w, 1)?.throughput).toBeCloseTo(JOB_RATE, 6);
    const r = tune(w);
    expect(r.status.evidence.samples_per_second).toBeCloseTo(JOB_RATE, 6);
  });
});
