// Guardrails and the loop: judging changes, rollback, loss jumps, cooldown, advise and off.
import { describe, expect, it } from 'vitest';
import { tune } from '../tuner/decide.js';
import { createTunerLoop, type TunerPorts } from '../tuner/loop.js';
import { openRuns } from './helpers/runs.js';
import { BASE_CONFIG, BASE_TUNE, gpu, host, makeSteps, makeWindow, record, figures } from '../tuner/window-fixtures.js';
import type { DecisionRecord } from '../domain/decisions.js';
import type { RunConfig } from '../domain/config.js';
import type { Window } from '../tuner/window.js';

const c64: RunConfig = { ...BASE_CONFIG, batch_size: 64 };
const c128: RunConfig = { ...BASE_CONFIG, batch_size: 128 };

/** A window where decision 1 moved 64 → 128 and version 2 has run `n` steps at `stepS`. */
function afterIncrease(stepS: number, opts: { loss?: number; n?: number; action?: DecisionRecord['action'] } = {}): Window {
  const before = makeSteps({ n: 40, durationS: 0.1, samples: 64, version: 1, loss: 2 });
  const after = makeSteps({ n: opts.n ?? 40, durationS: stepS, samples: 128, version: 2, startStep: 41, startTs: before.at(-1)!.ts, loss: opts.loss ?? 1.98 });
  const d = record({
    id: 1, configVersion: 2, ts: before.at(-1)!.ts, action: opts.action ?? 'increase', configBefore: c64, configAfter: c128,
    before: figures({ batchSize: 64, samplesPerSecond: 640, computeSeconds: 0.1, stepSeconds: 0.1, relNoise: 0, loss: 2, lossSigma: 0.01 }),
  });
  return makeWindow({ steps: [...before, ...after], config: c128, configVersion: 2, appliedVersion: 2, decisions: [d], gpus: [gpu({ utilizationRatio: 0.99 })] });
}

describe('judging a change against the window before it', () => {
  it('keeps a batch increase that gains ≥ 5 %', () => {
    const r = tune(afterIncrease(0.16)); // 128 / 0.16 = 800/s vs 640/s: +25 %
    expect(r.outcomes).toEqual([{ decisionId: 1, outcome: expect.objectContaining({ status: 'kept', gainRatio: 0.25 }) }]);
    expect(r.decision?.action).not.toBe('rollback');
  });

  it('rolls back a batch increase that gains under 5 %', () => {
    const r = tune(afterIncrease(0.195)); // +2.6 %
    expect(r.outcomes[0].outcome.status).toBe('rolled_back');
    expect(r.decision).toMatchObject({ action: 'rollback', knob: 'batch_size', configAfter: c64, recommendOnly: false });
    expect(r.decision?.evidence.rolled_back_decision).toBe(1);
  });

  it('rolls back when the loss jumps, whatever the throughput', () => {
    const r = tune(afterIncrease(0.1, { loss: 3.5 }));
    expect(r.outcomes[0].outcome).toMatchObject({ status: 'rolled_back', note: expect.stringMatching(/loss jumped/) });
    expect(r.decision?.action).toBe('rollback');
  });

  it('keeps a decrease that costs nothing beyond noise, rolls back one that costs', () => {
    expect(tune(afterIncrease(0.2, { action: 'decrease' })).outcomes[0].outcome.status).toBe('kept');
    expect(tune(afterIncrease(0.25, { action: 'decrease' })).outcomes[0].outcome.status).toBe('rolled_back');
  });

  it('waits for enough steps of the new version before judging', () => {
    const r = tune(afterIncrease(0.16, { n: 15 }));
    expect(r.outcomes).toEqual([]);
    expect(r.decision).toBeUndefined();
    expect(String(r.status.evidence.tuner)).toMatch(/measuring decision 1/);
  });

  it('does not roll back into a size at or above an OOM ceiling', () => {
    // Decision 1 shrank 128 → 64 and throughput fell; but 128 has since run out of memory.
    const before = makeSteps({ n: 40, durationS: 0.2, samples: 128, version: 1 });
    const after = makeSteps({ n: 40, durationS: 0.2, samples: 64, version: 2, startStep: 41, startTs: before.at(-1)!.ts });
    const d = record({ id: 1, configVersion: 2, ts: before.at(-1)!.ts, action: 'decrease', configBefore: c128, configAfter: c64,
      before: figures({ batchSize: 128, samplesPerSecond: 640, computeSeconds: 0.2, stepSeconds: 0.2, relNoise: 0 }) });
    const w = makeWindow({ steps: [...before, ...after], config: c64, configVersion: 2, appliedVersion: 2, decisions: [d], oomBatchSizes: [128] });
    const r = tune(w);
    expect(r.outcomes[0].outcome).toMatchObject({ status: 'kept', note: expect.stringMatching(/OOM ceiling/) });
    expect(r.decision?.configAfter.batch_size ?? 0).toBeLessThan(128);
  });
});

describe('guardrails', () => {
  const underused = () => makeWindow({ gpus: [gpu({ utilizationRatio: 0.4 })], host: host() });

  it('waits out the cooldown after a change', () => {
    const w = underused();
    const recent = record({ id: 1, ts: w.now - 1, configVersion: 1, configBefore: c64, configAfter: c64, outcome: { status: 'kept', gainRatio: 0.1 } });
    const r = tune({ ...w, decisions: [recent] });
    expect(r.decision).toBeUndefined();
    expect(r.status.evidence.tuner).toBe('cooldown');
    expect(tune({ ...w, decisions: [{ ...recent, ts: w.now - 60 }] }).decision?.knob).toBe('batch_size');
  });

  it('advise mode recommends, never changes the config, and does not repeat itself', () => {
    const w = { ...underused(), tune: { ...BASE_TUNE, mode: 'advise' as const } };
    const r = tune(w);
    expect(r.decision).toMatchObject({ recommendOnly: true, knob: 'batch_size' });
    const again = tune({ ...w, decisions: [record({ ...r.decision!, id: 1, configVersion: null })] });
    expect(again.decision?.knob ?? 'none').toBe('none');
  });

  it('off does nothing but classify', () => {
    const w = { ...afterIncrease(0.195), tune: { ...BASE_TUNE, mode: 'off' as const } };
    const r = tune(w);
    expect(r.decision).toBeUndefined();
    expect(r.outcomes).toEqual([]);
    expect(r.status.bottleneck).toBe('compute_bound');
  });

  it('gives advice once per bottleneck when no knob can help', () => {
    // Storage-bound, and the job lets the tuner turn neither workers nor batch size.
    const w = makeWindow({ steps: makeSteps({ n: 40, durationS: 0.1, dataWaitS: 0.05 }), host: host({ cpuIowaitRatio: 0.4 }), tune: { ...BASE_TUNE, knobs: ['learning_rate'] } });
    const r = tune(w);
    expect(r.decision).toMatchObject({ knob: 'none', action: 'advise', recommendOnly: true });
    expect(r.decision?.advice.map((a) => a.code)).toContain('faster_storage');
    const again = tune({ ...w, decisions: [record({ ...r.decision!, id: 1, configVersion: null })] });
    expect(again.decision).toBeUndefined();
    expect(again.status.advice.length).toBeGreaterThan(0);
  });

  it('a watch-only run (no config from the job, as the store gives it) is classified and advised, never changed', () => {
    const w = makeWindow({
      config: { batch_size: 0, learning_rate: 0, num_workers: 0, grad_accum_steps: 1 },
      tune: { ...BASE_TUNE, mode: 'advise', knobs: [] },
      steps: makeSteps({ n: 40, durationS: 0.1, dataWaitS: 0.05 }),
      host: host(),
    });
    const r = tune(w);
    expect(r.status.bottleneck).toBe('input_bound');
    expect(r.decision).toMatchObject({ knob: 'none', recommendOnly: true });
    expect(r.decision?.advice.map((a) => a.code)).toContain('more_cpu');
  });

  it('holds every decision to the user bounds', () => {
    const w = { ...underused(), tune: { ...BASE_TUNE, bounds: { batch_size: { min: 8, max: 100 } } } };
    expect(tune(w).decision?.configAfter.batch_size).toBe(100);
  });
});

describe('tuner loop', () => {
  it('reads, decides and writes through the ports, one pass per tick', () => {
    const w = makeWindow({ gpus: [gpu({ utilizationRatio: 0.4 })] });
    const runs = openRuns({ path: ':memory:', now: () => w.now });
    const run = runs.registerRun({ name: 'run-1', pid: null, config: w.config, tune: w.tune });
    runs.addSteps(run.id, w.steps);
    runs.recordSnapshot({ ts: w.now, host: null, gpus: w.gpus, health: [], processes: [] });
    const loop = createTunerLoop({ intervalS: 1, ports: runs.ports, cpuBudget: { cores: 8, source: 'test' } });
    const status = () => runs.live(runs.getRun(run.id)).status;
    loop.tick();
    expect(runs.decisions(run.id)).toHaveLength(1);
    expect(runs.getRun(run.id).configVersion).toBe(2);
    expect(status()?.bottleneck).toBe('gpu_underutilized');
    loop.tick();
    expect(runs.decisions(run.id)).toHaveLength(1); // waits for the job to apply version 2
    expect(status()?.evidence.tuner).toMatch(/measuring decision 1|waiting/);
    runs.close();
  });

  it('the timed pass goes over a run whose inputs did not change only every 5 s; at once after steps, an event, a decision or a config', () => {
    let now = 1000;
    const w = makeWindow({ gpus: [gpu({ utilizationRatio: 0.4 })] });
    const runs = openRuns({ path: ':memory:', now: () => now });
    const run = runs.registerRun({ name: 'idle', pid: null, config: w.config, tune: { ...w.tune, mode: 'off' } });
    runs.addSteps(run.id, w.steps.map((x) => ({ ...x, ts: now - 60 + x.step * 0.1 })));
    runs.recordSnapshot({ ts: now, host: null, gpus: w.gpus, health: [], processes: [] });
    const passes: number[] = [];
    const ports: TunerPorts = { ...runs.ports, setStatus: (id, st) => { passes.push(now); runs.ports.setStatus(id, st); } };
    const loop = createTunerLoop({ intervalS: 1, ports, cpuBudget: { cores: 8, source: 'test' }, now: () => now });
    const second = (f?: () => void) => {
      now += 1;
      f?.();
      runs.recordSnapshot({ ts: now, host: null, gpus: w.gpus, health: [], processes: [] }); // readings change every tick
      loop.pass();
    };
    loop.pass(); // 1000: the first pass
    for (let i = 0; i < 6; i++) second(); // 1001–1006: unchanged; again at 1005
    expect(passes).toEqual([1000, 1005]);
    const last = w.steps.at(-1)!.step;
    second(() => runs.addSteps(run.id, [{ ...w.steps.at(-1)!, step: last + 1, ts: now }])); // 1007
    second(); // 1008
    second(() => runs.addEvent(run.id, { kind: 'epoch_end', step: last + 1, ts: now, data: { epoch: 1 } })); // 1009
    second(() => runs.setConfig(run.id, { ...w.config, batch_size: w.config.batch_size * 2 }, { expectedVersion: null, tune: null, source: 'user', reason: 'test' })); // 1010
    second(); // 1011
    expect(passes).toEqual([1000, 1005, 1007, 1009, 1010]);
    // Ports without inputs (simulations, replays): every run on every pass, as before.
    passes.length = 0;
    const every = createTunerLoop({ intervalS: 1, ports: { ...ports, inputs: undefined }, cpuBudget: { cores: 8, source: 'test' }, now: () => now });
    for (let i = 0; i < 3; i++) { now += 1; every.pass(); }
    expect(passes).toEqual([1012, 1013, 1014]);
    runs.close();
  });

  it('keeps going when one run throws', () => {
    const seen: string[] = [];
    const ports: TunerPorts = {
      activeRunIds: () => ['bad', 'good'],
      readWindow: (id) => { if (id === 'bad') throw new Error('boom'); return makeWindow({ runId: id }); },
      applyDecision: (_id, d) => record({ ...d }),
      setOutcome: () => {},
      setStatus: (id) => { seen.push(id); },
    };
    const errors: string[] = [];
    createTunerLoop({ intervalS: 1, ports, cpuBudget: { cores: 4, source: 't' }, onError: (id) => errors.push(id) }).tick();
    expect(errors).toEqual(['bad']);
    expect(seen).toEqual(['good']);
  });
});
