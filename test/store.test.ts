import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SCHEMA_VERSION } from '../store/migrations.js';
import { openStore } from '../store/store.js';
import { sinceStart } from '../server/runs/live.js';
import { openRuns } from './helpers/runs.js';
import { GOOD_RUN } from './helpers/app.js';

const dir = mkdtempSync(join(tmpdir(), 'trainpilot-store-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const config = GOOD_RUN.config;
const tune = { mode: 'auto' as const, knobs: ['batch_size' as const], optimizer: 'adam' as const, lr_scaling: 'auto' as const, keep_global_batch: false, bounds: {} };
const step = (i: number, ts: number) => ({
  step: i, ts, durationS: 0.1, dataWaitS: 0.01, samples: 8, loss: 1, memPeakBytes: null, gradSqNorm: null, gradSqNormSmall: null, rank: 0, worldSize: 1, configVersion: null,
});

describe('store', () => {
  it('creates the directory, uses WAL, and records the schema version', () => {
    const path = join(dir, 'deep', 'er', 's.db');
    const s = openStore({ path });
    expect(s.db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(s.db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    s.close();
  });

  it('refuses a store written by a newer trainpilot', () => {
    const path = join(dir, 'newer.db');
    openStore({ path }).close();
    const raw = new Database(path);
    raw.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    raw.close();
    expect(() => openStore({ path })).toThrow(/newer than this trainpilot knows/);
  });

  it('keeps runs and steps across reopen, and rebuilds live totals', () => {
    const path = join(dir, 'reopen.db');
    const a = openRuns({ path });
    const run = a.registerRun({ name: 'x', pid: null, config, tune });
    a.addSteps(run.id, [step(0, 100), step(1, 101)]);
    a.close();
    const b = openRuns({ path });
    const again = b.getRun(run.id);
    expect(b.live(again)).toMatchObject({ stepsTotal: 2, samplesTotal: 16, lastLoss: 1 });
    expect(b.readWindow(run.id)!.steps.map((s) => s.step)).toEqual([0, 1]);
    b.close();
  });

  it("rebuilds the start config's tally after a reopen, and counts the first batch after it once", () => {
    const path = join(dir, 'reopen-start.db');
    const a = openRuns({ path });
    const run = a.registerRun({ name: 'x', pid: null, config, tune });
    // 30 steps of the start config (version 1), the first 5 slow (a loader filling up), then 20 of version 2.
    const v = (i: number, version: number, duration: number, samples: number) => ({ ...step(i, 100 + i), durationS: duration, samples, configVersion: version });
    a.addSteps(run.id, Array.from({ length: 30 }, (_, i) => v(i, 1, i < 5 ? 1 : 0.1, 8)));
    a.addSteps(run.id, Array.from({ length: 20 }, (_, i) => v(30 + i, 2, 0.1, 16)));
    const live = sinceStart(a.live(a.getRun(run.id)))!;
    expect(live).toMatchObject({ startVersion: 1, nowVersion: 2 });
    expect(live.startSamplesPerSecond).toBeCloseTo(80, 9); // 25 steady steps of 8 samples in 0.1 s
    expect(live.nowSamplesPerSecond).toBeCloseTo(160, 9);
    a.close();
    const b = openRuns({ path });
    b.addSteps(run.id, [v(50, 2, 0.1, 16)]);
    const again = b.live(b.getRun(run.id));
    expect(again.stepsTotal).toBe(51);
    const rebuilt = sinceStart(again)!;
    expect(rebuilt).toMatchObject({ startVersion: 1, nowVersion: 2 });
    expect(rebuilt.startSamplesPerSecond).toBeCloseTo(80, 9);
    expect(rebuilt.ratio).toBeCloseTo(2, 9);
    b.close();
  });

  it("hands the tuner the run's newest norm-bearing steps beyond its recent window", () => {
    const a = openRuns({ path: ':memory:' });
    const run = a.registerRun({ name: 'x', pid: null, config, tune });
    a.addSteps(run.id, [{ ...step(0, 100), gradSqNorm: 2, gradSqNormSmall: 3 }]);
    // More steps than the recent window keeps (RECENT_STEPS), none with norms.
    a.addSteps(run.id, Array.from({ length: 600 }, (_, i) => step(1 + i, 101 + i)));
    const w = a.readWindow(run.id)!;
    expect(w.steps.some((s) => s.step === 0)).toBe(false);
    expect(w.normSteps!.map((s) => [s.step, s.gradSqNorm, s.gradSqNormSmall])).toEqual([[0, 2, 3]]);
    a.close();
  });

  it('applies retention to old samples, steps and ended runs, and keeps the rest', () => {
    let now = 1_000_000;
    const s = openRuns({ path: join(dir, 'retention.db'), now: () => now });
    const old = s.registerRun({ name: 'old', pid: null, config, tune });
    s.addSteps(old.id, [step(0, now)]);
    s.addEvent(old.id, { kind: 'finished', step: null, ts: now, data: {} });
    const live = s.registerRun({ name: 'live', pid: null, config, tune });
    s.addSteps(live.id, [step(0, now), step(1, now + 86400 * 8)]);
    now += 86400 * 8;
    const r = s.applyRetention(86400 * 7);
    expect(r.runs).toEqual([old.id]);
    expect(r.steps).toBe(2);
    expect(() => s.getRun(old.id)).toThrow(/no run/);
    expect(s.steps(live.id, -1, 10).map((x) => x.step)).toEqual([1]);
    s.close();
  });

  it('sweeps retention in bounded parts to what one transaction deletes, and can be cut short', () => {
    const fill = (path: string) => {
      let now = 1_000_000;
      const s = openStore({ path, now: () => now });
      const old = s.registerRun({ name: 'old', pid: null, config, tune });
      const live = s.registerRun({ name: 'live', pid: null, config, tune });
      const two = s.registerRun({ name: 'two ranks', pid: null, config, tune });
      // 4500 old steps (more than two windows), then new ones; a run of two ranks; an ended run.
      for (let b = 0; b < 45; b++) s.addSteps(live.id, Array.from({ length: 100 }, (_, i) => step(b * 100 + i, now + (b * 100 + i) / 1000)));
      s.addSteps(live.id, [step(4500, now + 86400 * 8), step(4501, now + 86400 * 8)]);
      s.addSteps(two.id, [0, 1, 2].flatMap((i) => [{ ...step(i, now), rank: 0 }, { ...step(i, now), rank: 1 }]));
      s.addSteps(old.id, [step(0, now)]);
      s.addEvent(old.id, { kind: 'finished', step: null, ts: now, data: {} });
      const sample = s.db.prepare(`INSERT INTO samples (ts, source, run_id, key, data) VALUES (?, 'host', NULL, '', '{}')`);
      for (let i = 0; i < 4500; i++) sample.run(now + i * 20);
      now += 86400 * 8;
      return s;
    };
    const once = fill(join(dir, 'retention-once.db'));
    const want = once.applyRetention(86400 * 7);
    const parts = fill(join(dir, 'retention-parts.db'));
    const sweep = parts.retentionSweep(86400 * 7);
    let calls = 0;
    while (sweep.next()) calls++;
    expect(calls).toBeGreaterThan(4);
    const named = (r: typeof want, st: typeof once) => ({ ...r, runs: r.runs.map((id) => id.length) , left: st.listRuns().map((x) => x.name).sort() });
    expect(named(sweep.result(), parts)).toEqual(named(want, once));
    expect(want.steps).toBeGreaterThanOrEqual(4500 + 6);
    expect(want.samples).toBeGreaterThan(2000);
    expect(want.samples).toBeLessThan(4500);
    for (const s of [once, parts]) {
      const rows = s.db.prepare('SELECT runs.name, steps.step FROM steps JOIN runs ON runs.id = steps.run_id ORDER BY 1, 2').all();
      expect(rows).toEqual([{ name: 'live', step: 4500 }, { name: 'live', step: 4501 }]);
      expect(s.db.prepare('SELECT count(*) FROM samples').pluck().get()).toBe(4500 - want.samples);
    }
    // Cut short after a part: what went is gone, the rest is intact, and the next sweep finishes.
    const cut = fill(join(dir, 'retention-cut.db'));
    const first = cut.retentionSweep(86400 * 7);
    first.next();
    const rest = cut.retentionSweep(86400 * 7);
    while (rest.next());
    expect(cut.db.prepare('SELECT count(*) FROM steps').pluck().get()).toBe(2);
    for (const s of [once, parts, cut]) s.close();
  });

  it('marks a run exited when its process goes away, once', () => {
    const s = openRuns({ path: join(dir, 'exit.db') });
    const run = s.registerRun({ name: 'p', pid: 4242, config: null, tune });
    s.processExited(run.id, 4242);
    s.processExited(run.id, 4242);
    expect(s.getRun(run.id).state).toBe('exited');
    expect(s.events(run.id).filter((e) => e.kind === 'exited')).toHaveLength(1);
    s.close();
  });

  it('gives a watch-only run a window that can only advise', () => {
    const s = openRuns({ path: join(dir, 'watch.db') });
    const run = s.registerRun({ name: 'w', pid: 1, config: null, tune });
    const w = s.readWindow(run.id)!;
    expect(w.tune.mode).toBe('advise');
    expect(w.tune.knobs).toEqual([]);
    const d = s.applyDecision(run.id, {
      knob: 'num_workers', action: 'increase', reason: 'r', evidence: {}, configBefore: w.config,
      configAfter: { ...w.config, num_workers: 2 }, advice: [], recommendOnly: false,
    });
    expect(d.configVersion).toBeNull();
    expect(s.getRun(run.id).configVersion).toBe(0);
    s.close();
  });
});

describe('how a run ends', () => {
  it('lets finished or failed replace an exited seen first, and nothing replace finished', () => {
    const s = openRuns({ path: join(dir, 'end.db') });
    const run = s.registerRun({ name: 'e', pid: 4243, config, tune });
    s.processExited(run.id, 4243);
    expect(s.getRun(run.id).state).toBe('exited');
    const endedAt = s.getRun(run.id).endedAt;
    s.addEvent(run.id, { kind: 'failed', step: null, ts: endedAt! + 1, data: { exit_code: 3 } });
    expect(s.getRun(run.id)).toMatchObject({ state: 'failed', endedAt });
    s.addEvent(run.id, { kind: 'finished', step: null, ts: endedAt! + 2, data: {} });
    expect(s.getRun(run.id).state).toBe('failed');
    s.close();
  });
});

describe('process readings in the window', () => {
  it('keeps the last 30 process-tree readings of a run with their time', () => {
    const s = openRuns({ path: join(dir, 'proc.db') });
    const run = s.registerRun({ name: 'p', pid: 5000, config, tune });
    for (let i = 0; i < 40; i++) {
      s.recordSnapshot({
        ts: 1000 + i, host: null, gpus: null, health: [],
        processes: [{ runId: run.id, pid: 5000, alive: true, cpuSecondsTotal: i, residentMemoryBytes: 1e8, children: [], workerCount: 2, gpuMemoryBytes: {} }],
      });
    }
    const w = s.readWindow(run.id)!;
    expect(w.process?.cpuSecondsTotal).toBe(39);
    expect(w.processHistory?.map((p) => p.ts)).toEqual(Array.from({ length: 30 }, (_, i) => 1010 + i));
    s.close();
  });
});

describe('what the tuner reads each tick', () => {
  // events, decisions, OOM sizes and the active list are kept in memory between writes:
  // every write must show in the next read, and a rolled-back write must never show.
  const decision = (b: number) => ({
    knob: 'batch_size' as const, action: 'increase' as const, reason: 'test', evidence: { b },
    configBefore: config, configAfter: { ...config, batch_size: b }, advice: [], recommendOnly: false,
  });

  it('follows every write to events, decisions and outcomes', () => {
    const s = openRuns({ path: join(dir, 'tick-cache.db') });
    const run = s.registerRun({ name: 'c', pid: null, config, tune });
    const w0 = s.readWindow(run.id)!;
    expect(w0.oomBatchSizes).toEqual([]);
    expect(w0.decisions).toEqual([]);
    expect(w0.events.map((e) => e.kind)).toEqual(['started']);

    s.addEvent(run.id, { kind: 'oom', step: 3, ts: 1, data: { batch_size: 96 } });
    const w1 = s.readWindow(run.id)!;
    expect(w1.oomBatchSizes).toEqual([96]);
    expect(w1.events.map((e) => e.kind)).toEqual(['started', 'oom']);

    const rec = s.applyDecision(run.id, decision(80));
    expect(s.readWindow(run.id)!.decisions.map((d) => [d.id, d.outcome.status])).toEqual([[rec.id, 'pending']]);
    s.setOutcome(run.id, rec.id, { status: 'kept', gain: 0.1 } as never);
    expect(s.readWindow(run.id)!.decisions[0].outcome.status).toBe('kept');
    expect(s.decisions(run.id).map((d) => d.outcome.status)).toEqual(['kept']);

    // What callers get can be changed without touching what the next caller sees.
    const mine = s.readWindow(run.id)!.events;
    mine.pop();
    expect(s.readWindow(run.id)!.events).toHaveLength(2);
    expect(() => { (s.readWindow(run.id)!.events[0] as { kind: string }).kind = 'x'; }).toThrow(TypeError);
    s.close();
  });

  it('never keeps what a rolled-back transaction wrote', () => {
    const s = openRuns({ path: join(dir, 'tick-rollback.db') });
    const run = s.registerRun({ name: 'kept', pid: null, config, tune });
    expect(s.activeRuns().map((r) => r.id)).toEqual([run.id]);
    let ghost = '';
    expect(() => s.db.transaction(() => {
      ghost = s.registerRun({ name: 'ghost', pid: null, config, tune }).id;
      s.addEvent(run.id, { kind: 'oom', step: 1, ts: 1, data: { batch_size: 64 } });
      expect(s.activeRuns()).toHaveLength(2); // seen inside the transaction…
      expect(s.readWindow(run.id)!.oomBatchSizes).toEqual([64]);
      throw new Error('roll back');
    })()).toThrow('roll back');
    expect(ghost).not.toBe('');
    expect(s.activeRuns().map((r) => r.id)).toEqual([run.id]); // …and gone after it
    expect(s.readWindow(run.id)!.oomBatchSizes).toEqual([]);
    expect(s.readWindow(run.id)!.events.map((e) => e.kind)).toEqual(['started']);
    s.close();
  });

  it('lists runs as they start and end, and forgets events retention removed', () => {
    let now = 1_000_000;
    const s = openRuns({ path: join(dir, 'tick-active.db'), now: () => now });
    const a = s.registerRun({ name: 'a', pid: null, config, tune });
    expect(s.activeRuns().map((r) => r.name)).toEqual(['a']);
    const b = s.registerRun({ name: 'b', pid: null, config, tune });
    expect(s.activeRuns().map((r) => r.name).sort()).toEqual(['a', 'b']);
    s.addEvent(a.id, { kind: 'finished', step: null, ts: now, data: {} });
    expect(s.activeRuns().map((r) => r.name)).toEqual(['b']);
    s.addEvent(b.id, { kind: 'oom', step: 1, ts: now, data: { batch_size: 32 } });
    expect(s.readWindow(b.id)!.oomBatchSizes).toEqual([32]);
    now += 86400 * 8;
    s.applyRetention(86400 * 7);
    expect(s.readWindow(b.id)!.oomBatchSizes).toEqual([]);
    expect(s.readWindow(b.id)!.events).toEqual([]);
    s.close();
  });
});
