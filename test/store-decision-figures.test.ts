// A decision's measured figures (domain/measured.ts) through a real SQLite store: a new decision keeps
// them typed; a decision an older release stored (before_* / rejected_* evidence keys, the outcome's
// `after` as a plain record, how the move was chosen as keys too, no typed columns) is read back to
// the same figures, and the tuner's history and judge see the same points from either. The new
// decision's evidence leaves those keys out, so what is read of it comes from its typed columns.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SCHEMA_VERSION } from '../store/migrations.js';
import { judge } from '../tuner/judge.js';
import { DEFAULT_THRESHOLDS } from '../tuner/guardrails.js';
import { measuredPoints } from '../tuner/history.js';
import { tune } from '../tuner/decide.js';
import { BASE_CONFIG, BASE_TUNE, gpu, host, makeSteps, makeWindow } from '../tuner/window-fixtures.js';
import type { Decision } from '../domain/decisions.js';
import type { MeasuredPoint } from '../domain/measured.js';
import { openRuns } from './helpers/runs.js';

const dir = mkdtempSync(join(tmpdir(), 'trainpilot-figures-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const config = { ...BASE_CONFIG, num_workers: 1 };
const after = { ...config, num_workers: 2 };

/** The figures an input-bound window at 1 worker measured, typed as this release keeps them. */
const before: MeasuredPoint = {
  batchSize: 64, numWorkers: 1, gradAccumSteps: 1, steps: 55, samplesPerSecond: 355.555556, stepSeconds: 0.18,
  computeSeconds: 0.07, dataWaitRatio: 0.611111, relNoise: 0.004321, memPeakBytes: 3_000_000_000, loss: 1.93,
  lossSigma: 0.012, gpuMemoryUsedBytes: 21_000_000_000, processCpuCores: 1.7, workerBusyRatio: 0.93,
};
const trial: MeasuredPoint = {
  batchSize: 64, numWorkers: 2, gradAccumSteps: 1, steps: 60, samplesPerSecond: 581.818182, stepSeconds: 0.11,
  computeSeconds: 0.07, dataWaitRatio: 0.363636, relNoise: 0.003, memPeakBytes: 3_000_000_000, loss: 1.9,
  lossSigma: 0.011, processCpuCores: 2.6, workerBusyRatio: 0.9,
};

/** The same decision as an older release stored it: figures as evidence keys only (written out, not rendered). */
const LEGACY_EVIDENCE = {
  bottleneck: 'input_bound',
  before_batch_size: 64, before_num_workers: 1, before_grad_accum_steps: 1, before_steps: 55,
  before_samples_per_second: 355.555556, before_step_seconds: 0.18, before_compute_seconds: 0.07,
  before_data_wait_ratio: 0.611111, before_rel_noise: 0.004321, before_mem_peak_bytes: 3_000_000_000,
  before_loss: 1.93, before_loss_sigma: 0.012, before_gpu_memory_used_bytes: 21_000_000_000,
  before_process_cpu_cores: 1.7, before_worker_busy_ratio: 0.93,
  search: 'predicted', predicted_gain: 0.6, safety: false, job_changed_at: 1_764_300_100, b_noise: 140,
};
const LEGACY_AFTER = {
  batch_size: 64, num_workers: 2, grad_accum_steps: 1, steps: 60, samples_per_second: 581.818182, step_seconds: 0.11,
  compute_seconds: 0.07, data_wait_ratio: 0.363636, rel_noise: 0.003, mem_peak_bytes: 3_000_000_000, loss: 1.9,
  loss_sigma: 0.011, worker_busy_ratio: 0.9, process_cpu_cores: 2.6,
};
const LEGACY_ROLLBACK_EVIDENCE = {
  rolled_back_decision: 1, gain_ratio: -0.2, noise_band: 0.02,
  ...Object.fromEntries(Object.entries(LEGACY_EVIDENCE).filter(([k]) => k.startsWith('before_'))),
  ...Object.fromEntries(Object.entries(LEGACY_AFTER).map(([k, v]) => [`rejected_${k}`, v])),
};

const newDecision: Decision = {
  knob: 'num_workers', action: 'increase', reason: 'test', evidence: { bottleneck: 'input_bound' },
  before, configBefore: config, configAfter: after, advice: [], recommendOnly: false,
  basis: { bottleneck: 'input_bound', search: 'predicted', safety: false, predictedGain: 0.6, bNoise: 140, jobChangedAt: 1_764_300_100 },
};

/** A store with one run holding the new-style decision, and a second run whose rows are written as an older release wrote them. */
function stores(path: string) {
  const s = openRuns({ path });
  const fresh = s.registerRun({ name: 'new', pid: null, config, tune: BASE_TUNE }).id;
  const rec = s.applyDecision(fresh, newDecision);
  s.setOutcome(fresh, rec.id, { status: 'kept', gainRatio: 0.636364, note: 'kept', after: trial });
  const old = s.registerRun({ name: 'old', pid: null, config, tune: BASE_TUNE }).id;
  const insert = s.db.prepare(`INSERT INTO decisions (run_id, ts, step, knob, action, reason, evidence, config_before, config_after, advice,
    recommend_only, config_version, outcome) VALUES (?, ?, NULL, 'num_workers', ?, 'test', ?, ?, ?, '[]', 0, ?, ?)`);
  insert.run(old, rec.ts, 'increase', JSON.stringify(LEGACY_EVIDENCE), JSON.stringify(config), JSON.stringify(after), 2,
    JSON.stringify({ status: 'kept', gainRatio: 0.636364, note: 'kept', after: LEGACY_AFTER }));
  insert.run(old, rec.ts + 10, 'rollback', JSON.stringify(LEGACY_ROLLBACK_EVIDENCE), JSON.stringify(after), JSON.stringify(config), 3,
    JSON.stringify({ status: 'pending' }));
  return { s, fresh, old };
}

describe("a decision's measured figures in the store", () => {
  it('keeps a new decision\'s figures typed, and reads an older release\'s keys to the same figures', () => {
    const { s, fresh, old } = stores(join(dir, 'both.db'));
    const [n] = s.decisions(fresh);
    const [o, back] = s.decisions(old);
    expect(n.before).toEqual(before);
    expect(o.before).toEqual(before);
    expect(n.outcome).toMatchObject({ status: 'kept', after: trial });
    expect(o.outcome).toMatchObject({ status: 'kept', after: trial });
    // An older rollback's trial, rejected_*: typed too, as the judge reads it.
    expect(back.rejected).toEqual(trial);
    expect(back.before).toEqual(before);
    // How the move was chosen: typed as stored, or from the keys an older release kept it under.
    expect(n.basis).toEqual(newDecision.basis);
    expect(o.basis).toEqual(newDecision.basis);
    expect(back.basis).toBeUndefined();
    s.close();
  });

  it('the tuner\'s history rebuilds the same measured points from either', () => {
    const { s, fresh, old } = stores(join(dir, 'history.db'));
    const points = (runId: string) => measuredPoints(makeWindow({ decisions: s.decisions(runId).slice(0, 1) }));
    const fromNew = points(fresh);
    expect(fromNew).toHaveLength(2); // before the change, and the outcome's after
    expect(fromNew.map((p) => [p.workers, p.throughput, p.memBytes, p.treeCores])).toEqual([[1, 355.555556, 3e9, 1.7], [2, 581.818182, 3e9, 2.6]]);
    expect(points(old)).toEqual(fromNew);
    s.close();
  });

  it('an older release\'s database is upgraded in place and its decisions judged as a new one would be', () => {
    const path = join(dir, 'upgrade.db');
    const { s, old } = stores(path);
    // Make it the older release's schema: no typed columns.
    s.db.exec('ALTER TABLE decisions DROP COLUMN measured_before; ALTER TABLE decisions DROP COLUMN measured_rejected; ALTER TABLE decisions DROP COLUMN basis;');
    s.db.pragma(`user_version = ${SCHEMA_VERSION - 1}`);
    s.close();
    const s2 = openRuns({ path });
    expect(s2.db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    const [legacy] = s2.decisions(old);
    const fresh = { ...legacy, before, basis: newDecision.basis, evidence: newDecision.evidence, outcome: { status: 'pending' as const } };
    // Version 2 (2 workers) runs 64 samples in 0.15 s: 427/s against the 356/s before, +20 %.
    const w = makeWindow({
      config: after, configVersion: 2, appliedVersion: 2, host: host(), gpus: [gpu()],
      steps: makeSteps({ n: 60, version: 2, durationS: 0.15, dataWaitS: 0.08, jitter: 0.01 }),
    });
    const a = judge({ ...w, decisions: [{ ...legacy, outcome: { status: 'pending' } }] }, { ...legacy, outcome: { status: 'pending' } }, DEFAULT_THRESHOLDS);
    const b = judge({ ...w, decisions: [fresh] }, fresh, DEFAULT_THRESHOLDS);
    expect(a?.outcome).toMatchObject({ status: 'kept' });
    expect(a?.outcome).toEqual(b?.outcome);
    s2.close();
  });

  it('a decision the tuner makes carries its figures typed, and the evidence renders the same numbers', () => {
    const w = makeWindow({ config, host: host(), gpus: [gpu()], steps: makeSteps({ n: 60, durationS: 0.1, dataWaitS: 0.06, jitter: 0.02 }) });
    const d = tune(w, { cpuBudget: { cores: 16, source: 'test' } }).decision!;
    expect(d.before).toMatchObject({ batchSize: 64, numWorkers: 1, steps: expect.any(Number) });
    expect(d.evidence.before_samples_per_second).toBe(d.before!.samplesPerSecond);
    expect(d.evidence.before_data_wait_ratio).toBe(d.before!.dataWaitRatio);
    expect(d.evidence.before_gpu_memory_used_bytes).toBe(d.before!.gpuMemoryUsedBytes);
    const s = openRuns({ path: join(dir, 'tuned.db') });
    const run = s.registerRun({ name: 'tuned', pid: null, config, tune: BASE_TUNE }).id;
    s.applyDecision(run, d);
    expect(s.decisions(run)[0].before).toEqual(d.before);
    s.close();
  });
});
