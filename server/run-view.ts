// The JSON shapes the API answers with, built from store records.
import { median } from '../tuner/stats.js';
import { jobStepRate } from '../tuner/throughput.js';
import type { DecisionRecord } from '../domain/decisions.js';
import { pointEvidence } from '../domain/measured.js';
import type { Static } from 'typebox';
import type { MeasuredPointView } from './schemas/decisions.js';
import { finiteLoss, type StepPoint } from '../domain/steps.js';
import type { RunHub } from './runs/hub.js';
import { joulesPerSample } from './runs/energy.js';
import { sinceStart } from './runs/live.js';
import type { ConfigVersionRecord, RunRecord } from '../store/runs.js';

/** Rank-0 steps of the recent window used for a run's summary figures. */
const SUMMARY_WINDOW = 64;

/**
 * A run's summary figures over its newest SUMMARY_WINDOW rank-0 steps (every rank takes the same
 * step time). Samples/s is the job's over step time (tuner/throughput.ts), as the report and the
 * tuner show it: rank 0's samples × world size over its summed step durations. /metrics shows the
 * job's over wall time; on a job without pauses between steps the two agree.
 */
export function windowThroughput(steps: readonly StepPoint[]): { samplesPerSecond: number | null; dataWaitRatio: number | null; durationP50: number | null } {
  const r0 = steps.filter((s) => s.rank === 0).slice(-SUMMARY_WINDOW);
  const rate = jobStepRate(r0);
  const wait = r0.reduce((a, s) => a + s.dataWaitS, 0);
  return {
    samplesPerSecond: rate.samplesPerSecond,
    dataWaitRatio: rate.seconds > 0 ? wait / rate.seconds : null,
    durationP50: r0.length > 0 ? median(r0.map((s) => s.durationS)) : null,
  };
}

/** The run view's `ranks` (DESIGN §4): every rank this sidecar knows of, stragglers marked. */
export function ranksView(runs: RunHub, run: RunRecord) {
  const { figures, stragglers } = runs.rankViews(run);
  const slow = new Set(stragglers?.ranks ?? []);
  return figures.map((f) => ({
    rank: f.rank, node: f.node, samples_per_second: f.samplesPerSecond, step_seconds: f.stepSeconds,
    data_wait_ratio: f.dataWaitRatio, last_step: f.lastStep, straggler: slow.has(f.rank), pid: f.pid,
    process: f.process && { alive: f.process.alive, cpu_seconds_total: f.process.cpuSecondsTotal, resident_memory_bytes: f.process.residentMemoryBytes, workers: f.process.workerCount },
    seen_at: f.seenAt,
  }));
}

export function runView(runs: RunHub, run: RunRecord) {
  const live = runs.live(run);
  const ranks = ranksView(runs, run);
  const t = windowThroughput(live.recent);
  const since = sinceStart(live);
  let decisions = 0;
  for (const c of runs.decisionCounts(run.id)) decisions += c.n;
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
      last_loss: finiteLoss(live.lastLoss),
      last_step_ts: live.lastStepTs,
      decisions,
      // DESIGN §11: the run's GPU energy over its steps (null without GPUs attributed to the run).
      energy_joules: live.energy?.joules ?? null,
      joules_per_sample: joulesPerSample(live.energy),
      energy_gpus: live.energy?.gpus ?? null,
      since_start: since && {
        start_config_version: since.startVersion, start_samples_per_second: since.startSamplesPerSecond,
        config_version: since.nowVersion, samples_per_second: since.nowSamplesPerSecond, ratio: since.ratio,
      },
    },
    ...(ranks.length > 0 ? { ranks } : {}),
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
    step: s.step, ts: s.ts, duration_s: s.durationS, data_wait_s: s.dataWaitS, samples: s.samples, loss: finiteLoss(s.loss),
    ...(s.loss !== null && !Number.isFinite(s.loss) ? { loss_non_finite: true } : {}),
    mem_peak_bytes: s.memPeakBytes, grad_sq_norm: s.gradSqNorm, grad_sq_norm_small: s.gradSqNormSmall,
    rank: s.rank, world_size: s.worldSize, config_version: s.configVersion,
  };
}

/**
 * A decision for the API. Its figures are typed in the store (domain/measured.ts); the API keeps the
 * shapes other programs read: `evidence.before_*` and `outcome.after` with snake-case keys, and, as
 * an addition, `measured_before` (the same figures as the before_* keys, without the prefix).
 */
export function decisionView(d: DecisionRecord) {
  const o = d.outcome;
  const outcome = 'after' in o && o.after ? { ...o, after: pointEvidence(o.after) } : o;
  return {
    id: d.id, ts: d.ts, step: d.step, knob: d.knob, action: d.action, reason: d.reason,
    evidence: d.evidence as Record<string, unknown>, config_before: d.configBefore as unknown as Record<string, unknown>,
    config_after: d.configAfter as unknown as Record<string, unknown>, advice: d.advice as unknown as Array<Record<string, unknown>>,
    recommend_only: d.recommendOnly, config_version: d.configVersion, outcome: outcome as unknown as Record<string, unknown>,
    measured_before: d.before ? (pointEvidence(d.before) as Static<typeof MeasuredPointView>) : null,
  };
}
