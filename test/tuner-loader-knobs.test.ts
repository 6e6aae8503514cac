// The loader's knobs beside its workers (tuner/loader-knobs.ts, issue 22): persistent workers when
// each epoch's workers start at a measured cost, prefetch_factor and pin_memory as trials when steps
// still wait for data, each kept inside the host-memory budget (a refused candidate named), and none
// of them on a run whose config does not carry the field (an older client).
import { describe, expect, it } from 'vitest';
import type { ProcessTreeReading } from '../collectors/readings.js';
import type { RunEventPoint } from '../domain/events.js';
import { tune } from '../tuner/decide.js';
import { hostMemoryBudget, predictedLoaderBytes } from '../tuner/host-memory.js';
import { loaderTable } from '../tuner/loader-knobs.js';
import { measure } from '../tuner/measure.js';
import { BASE_CONFIG, BASE_TUNE, host, makeSteps, makeWindow, record } from '../tuner/window-fixtures.js';
import type { Window } from '../tuner/window.js';

const LOADER = { ...BASE_CONFIG, num_workers: 2, prefetch_factor: 2, persistent_workers: false };

function epochs(n: number, startS: number, epochS: number, over: Record<string, unknown> = {}): RunEventPoint[] {
  return Array.from({ length: n }, (_, i) => ({
    ts: 1_764_300_000 + i, kind: 'epoch_end' as const, step: i * 10,
    data: { epoch: i + 1, config_version: 1, loader_start_s: startS, epoch_s: epochS, batch_bytes: 4e6, same_loader: true, ...over },
  }));
}

function tree(workerRss: number, workers = 2): ProcessTreeReading {
  const children = Array.from({ length: workers }, (_, i) => ({ pid: 100 + i, name: 'python3', cpuSecondsTotal: 1, residentMemoryBytes: workerRss }));
  return { runId: 'run-1', pid: 99, alive: true, cpuSecondsTotal: 3, residentMemoryBytes: 500e6 + workers * workerRss, children, workerCount: workers, gpuMemoryBytes: {} };
}

/** Two readings 10 s apart with each worker busy `busy` of the time (budget.ts cpuUse). */
function busyHistory(busy: number, workerRss = 200e6): Array<ProcessTreeReading & { ts: number }> {
  const at = (ts: number, cpu: number) => {
    const t = tree(workerRss);
    return { ...t, ts, cpuSecondsTotal: 10 + 3 * cpu, children: t.children.map((c) => ({ ...c, cpuSecondsTotal: cpu })) };
  };
  return [at(1_764_300_000, 1), at(1_764_300_010, 1 + 10 * busy)];
}

function win(over: Partial<Window>): Window {
  return makeWindow({ config: LOADER, steps: makeSteps({ n: 60, jitter: 0.01 }), host: host(), ...over });
}

describe('persistent workers', () => {
  it('are turned on when the workers\' start is a meaningful share of each epoch of the same loader', () => {
    const w = win({ events: epochs(3, 0.5, 1.2), process: tree(200e6) });
    const r = tune(w);
    expect(r.decision?.knob).toBe('persistent_workers');
    expect(r.decision?.configAfter.persistent_workers).toBe(true);
    expect(r.decision?.reason).toMatch(/took 0\.50 s to start .* 42 % of a 1\.20 s epoch/);
    expect(r.decision?.evidence.epoch_start_ratio).toBeCloseTo(0.417, 3);
    // Only that field changes: the rest of the config is the job's.
    expect({ ...r.decision!.configAfter, persistent_workers: false }).toEqual(LOADER);
  });

  it.each([
    ['a cheap start (2 % of the epoch)', { events: epochs(3, 0.02, 1) }, /2 % of an epoch/],
    ['a loader built anew each epoch', { events: epochs(3, 0.5, 1, { same_loader: false }) }, /built anew each epoch/],
    ['one epoch measured', { events: epochs(1, 0.5, 1) }, /1 epoch measured/],
    ['no workers', { events: epochs(3, 0.5, 1), config: { ...LOADER, num_workers: 0 } }, /no workers/],
    ['epochs of another version', { events: epochs(3, 0.5, 1, { config_version: 7 }) }, /0 epochs measured/],
    ['only a loader\'s first epochs (nothing to compare with)', { events: epochs(3, 0.5, 1, { same_loader: undefined }) }, /0 epochs measured/],
  ])('are left off for %s', (_, over, why) => {
    const w = win(over as Partial<Window>);
    expect(tune(w).decision?.knob).not.toBe('persistent_workers');
    expect(loaderTable(w, measure(w, 1)!).find((p) => p.name === 'persistent_workers')?.note).toMatch(why);
  });

  it('are recommended once under advise, and a recommendation of another loader knob is not taken for it', () => {
    const advise = { ...BASE_TUNE, mode: 'advise' as const };
    const w = win({ events: epochs(3, 0.5, 1.2), process: tree(200e6), tune: advise });
    const first = tune(w).decision!;
    expect(first).toMatchObject({ knob: 'persistent_workers', recommendOnly: true });
    const rec = record({ id: 1, knob: 'persistent_workers', action: 'set', recommendOnly: true, configVersion: null, configBefore: LOADER, configAfter: first.configAfter });
    expect(tune({ ...w, decisions: [rec] }).status.evidence.tuner).toBe('recommendation already made');
    const other = record({ ...rec, knob: 'prefetch_factor', configAfter: { ...LOADER, prefetch_factor: 4 } });
    expect(tune({ ...w, decisions: [other] }).decision?.knob).toBe('persistent_workers');
  });

  it('are never proposed to a run whose config lacks the field (an older client) or whose knobs leave it out', () => {
    const old = win({ events: epochs(3, 0.5, 1.2), config: BASE_CONFIG });
    expect(tune(old).decision?.knob).not.toBe('persistent_workers');
    const off = win({ events: epochs(3, 0.5, 1.2), tune: { ...BASE_TUNE, knobs: ['num_workers'] } });
    expect(tune(off).decision?.knob).not.toBe('persistent_workers');
  });
});

describe('prefetch_factor and pin_memory inside the host-memory budget', () => {
  // Input-bound with the workers at the user's bound: no worker or batch move is left.
  const bound = { ...BASE_TUNE, bounds: { ...BASE_TUNE.bounds, num_workers: { min: 0, max: 2 }, batch_size: { min: 64, max: 64 } } };
  const waiting = makeSteps({ n: 60, dataWaitS: 0.03, jitter: 0.01 });

  it('prefetch ×2 is tried when steps wait, the workers keep up on average and the loader fits the budget', () => {
    const w = win({ tune: bound, steps: waiting, process: tree(200e6), processHistory: busyHistory(0.5), memoryBudget: { workersBytes: 2e9, source: 'test' }, events: epochs(1, 0.01, 1) });
    const r = tune(w);
    expect(r.decision?.knob).toBe('prefetch_factor');
    expect(r.decision?.configAfter.prefetch_factor).toBe(4);
    expect(r.decision?.evidence.loader_host_bytes_predicted).toBe(predictedLoaderBytes({ workers: 2, perWorker: 200e6, prefetch: 4, batchBytes: 4e6, pin: false }));
  });

  it('a prefetch rolled back once is not tried again', () => {
    const trial = record({ id: 7, knob: 'prefetch_factor', configBefore: LOADER, configAfter: { ...LOADER, prefetch_factor: 4 }, outcome: { status: 'rolled_back', gainRatio: -0.02, note: 'x' } });
    const back = record({ id: 8, knob: 'prefetch_factor', action: 'rollback', configBefore: { ...LOADER, prefetch_factor: 4 }, configAfter: LOADER, configVersion: 3, outcome: { status: 'kept', gainRatio: 0, note: 'x' }, ts: 1_764_299_000 });
    const w = win({ tune: bound, steps: makeSteps({ n: 60, dataWaitS: 0.03, jitter: 0.01, version: 3 }), configVersion: 3, appliedVersion: 3, decisions: [{ ...trial, ts: 1_764_298_000 }, back], process: tree(200e6), processHistory: busyHistory(0.5), memoryBudget: { workersBytes: 2e9, source: 'test' } });
    expect(tune(w).decision?.knob).not.toBe('prefetch_factor');
    expect(loaderTable(w, measure(w, 3)!, 0.5).find((p) => p.name === 'prefetch_factor')?.note).toBe('4 was tried and rolled back (decision 7)');
  });

  it('a prefetch that would pass the budget is not tried, and the status names it', () => {
    // 2 workers × 200 MB + 2 × 4 × 4 MB = 432 MB predicted at prefetch 4; room for 420 MB.
    const w = win({ tune: bound, steps: waiting, process: tree(200e6), processHistory: busyHistory(0.5), memoryBudget: { workersBytes: 420e6, source: 'cgroup memory limit' }, events: epochs(1, 0.01, 1) });
    const r = tune(w);
    expect(r.decision?.knob === 'prefetch_factor').toBe(false);
    // Said where the run's status shows it, and in the advice entry when one is made.
    expect(`${String(r.status.evidence.tuner)} ${r.decision?.reason ?? ''}`).toMatch(/prefetch factor 4 would pass the host-memory budget \(predicted 432 MB for the loader: 2 workers × 200 MB \+ their prefetched batches of 4 MB; room for 420 MB; cgroup memory limit\)/);
  });

  it.each([
    ['busy workers (short on average)', busyHistory(0.95), /workers busy 95 %: short on average/],
    ['no CPU readings of the workers', undefined, /no CPU readings/],
    ['a saturated host CPU', busyHistory(0.5), /host's CPU is 95 % busy: the workers are starved/, { host: host({ cpuUtilizationRatio: 0.95 }) }],
  ])('prefetch is not tried with %s', (_, history, why, over: Partial<Window> = {}) => {
    const w = win({ tune: bound, steps: waiting, process: tree(200e6), processHistory: history, memoryBudget: { workersBytes: 2e9, source: 'test' }, ...over });
    expect(tune(w).decision?.knob).not.toBe('prefetch_factor');
    expect(loaderTable(w, measure(w, 1)!, history ? (over.host ? 0.5 : 0.95) : null).find((p) => p.name === 'prefetch_factor')?.note).toMatch(why);
  });

  it('pinned memory is offered on a CUDA job only', () => {
    const cpu = win({ tune: { ...bound, bounds: { ...bound.bounds, prefetch_factor: { min: 2, max: 2 } } }, config: { ...LOADER, pin_memory: false }, steps: waiting, process: tree(200e6), processHistory: busyHistory(0.5) });
    expect(tune(cpu).decision?.knob ?? 'none').toBe('none');
    expect(loaderTable(cpu, measure(cpu, 1)!).find((p) => p.name === 'pin_memory')?.note).toMatch(/CPU-only job/);
    const cudaSteps = makeSteps({ n: 60, dataWaitS: 0.03, jitter: 0.01, memPeakBytes: 1e9 });
    const cuda = { ...cpu, steps: cudaSteps };
    expect(tune(cuda).decision?.configAfter.pin_memory).toBe(true);
  });
});

describe('the host-memory budget override', () => {
  it('wins over the host\'s available memory: the job as a whole, less its main process', () => {
    const b = hostMemoryBudget({ host: host(), process: tree(300e6, 1), limit: null, overrideBytes: 6 * 2 ** 30 })!;
    expect(b.workersBytes).toBe(6 * 2 ** 30 - 500e6);
    expect(b.source).toMatch(/tune\.host_memory_budget_bytes/);
  });
});

describe('the worker count under a host-memory budget before its workers are read', () => {
  // Input-bound (steps wait 30 % for data), room for more workers by CPU; the budget is the user's.
  const open = { ...BASE_TUNE, bounds: { ...BASE_TUNE.bounds, num_workers: { min: 0, max: 8 }, batch_size: { min: 64, max: 64 } } };
  const budget = { workersBytes: 485e6, source: "the job's budget" };
  const waiting = makeSteps({ n: 60, dataWaitS: 0.03, jitter: 0.01 });
  const reading = (children: number[], cpu: number) => ({
    ...tree(0, 0), cpuSecondsTotal: cpu, workerCount: children.length,
    children: children.map((rss, i) => ({ pid: 100 + i, name: 'python3', cpuSecondsTotal: cpu / 4, residentMemoryBytes: rss })),
  });
  /** A window whose process readings, oldest first, had workers of these sizes; the last is the latest. */
  const at = (workers: number, ...readings: number[][]) => {
    const history = readings.map((c, i) => ({ ...reading(c, 1 + i), ts: 1_764_300_000 + i }));
    return win({
      tune: open, config: { ...LOADER, num_workers: workers, persistent_workers: undefined, prefetch_factor: undefined }, steps: waiting, memoryBudget: budget,
      process: history.at(-1) ?? reading([], 1), processHistory: history,
    });
  };
  const added = (w: Window) => { const d = tune(w).decision; return d?.knob === 'num_workers' && d.action === 'increase' ? d.configAfter.num_workers : null; };

  it('keeps the count of a job with workers until one is read past its start (CI once added a worker past the budget 3 s in)', () => {
    const r = tune(at(1, []));
    expect(r.decision?.knob === 'num_workers' && r.decision.action === 'increase').toBe(false);
    expect(`${String(r.status.evidence.tuner)} ${r.decision?.reason ?? ''}`).toMatch(/2 workers wait for a reading of a worker past its start \(the host-memory budget: the job's budget\)/);
    // One reading, perhaps of a worker not yet grown (forked, its data not yet made): not believed;
    // nor a worker new at each reading (restarted every epoch, read young each time).
    expect(added(at(1, [100e6]))).toBeNull();
    const fresh = at(1, [100e6], [100e6]);
    const renumbered = fresh.processHistory!.map((r, i) => ({ ...r, children: r.children.map((c) => ({ ...c, pid: c.pid + 10 * i })) }));
    expect(added({ ...fresh, processHistory: renumbered, process: renumbered.at(-1)! })).toBeNull();
    // The same worker read twice: 309 MB at the second leaves room for 1; 100 MB for 4, and the search adds them.
    expect(added(at(1, [100e6], [309e6]))).toBeNull();
    expect(added(at(1, [100e6], [100e6]))).toBeGreaterThan(1);
  });

  it('a loader-knob trial made because the count cannot grow says why it cannot, in place of "no worker move pays"', () => {
    // One 309 MB worker read twice: room for 1 in 485 MB; the workers keep up on average, prefetch 2 → 4 fits.
    const w = at(1, [309e6], [309e6]);
    const r = tune({ ...w, config: { ...w.config, prefetch_factor: 2, persistent_workers: true }, processHistory: busyHistory(0.5, 309e6).map((h) => ({ ...h, children: h.children.slice(0, 1), workerCount: 1 })) });
    expect(r.decision?.knob).toBe('prefetch_factor');
    expect(r.decision?.reason).toMatch(/and workers 1 cannot grow: 2 workers would pass the host-memory budget \(309 MB per worker, room for 1; the job's budget\); more batches kept ready/);
  });

  it('lets a job without workers start one, and no more, before one is read', () => {
    expect(added(at(0, [], []))).toBe(1);
  });
});
