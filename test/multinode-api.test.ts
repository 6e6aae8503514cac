// The data-parallel routes (DESIGN §9) over a real app and SQLite: a node's copy under rank 0's
// id and version, ranks announcing themselves, rank 0's forwarded summaries, the run view's
// `ranks` and `stragglers` in the bottleneck evidence, versions mirrored into a node's copy,
// and bad input answered with a 4xx naming the field.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GOOD_RUN, registerRun, steps, testApp, type TestApp } from './helpers/app.js';

let t: TestApp;
beforeEach(async () => {
  t = await testApp();
});
afterEach(async () => t.close());

const put = (url: string, payload: object) => t.app.inject({ method: 'PUT', url, payload });
const post = (url: string, payload: object) => t.app.inject({ method: 'POST', url, payload });
const get = (url: string) => t.app.inject({ method: 'GET', url });

/** One forward from rank 0: four ranks, ranks 2–3 on node-b waiting on data. */
const forward = (id: string, last: number) => post(`/v1/runs/${id}/ranks`, {
  world_size: 4,
  ranks: [0, 1, 2, 3].map((rank) => ({
    rank, node: rank < 2 ? 'node-a' : 'node-b', steps: 25, duration_s: 1, data_wait_s: rank < 2 ? 0.02 : 0.6 + rank * 0.01,
    samples: 200, last_step: last, verdict: rank < 2 ? 'compute_bound' : 'input_bound',
  })),
});

describe('a node\'s copy of a run', () => {
  it('PUT /v1/runs/:id makes it under the given id and config version (201), then answers the run as it is (200)', async () => {
    const body = { name: 'ddp', pid: 4321, config: GOOD_RUN.config, config_version: 3, tune: { mode: 'off' } };
    const made = await put('/v1/runs/rabc123', body);
    expect(made.statusCode, made.body).toBe(201);
    expect(made.json()).toMatchObject({ id: 'rabc123', name: 'ddp', pid: 4321, config_version: 3, applied_version: 3, tune: { mode: 'off' } });
    const again = await put('/v1/runs/rabc123', { ...body, name: 'other', config_version: 9 });
    expect(again.statusCode).toBe(200);
    expect(again.json()).toMatchObject({ name: 'ddp', config_version: 3 });
    // Steps go to the copy like to any run.
    expect((await post('/v1/runs/rabc123/steps', { steps: steps(0, 3, { rank: 2, world_size: 4 }) })).statusCode).toBe(202);
  });

  it('learns each new version from its ranks\' config_applied events, under rank 0\'s number', async () => {
    await put('/v1/runs/rcopy1', { name: 'ddp', config: GOOD_RUN.config, config_version: 2, tune: { mode: 'off' } });
    await put('/v1/runs/rcopy1/ranks/2', { world_size: 4, pid: 999_001, node: 'node-b' });
    const data = { version: 4, rank: 2, batch_size: 128, num_workers: 2, learning_rate: 0.002, grad_accum_steps: 1 };
    const ev = await post('/v1/runs/rcopy1/events', { kind: 'config_applied', step: 40, data });
    expect(ev.statusCode, ev.body).toBe(202);
    const run = (await get('/v1/runs/rcopy1')).json();
    expect(run).toMatchObject({ config_version: 4, applied_version: 4, config: { batch_size: 128, learning_rate: 0.002 } });
    // Rank 3's acknowledgement of the same version changes nothing more.
    expect((await post('/v1/runs/rcopy1/events', { kind: 'config_applied', step: 40, data: { ...data, rank: 3 } })).statusCode).toBe(202);
    expect((await get('/v1/runs/rcopy1')).json().config_version).toBe(4);
  });

  it('the leader still refuses an acknowledgement of a version it never made (409)', async () => {
    const id = await registerRun(t.app);
    await put(`/v1/runs/${id}/ranks/0`, { world_size: 2, pid: 12345, node: 'node-a' });
    const ev = await post(`/v1/runs/${id}/events`, { kind: 'config_applied', step: 1, data: { version: 7, batch_size: 8, num_workers: 0, learning_rate: 0.1 } });
    expect(ev.statusCode).toBe(409);
  });
});

describe('ranks', () => {
  it('a rank\'s announce answers whether this sidecar leads and its verdict; the view lists the ranks', async () => {
    const id = await registerRun(t.app);
    const a0 = await put(`/v1/runs/${id}/ranks/0`, { world_size: 4, pid: 12345, node: 'node-a' });
    expect(a0.statusCode, a0.body).toBe(200);
    expect(a0.json()).toEqual({ run_id: id, rank: 0, leader: true, verdict: null });
    t.runs.setStatus(id, { bottleneck: 'input_bound', evidence: { why: 'data wait is 60 % of each step' }, advice: [] });
    expect((await put(`/v1/runs/${id}/ranks/1`, { world_size: 4, pid: 12346, node: 'node-a' })).json().verdict)
      .toEqual({ kind: 'input_bound', why: 'data wait is 60 % of each step' });
    const view = (await get(`/v1/runs/${id}`)).json();
    expect(view.ranks.map((r: { rank: number; node: string; pid: number }) => [r.rank, r.node, r.pid])).toEqual([[0, 'node-a', 12345], [1, 'node-a', 12346]]);
    // The sampler is told to watch rank 1's pid too (rank 0's is the run's own).
    expect(t.runs.watchedPids()).toEqual([{ runId: id, pid: 12345 }, { runId: id, pid: 12346 }]);
  });

  it('watches each rank\'s tree: kept per rank, the run\'s own tree stored, every local rank\'s GPUs the run\'s', async () => {
    const id = await registerRun(t.app); // pid 12345: rank 0's
    await put(`/v1/runs/${id}/ranks/0`, { world_size: 2, pid: 12345, node: 'node-a' });
    await put(`/v1/runs/${id}/ranks/1`, { world_size: 2, pid: 12346, node: 'node-a' });
    const tree = (pid: number, rss: number, gpu: Record<string, number>) => ({
      runId: id, pid, alive: true, cpuSecondsTotal: 1, residentMemoryBytes: rss, children: [], workerCount: 0, gpuMemoryBytes: gpu,
    });
    const ts = Math.floor(Date.now() / 1000);
    t.runs.recordSnapshot({ ts, host: null, gpus: null, health: [], processes: [tree(12345, 100e6, { 0: 1e9 }), tree(12346, 300e6, { 1: 2e9 })] });
    const run = t.runs.getRun(id);
    expect(t.runs.live(run).process).toMatchObject({ pid: 12345, residentMemoryBytes: 100e6, gpuMemoryBytes: { 0: 1e9, 1: 2e9 } });
    const view = (await get(`/v1/runs/${id}`)).json();
    expect(view.ranks.map((r: { process: { resident_memory_bytes: number } }) => r.process.resident_memory_bytes)).toEqual([100e6, 300e6]);
    const series = (await get(`/v1/runs/${id}/series?metric=process_resident_memory_bytes&from=${ts - 1}&to=${ts + 1}`)).json();
    expect(JSON.stringify(series)).toContain('100000000');
    expect(JSON.stringify(series)).not.toContain('300000000');
    // Rank 1's exit ends rank 1, not the run.
    t.runs.processExited(id, 12346);
    expect(t.runs.getRun(id).state).toBe('running');
    t.runs.processExited(id, 12345);
    expect(t.runs.getRun(id).state).toBe('exited');
  });

  it('rank 0\'s forwards give every rank\'s figures and name the stragglers in the bottleneck evidence', async () => {
    const id = await registerRun(t.app);
    for (let i = 1; i <= 3; i++) expect((await forward(id, i * 25)).statusCode).toBe(202);
    t.runs.setStatus(id, { bottleneck: 'compute_bound', evidence: { why: 'the GPU is busy' }, advice: [] });
    const view = (await get(`/v1/runs/${id}`)).json();
    expect(view.ranks.map((r: { rank: number; node: string; straggler: boolean }) => [r.rank, r.node, r.straggler]))
      .toEqual([[0, 'node-a', false], [1, 'node-a', false], [2, 'node-b', true], [3, 'node-b', true]]);
    expect(view.ranks[2]).toMatchObject({ samples_per_second: 200, step_seconds: 0.04, last_step: 75 });
    expect(view.ranks[2].data_wait_ratio).toBeCloseTo(0.62, 5);
    expect(view.bottleneck.kind).toBe('compute_bound');
    expect(view.bottleneck.evidence).toMatchObject({
      why: 'the GPU is busy', stragglers: [2, 3], straggler_nodes: ['node-b'], straggler_cause: 'data_loading', straggler_node_verdict: 'input_bound',
    });
    expect(view.advice.map((a: { code: string }) => a.code)).toContain('stragglers_data_loading');
    const metrics = (await get('/metrics')).body;
    expect(metrics).toMatch(/^trainpilot_run_rank_straggler\{run="resnet50-a",rank="2"\} 1$/m);
    expect(metrics).toMatch(/^trainpilot_run_rank_info\{run="resnet50-a",rank="3",node="node-b"\} 1$/m);
  });

  it('a node\'s copy shows its ranks from its own steps and names no stragglers (it does not see the whole job)', async () => {
    await put('/v1/runs/rnode1', { name: 'ddp', config: GOOD_RUN.config, tune: { mode: 'off' } });
    await put('/v1/runs/rnode1/ranks/2', { world_size: 4, pid: 999_002, node: 'node-b' });
    const a3 = await put('/v1/runs/rnode1/ranks/3', { world_size: 4, pid: 999_003, node: 'node-b' });
    expect(a3.json().leader).toBe(false);
    await post('/v1/runs/rnode1/steps', { steps: [...steps(0, 30, { rank: 2, world_size: 4 }), ...steps(0, 30, { rank: 3, world_size: 4, data_wait_s: 0.07 })] });
    const view = (await get('/v1/runs/rnode1')).json();
    expect(view.ranks.map((r: { rank: number; last_step: number; straggler: boolean }) => [r.rank, r.last_step, r.straggler])).toEqual([[2, 29, false], [3, 29, false]]);
    expect(view.ranks[1].data_wait_ratio).toBeGreaterThan(view.ranks[0].data_wait_ratio);
  });

  it('rejects what is wrong with a 4xx naming the field, and changes nothing', async () => {
    const id = await registerRun(t.app);
    const bad: Array<[string, () => Promise<{ statusCode: number; json(): { message: string } }>, number, RegExp]> = [
      ['rank ≥ world size', () => put(`/v1/runs/${id}/ranks/4`, { world_size: 4 }), 400, /rank: 4 must be below world_size 4/],
      ['bad node', () => put(`/v1/runs/${id}/ranks/1`, { world_size: 4, node: 'a b' }), 400, /node/],
      ['unknown run', () => put('/v1/runs/nope/ranks/1', { world_size: 4 }), 404, /nope/],
      ['summary rank ≥ world size', () => post(`/v1/runs/${id}/ranks`, { world_size: 2, ranks: [{ rank: 2, steps: 1, duration_s: 1, data_wait_s: 0, samples: 1 }] }), 400, /ranks\[0\]\.rank: 2/],
      ['wait over duration', () => post(`/v1/runs/${id}/ranks`, { world_size: 2, ranks: [{ rank: 1, steps: 1, duration_s: 1, data_wait_s: 2, samples: 1 }] }), 400, /ranks\[0\]\.data_wait_s/],
      ['unknown verdict', () => post(`/v1/runs/${id}/ranks`, { world_size: 2, ranks: [{ rank: 1, steps: 1, duration_s: 1, data_wait_s: 0, samples: 1, verdict: 'slow' }] }), 400, /verdict/],
      ['bad copy id', () => put('/v1/runs/-x', { name: 'ddp' }), 400, /id/],
      ['version without config', () => put('/v1/runs/rnew1', { name: 'ddp', config_version: 2 }), 400, /config_version/],
    ];
    for (const [what, req, status, message] of bad) {
      const res = await req();
      expect(res.statusCode, what).toBe(status);
      expect(res.json().message, what).toMatch(message);
    }
    expect((await get(`/v1/runs/${id}`)).json().ranks).toBeUndefined();
    expect((await get('/v1/runs/rnew1')).statusCode).toBe(404);
  });
});
