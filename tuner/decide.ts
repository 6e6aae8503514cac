// One pass of the tuner over one run's window: back off an OOM, judge the last change, then the
// safety moves, then the search (search.ts), then the guardrails. Pure: the loop does the writing.
import { adviceFor, type AdviceContext } from './advice.js';
import { goodputShrink, memoryPressure, oomBackoff } from './batch.js';
import { cpuUse, type CpuBudget } from './budget.js';
import { classify, deviceCapacity, runGpus, type BottleneckKind, type Classification } from './classify.js';
import { noiseScale } from './goodput.js';
import { fmtPercent } from './format.js';
import { DEFAULT_THRESHOLDS, inCooldown, knobEnabled, preciseEnough, violation, type TunerThresholds } from './guardrails.js';
import { judge } from './judge.js';
import { lateLossRollback } from './late-loss.js';
import { changes, measuredPoints, pointFromMeasurement } from './history.js';
import { measure, measuredPoint, MIN_MEASURE_STEPS, type Measurement } from './measure.js';
import type { Proposal } from './proposal.js';
import { search } from './search.js';
import type { Advice, Decision, DecisionOutcome } from '../domain/decisions.js';
import { pointEvidence } from '../domain/measured.js';
import { LOADER_KNOBS, type RunConfig } from '../domain/config.js';
import type { Window } from './window.js';
import { hostMemoryRelief, idleWorkers, surplusWorkers } from './workers.js';
import { recordedChange } from './job-change.js';
import { loaderKnobTrial, persistentWorkersMove } from './loader-knobs.js';

function latest(a: number | null, b: number | null): number | null {
  return a === null ? b : b === null ? a : Math.max(a, b);
}

export interface TuneOptions {
  cpuBudget?: CpuBudget | null;
  settings?: Partial<TunerThresholds>;
}

export interface RunStatusUpdate {
  bottleneck: BottleneckKind;
  evidence: Record<string, unknown>;
  advice: Advice[];
}

export interface TuneResult {
  status: RunStatusUpdate;
  outcomes: Array<{ decisionId: number; outcome: DecisionOutcome }>;
  decision?: Decision;
}

/** Bottlenecks worth an advice-only entry in the decision log when no knob can help. */
const ADVISE_ON = new Set<BottleneckKind>(['input_bound', 'io_bound', 'cpu_saturated', 'host_memory_pressure', 'gpu_memory_pressure', 'gpu_throttled', 'gpu_underutilized', 'tensor_cores_idle']);

export function tune(w: Window, opts: TuneOptions = {}): TuneResult {
  const s: TunerThresholds = { ...DEFAULT_THRESHOLDS, ...opts.settings };
  const budget = opts.cpuBudget ?? null;
  const m = measure(w, w.appliedVersion);
  const cls = classify(w, { cpuBudget: budget, measurement: m });
  const ctx: AdviceContext = {};
  const outcomes: TuneResult['outcomes'] = [];
  const done = (state: string, decision?: Decision): TuneResult => {
    const bad = decision && violation(w, decision, budget);
    if (bad) return done(`withheld a decision: ${bad}`);
    // advise never changes the config, whatever the decision (a rollback included).
    if (decision && w.tune.mode === 'advise') decision = { ...decision, recommendOnly: true };
    return {
      // The status lists every remedy that fits now; a decision carries only those not given before.
      status: { bottleneck: cls.bottleneck, evidence: { ...cls.evidence, tuner: state }, advice: adviceFor(cls, { ...ctx, includeAdvised: true }, w) },
      outcomes,
      ...(decision ? { decision: withAdvice(decision, adviceFor(cls, ctx, w)) } : {}),
    };
  };
  if (w.tune.mode === 'off') return done('off: observing only');

  const gpuMem = gpuMemoryUsed(w);
  const use = cpuUse(w.processHistory, w.config.num_workers);
  const current = m && m.steps >= MIN_MEASURE_STEPS
    ? pointFromMeasurement(m, gpuMem, m.lastTs, { workerBusy: use?.workerBusyRatio ?? null, treeCores: use?.treeCores ?? null })
    : undefined;
  const points = measuredPoints(w, current);

  // An OOM outranks everything: cooldown, pending versions, measurements.
  if (knobEnabled(w, 'batch_size')) {
    const oom = oomBackoff(w, points);
    if (oom?.doesNotFit) ctx.doesNotFitAtMinBatch = true;
    if (oom?.proposal) {
      for (const d of changes(w)) {
        if (d.outcome.status === 'pending' && d.configVersion === w.configVersion) {
          outcomes.push({ decisionId: d.id, outcome: { status: 'rolled_back', gainRatio: -1, note: `out of memory at batch ${w.config.batch_size}` } });
        }
      }
      return emit(w, cls, m, oom.proposal, done, 'oom back-off');
    }
  }

  // Judge the newest change; older pending ones were overtaken.
  const ch = changes(w);
  const last = ch.at(-1);
  for (const d of ch.slice(0, -1)) {
    if (d.outcome.status === 'pending') outcomes.push({ decisionId: d.id, outcome: { status: 'superseded', note: 'a later change came first' } });
  }
  if (last && last.outcome.status === 'pending') {
    const j = judge(w, last, s);
    if (!j) return done(`measuring decision ${last.id} (version ${last.configVersion})`);
    outcomes.push({ decisionId: j.decisionId, outcome: j.outcome });
    if (j.rollback) return done(`rolling back decision ${last.id}`, j.rollback);
    // The policies below see the verdict just reached, as the next pass will.
    w = { ...w, decisions: w.decisions.map((d) => (d.id === j.decisionId ? { ...d, outcome: j.outcome } : d)) };
  }
  // A kept change under which the loss later turns non-finite, again and again: undone (late-loss.ts).
  const newest = changes(w).at(-1);
  const late = newest ? lateLossRollback(w, newest) : undefined;
  if (newest && late) {
    outcomes.push({ decisionId: newest.id, outcome: late.outcome });
    return done(`rolling back decision ${newest.id}`, late.rollback);
  }
  if (w.configVersion > w.appliedVersion) return done(`waiting for the job to apply version ${w.configVersion}`);
  if (!m || m.steps < MIN_MEASURE_STEPS) return done(`measuring version ${w.appliedVersion}`);

  const noise = noiseScale(m);
  const batchInputs = { w, m, cls, points, capacity: deviceCapacity(w), noise, settings: s };
  const workerInputs = { w, m, cls, budget, settings: s };
  // Safety and resource moves first: memory pressure, host memory, idle workers.
  const safety = (knobEnabled(w, 'batch_size') ? memoryPressure(batchInputs) : undefined)
    ?? (knobEnabled(w, 'num_workers') ? hostMemoryRelief(workerInputs) ?? idleWorkers(workerInputs) ?? surplusWorkers(workerInputs) : undefined);
  let p: Proposal | undefined = safety?.proposal;
  let note = '';
  // Persistent workers before the search: they cost nothing per step and save a measured epoch start.
  if (!p) p = persistentWorkersMove(w, m).proposal;
  if (!p) {
    const r = search({
      // The budget as the verdict states it (the job's, else the host's CPU count): one definition.
      w, m, cls, points,
      budgetCores: cls.figures.cpuBudgetCores,
      budgetSource: cls.figures.cpuBudgetSource,
      capacity: batchInputs.capacity, noise, settings: s, treeCores: use?.treeCores ?? null, workerBusy: use?.workerBusyRatio ?? null,
      jobChangedAt: latest(recordedChange(w.decisions), m.shift?.ts ?? null),
    });
    p = r.proposal;
    note = r.note;
    // A knob is exhausted when no move of it is left that is predicted to pay or still to be tried.
    const open = (knob: 'batch_size' | 'num_workers') => r.candidates.some((c) => c.knob === knob && !c.skipped
      && (c.explore || c.predictedGain === null || c.predictedGain >= s.minPredictedGain));
    ctx.batchExhausted = !knobEnabled(w, 'batch_size') || !open('batch_size');
    ctx.workersExhausted = !knobEnabled(w, 'num_workers') || !open('num_workers');
    if (!p && knobEnabled(w, 'batch_size')) {
      const g = goodputShrink(batchInputs);
      p = g.proposal;
      if (!p && noise) note += `; ${g.note}`;
    }
    // The loader's other knobs when no worker or batch move is left to make (loader-knobs.ts);
    // a candidate refused by the host-memory budget is named in the status.
    if (!p) {
      const workers = r.params.find((x) => x.name === 'num_workers');
      const l = loaderKnobTrial(w, m, use?.workerBusyRatio ?? null, workers && workers.moves.length === 0 ? workers.note : null);
      p = l.proposal;
      const refused = l.table.filter((x) => x.move === null && x.note.includes('host-memory budget')).map((x) => x.note);
      if (!p && refused.length > 0) note += `; ${refused.join('; ')}`;
    }
  }
  if (p && !p.safety && inCooldown(w, s)) return done('cooldown');
  // Freeing workers is judged as must-not-cost (judge.ts), whose band already widens with the noise
  // of the window before it: it need not wait for the precision a gain would.
  const freeing = p?.knob === 'num_workers' && p.action === 'decrease';
  if (p && !p.safety && !freeing && !preciseEnough(m, p.predictedGain, s)) return done(`measuring version ${w.appliedVersion} (${m.steps} steps, noise ${fmtPercent(m.relNoise)})`);
  if (p) return emit(w, cls, m, p, done, p.knob);
  if (ADVISE_ON.has(cls.bottleneck) && !advisedSinceLastChange(w, cls.bottleneck)) {
    const advice = adviceFor(cls, ctx, w);
    if (advice.length > 0) {
      return done('advice', {
        knob: 'none',
        action: 'advise',
        reason: `${cls.bottleneck}: ${cls.why}; ${note || 'no knob to turn'}`,
        evidence: { bottleneck: cls.bottleneck, ...cls.evidence },
        basis: { bottleneck: cls.bottleneck, search: null, safety: false, predictedGain: null, bNoise: null, jobChangedAt: null },
        configBefore: w.config,
        configAfter: w.config,
        advice,
        recommendOnly: true,
      });
    }
  }
  return done(note || 'nothing to do');
}

function emit(w: Window, cls: Classification, m: Measurement | undefined, p: Proposal, done: (state: string, d?: Decision) => TuneResult, state: string): TuneResult {
  const advise = w.tune.mode === 'advise';
  if (advise && alreadyRecommended(w, p.config)) return done('recommendation already made');
  const use = { processCpuCores: cls.figures.processCpuCores, workerBusyRatio: cls.figures.workerBusyRatio };
  // The window the change is measured against, typed; the evidence's before_* keys are rendered from it.
  const before = m && m.steps >= MIN_MEASURE_STEPS ? measuredPoint(m, use, gpuMemoryUsed(w)) : undefined;
  return done(advise ? `recommending (${state})` : state, {
    knob: p.knob,
    action: p.action,
    reason: p.reason,
    evidence: {
      bottleneck: cls.bottleneck,
      ...(before ? pointEvidence(before, 'before_') : { before_process_cpu_cores: use.processCpuCores, before_worker_busy_ratio: use.workerBusyRatio }),
      ...p.evidence,
      predicted_gain: p.predictedGain,
      safety: p.safety === true,
    },
    ...(before ? { before } : {}),
    basis: {
      bottleneck: cls.bottleneck, search: p.search ?? null, safety: p.safety === true, predictedGain: p.predictedGain,
      bNoise: p.bNoise ?? null, jobChangedAt: p.jobChangedAt ?? null,
    },
    configBefore: w.config,
    configAfter: p.config,
    advice: [],
    recommendOnly: advise,
  });
}

function withAdvice(d: Decision, advice: Advice[]): Decision {
  return d.advice.length > 0 || d.knob === 'none' ? d : { ...d, advice };
}

function sameConfig(a: RunConfig, b: RunConfig): boolean {
  return a.batch_size === b.batch_size && a.num_workers === b.num_workers && a.learning_rate === b.learning_rate && a.grad_accum_steps === b.grad_accum_steps
    && LOADER_KNOBS.every((k) => a[k] === b[k]);
}

function alreadyRecommended(w: Window, config: RunConfig): boolean {
  return w.decisions.some((d) => d.recommendOnly && d.knob !== 'none' && sameConfig(d.configAfter, config) && sameConfig(d.configBefore, w.config));
}

function advisedSinceLastChange(w: Window, bottleneck: BottleneckKind): boolean {
  const since = changes(w).at(-1)?.ts ?? -Infinity;
  return w.decisions.some((d) => d.knob === 'none' && d.ts >= since && d.basis?.bottleneck === bottleneck);
}

/** Device memory the run holds now: its processes' share, else the busiest GPU's use. */
export function gpuMemoryUsed(w: Window): number | null {
  const mine = w.process ? Object.values(w.process.gpuMemoryBytes).filter((b) => b > 0) : [];
  if (mine.length > 0) return Math.max(...mine);
  const used = runGpus(w).map((g) => g.memoryUsedBytes).filter((x): x is number => x !== null);
  return used.length > 0 ? Math.max(...used) : null;
}
