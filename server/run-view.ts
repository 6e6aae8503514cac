// The JSON shapes the API answers with, built from store records.
import { median } from '../tuner/stats.js';
import { jobWallRate } from '../tuner/throughput.js';
import type { DecisionRecord, StepPoint } from '../tuner/window.js';
import type { RunHub } from './runs/hub.js';
import type { ConfigVersionRecord, RunRecord } from '../store/runs.js';

/** Steps of each rank in the recent window used for a run's summary figures. */
const SUMMARY_WINDOW = 64;

/**
 * A run's summary figures over its newest SUMMARY_WINDOW steps of each rank. Samples/s is the job's
 * over wall time across ranks (tuner/throughput.ts), the figure /metrics shows over its minute;
 * data wait and the median step time are rank 0's (every rank takes the same step time).
 */
export function windowThroughput(steps: readonly StepPoint[]): { samplesPerSecond: number | null; dataWaitRatio: number | null; durationP50: number | null } {
  const recent = lastOfEachRank(steps, SUMMARY_WINDOW);
  const r0 = recent.filter((s) => s.rank === 0);
  const dur = r0.reduce((a, s) => a + s.durationS, 0);
  const wait = r0.reduce((a, s) => a + s.dataWaitS, 0);
  return {
    samplesPerSecond: jobWallRate(recent),
    dataWaitRatio: dur > 0 ? wait / dur : null,
    durationP50: r0.length > 0 ? median(r0.map((s) => s.durationS)) : null,
  };
}

/** The newest `n` steps of every rank, in their order. */
function lastOfEachRank(steps: readonly StepPoint[], n: number): StepPoint[] {
  const seen = new Map<number, number>();
  const out: StepPoint[] = [];
  for (let i = steps.length - 1; i >= 0; i--) {
    const k = seen.get(steps[i].rank) ?? 0;
    if (k >= n) continue;
    seen.set(steps[i].rank, k + 1);
    out.push(steps[i]);
  }
  return out.reverse();
}

export function runView(runs: RunHub, run: RunRecord) {
  const live = runs.live(run);
  const t = windowThroughput(live.recent);
  let decisions = 0;
  for (const c of runs.store.decisionCounts(run.id)) decisions += c.n;
  return {
    id: run.id,
    name: run.name,
    label: runs.label(run),
    pid: run.pid,
    state: run.state,
    created_at: run.createdAt,
    ended_at: run.endedAt,
    config: run.config as Record<string, unknown> | null,
    config_version: run.configVersion,
    applied_version: run.appliedVersion,
    tune: run.tune,
    bottleneck: live.status ? { kind: live.status.bottleneck, evidence: live.status.evidence } : null,
    advice: live.status?.advice ?? [],
    summary: {
      steps: live.stepsTotal,
      samples: live.samplesTotal,
      samples_per_second: t.samplesPerSecond,
      step_duration_seconds_p50: t.durationP50,
      data_wait_ratio: t.dataWaitRatio,
      last_loss: live.lastLoss,
      last_step_ts: live.lastStepTs,
      decisions,
    },
  };
}

export function configView(run: RunRecord, v: ConfigVersionRecord | undefined) {
  return {
    run_id: run.id,
    config_version: run.configVersion,
    config: run.config as Record<string, unknown> | null,
    reason: v?.reason ?? 'no config yet: the job has not said what it runs with',
    source: v?.source ?? 'none',
    decision_id: v?.decisionId ?? null,
    state: run.state,
  };
}

export function stepView(s: StepPoint) {
  return {
    step: s.step, ts: s.ts, duration_s: s.durationS, data_wait_s: s.dataWaitS, samples: s.samples, loss: s.loss,
    mem_peak_bytes: s.memPeakBytes, grad_sq_norm: s.gradSqNorm, grad_sq_norm_small: s.gradSqNormSmall,
    rank: s.rank, world_size: s.worldSize, config_version: s.configVersion,
  };
}

export function decisionView(d: DecisionRecord) {
  return {
    id: d.id, ts: d.ts, step: d.step, knob: d.knob, action: d.action, reason: d.reason,
    evidence: d.evidence as Record<string, unknown>, config_before: d.configBefore as unknown as Record<string, unknown>,
    config_after: d.configAfter as unknown as Record<string, unknown>, advice: d.advice as unknown as Array<Record<string, unknown>>,
    recommend_only: d.recommendOnly, config_version: d.configVersion, outcome: d.outcome as unknown as Record<string, unknown>,
  };
}
