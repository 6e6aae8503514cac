import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { registerRun, steps, testApp, type TestApp } from './helpers/app.js';

let t: TestApp;
let id: string;
beforeEach(async () => {
  t = await testApp();
  id = await registerRun(t.app);
});
afterEach(async () => {
  await t.close();
});

const post = (body: unknown, extra: Record<string, string> = {}) =>
  t.app.inject({
    method: 'POST',
    url: `/v1/runs/${id}/steps`,
    headers: { 'content-type': 'application/json', ...extra },
    payload: typeof body === 'string' ? body : JSON.stringify(body),
  });

async function readAll(pageSize: number) {
  const out: Array<{ step: number; rank: number }> = [];
  let after = -1;
  for (let pages = 0; pages < 10_000; pages++) {
    const res = await t.app.inject({ url: `/v1/runs/${id}/steps?after_step=${after}&limit=${pageSize}` });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    out.push(...body.steps);
    if (body.next_after_step === null) return out;
    after = body.next_after_step;
  }
  throw new Error('paging did not end');
}

describe('step reports', () => {
  // docs/gpu.md: torch.cuda.memory_stats() on a step reaches the tuner (its window's steps) as bytes and counts.
  it('takes the CUDA allocator figures a step carries to the live run', async () => {
    const [a, b] = steps(0, 2);
    const res = await post({ steps: [a, { ...b, cuda_reserved_bytes: 17.6e9, cuda_allocated_bytes: 11.6e9, cuda_reserved_peak_bytes: 18e9, cuda_allocated_peak_bytes: 12e9, cuda_alloc_retries: 3, cuda_ooms: 0 }] });
    expect(res.statusCode, res.body).toBe(202);
    const recent = t.runs.live(t.runs.getRun(id)).recent;
    expect(recent[0].cuda).toBeUndefined();
    expect(recent[1].cuda).toEqual({ reservedBytes: 17.6e9, allocatedBytes: 11.6e9, reservedPeakBytes: 18e9, allocatedPeakBytes: 12e9, allocRetries: 3, ooms: 0 });
  });

  it('takes a non-finite loss as data (loss_non_finite), answers it as such, and refuses a number beside the flag', async () => {
    const base = { duration_s: 0.1, data_wait_s: 0, samples: 8 };
    const ok = await post({ steps: [{ step: 1, ...base, loss: 1.5 }, { step: 2, ...base, loss: null, loss_non_finite: true }, { step: 3, ...base, loss_non_finite: true }] });
    expect(ok.statusCode).toBe(202);
    const read = (await t.app.inject({ url: `/v1/runs/${id}/steps` })).json().steps as Array<Record<string, unknown>>;
    expect(read.map((s) => [s.loss, s.loss_non_finite])).toEqual([[1.5, undefined], [null, true], [null, true]]);
    const run = (await t.app.inject({ url: `/v1/runs/${id}` })).json();
    expect(run.summary.last_loss).toBeNull();
    const bad = await post({ steps: [{ step: 4, ...base, loss: 2, loss_non_finite: true }] });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().message).toMatch(/steps\[0\]\.loss: must be null or left out when loss_non_finite is true/);
  });

  it('stores 10 000 reports posted in batches of 500 and reads them back complete and in order', async () => {
    for (let b = 0; b < 20; b++) {
      const res = await post({ steps: steps(b * 500, 500) });
      expect(res.statusCode).toBe(202);
      expect(res.json()).toEqual({ accepted: 500, duplicates: 0, config_version: 1 });
    }
    const all = await readAll(1000);
    expect(all).toHaveLength(10_000);
    expect(all.map((s) => s.step)).toEqual(Array.from({ length: 10_000 }, (_, i) => i));
    const run = (await t.app.inject({ url: `/v1/runs/${id}` })).json();
    expect(run.summary.steps).toBe(10_000);
    expect(run.summary.samples).toBe(640_000);
    expect(run.summary.samples_per_second).toBeGreaterThan(64 / 0.09);
    expect(run.summary.data_wait_ratio).toBeGreaterThan(0.3);
  });

  it('stores a retried batch once and counts the duplicates', async () => {
    expect((await post({ steps: steps(0, 10) })).json()).toMatchObject({ accepted: 10, duplicates: 0 });
    expect((await post({ steps: steps(5, 10) })).json()).toMatchObject({ accepted: 10, duplicates: 5 });
    expect(await readAll(100)).toHaveLength(15);
  });

  it('pages data-parallel reports without splitting a step across pages', async () => {
    const batch = [0, 1, 2].flatMap((step) => [0, 1, 2].map((rank) => ({ ...steps(step, 1)[0], rank, world_size: 3 })));
    expect((await post({ steps: batch })).statusCode).toBe(202);
    const all = await readAll(4);
    expect(all.map((s) => `${s.step}/${s.rank}`)).toEqual(['0/0', '0/1', '0/2', '1/0', '1/1', '1/2', '2/0', '2/1', '2/2']);
  });

  it('tags steps with the config version the job last applied', async () => {
    await post({ steps: steps(0, 2) });
    await t.app.inject({ method: 'PUT', url: `/v1/runs/${id}/config`, payload: { config: { batch_size: 128, learning_rate: 0.001, num_workers: 2 } } });
    await post({ steps: steps(2, 2) }); // not applied yet: still version 1
    await t.app.inject({ method: 'POST', url: `/v1/runs/${id}/events`, payload: { kind: 'config_applied', step: 4, data: { version: 2 } } });
    await post({ steps: steps(4, 2) });
    await post({ steps: [{ ...steps(6, 1)[0], config_version: 1 }] });
    const versions = (await readAll(100)).map((s) => (s as unknown as { config_version: number }).config_version);
    expect(versions).toEqual([1, 1, 1, 1, 2, 2, 1]);
  });

  const good = steps(0, 1)[0];
  const bad: Array<[string, unknown, number, RegExp]> = [
    ['malformed JSON', '{"steps": [', 400, /JSON/],
    ['an empty body', '', 400, /JSON|body/],
    ['no steps array', {}, 400, /steps/],
    ['an empty batch', { steps: [] }, 400, /steps/],
    ['a string number', { steps: [{ ...good, samples: '64' }] }, 400, /samples/],
    ['a negative duration', { steps: [{ ...good, duration_s: -1 }] }, 400, /duration_s/],
    ['1e999 (Infinity)', `{"steps":[{"step":1,"duration_s":1e999,"data_wait_s":0,"samples":1}]}`, 400, /duration_s/],
    ['a huge step number', { steps: [{ ...good, step: 2 ** 60 }] }, 400, /step/],
    ['a fractional step', { steps: [{ ...good, step: 1.5 }] }, 400, /step/],
    ['data_wait_s above duration_s', { steps: [good, { ...good, step: 1, data_wait_s: 0.5, duration_s: 0.1 }] }, 400, /steps\[1\]\.data_wait_s/],
    ['rank not below world_size', { steps: [{ ...good, rank: 2, world_size: 2 }] }, 400, /rank/],
    ['an unknown field', { steps: [{ ...good, bogus: 1 }] }, 400, /bogus/],
    ['a __proto__ key', '{"steps":[{"step":1,"duration_s":1,"data_wait_s":0,"samples":1,"__proto__":{"x":1}}]}', 400, /./],
    ['too many reports', { steps: steps(0, 5001) }, 400, /steps/],
    ['a negative cuda_reserved_bytes', { steps: [{ ...good, cuda_reserved_bytes: -1 }] }, 400, /cuda_reserved_bytes/],
    ['a fractional cuda_alloc_retries', { steps: [{ ...good, cuda_alloc_retries: 1.5 }] }, 400, /cuda_alloc_retries/],
  ];
  for (const [what, body, status, message] of bad) {
    it(`rejects ${what} with ${status} and stores nothing`, async () => {
      await post({ steps: steps(100, 3) });
      const res = await post(body);
      expect(res.statusCode).toBe(status);
      expect(res.json().error).toMatch(/bad_request|invalid_json/);
      expect(res.json().message).toMatch(message);
      expect((await readAll(100)).map((s) => s.step)).toEqual([100, 101, 102]);
    });
  }

  it('rejects a wrong content type with 415', async () => {
    const res = await t.app.inject({ method: 'POST', url: `/v1/runs/${id}/steps`, headers: { 'content-type': 'text/plain' }, payload: 'step=1' });
    expect(res.statusCode).toBe(415);
    expect(res.json().error).toBe('unsupported_media_type');
  });

  it('rejects a body over the limit with 413', async () => {
    const small = await testApp({ bodyLimit: 10_000 });
    const sid = await registerRun(small.app);
    const res = await small.app.inject({ method: 'POST', url: `/v1/runs/${sid}/steps`, headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ steps: steps(0, 200) }) });
    expect(res.statusCode).toBe(413);
    expect(res.json().error).toBe('payload_too_large');
    expect((await small.app.inject({ url: `/v1/runs/${sid}/steps` })).json().steps).toHaveLength(0);
    await small.close();
  });

  it('answers 404 for an unknown run and an odd id', async () => {
    for (const rid of ['r0000000000', '..%2F..%2Fetc', "1'%20OR%201=1", '%00']) {
      const res = await t.app.inject({ method: 'POST', url: `/v1/runs/${rid}/steps`, payload: { steps: steps(0, 1) } });
      expect(res.statusCode, rid).toBe(404);
      expect(res.json().error).toBe('not_found');
    }
  });
});
