// The search: knobs as data (params.ts), every measured configuration kept (history.ts), a
// performance model fitted to them (perf-model.ts); candidate moves ranked by predicted gain, the
// bottleneck verdict ordering them but never gating them. A move the model cannot yet predict (it
// rests on a figure only one batch size could show) is a trial: measured, judged against the best
// configuration (judge.ts), rolled back when it does not pay. A configuration measured once is not
// tried again unless the job has changed since; the trials are bounded.
import { efficiency, type NoiseScale } from './goodput.js';
import type { Classification } from './classify.js';
import { fmtGain, fmtPercent, knobName } from './format.js';
import { noiseBand, type TunerThresholds } from './guardrails.js';
import { changes, configKey, type Point } from './history.js';
import { round, type Measurement } from './measure.js';
import { knobTable, type Param } from './params.js';
import { isJump, modelRecord, oneStepUp, type ModelRecord } from './model-record.js';
import { descent, measuredMove } from './search-measured.js';
import { configWith, toProposal } from './search-proposal.js';
import { fitPerfModel, predictRatio, type ModelContext, type PerfModel } from './perf-model.js';
import type { Proposal } from './proposal.js';
import type { RunConfig } from '../domain/config.js';
import type { Window } from './window.js';
import type { DecisionSearchKind } from '../domain/decisions.js';

/** A job whose throughput at a configuration moved this much from what was measured there before has changed. */
export const JOB_CHANGED_RATIO = 0.15;
/** Among batch candidates predicting nearly the same gain, the smallest jump is taken (less risk to memory and the loss). */
export const NEAR_BEST_SHARE = 0.85;
/** Trials in a row that did not pay before trials on an unpredictable move stop. */
export const MAX_FAILED_EXPLORATIONS = 2;
/** How the search chose a move (domain/decisions.ts SEARCH_KINDS; the loader's knobs are chosen outside it). */
export type SearchKind = Exclude<DecisionSearchKind, 'loader_knob'>;

export interface Candidate {
  knob: 'batch_size' | 'num_workers';
  from: number;
  to: number;
  config: RunConfig;
  /** Predicted relative gain of the objective (throughput, or goodput with a noise scale); null: unknown. */
  predictedGain: number | null;
  basis: string;
  /** The prediction rests on a figure not yet measured: a trial, not a prediction. */
  explore: boolean;
  /** Why it was left out, when it was. */
  skipped?: string;
  /** A stepping stone: the second move (on the other knob) that this one makes pay, and the two moves' predicted gain. */
  enables?: string;
  pathGain?: number;
  /** Chosen by measurement rather than by the model (bracket, bisect, return). */
  kind?: SearchKind;
  /** A trial that measurement asked for where the model ranks it under the bar (`continuation`): why. */
  because?: string;
}

export interface SearchInputs {
  w: Window;
  m: Measurement;
  cls: Classification;
  /** Every measured configuration of the run, the current one last. */
  points: Point[];
  budgetCores: number | null;
  budgetSource: string | null;
  /** Device memory capacity in bytes, null when unknown. */
  capacity: number | null;
  noise: NoiseScale | null;
  settings: TunerThresholds;
  treeCores: number | null;
  workerBusy: number | null;
  /** When the job last changed under a fixed config (job-change.ts), null when never seen: older points are stale. */
  jobChangedAt?: number | null;
}

export interface SearchResult {
  proposal?: Proposal;
  /** What was weighed, for the evidence and the notes. */
  candidates: Candidate[];
  model: PerfModel;
  params: Param[];
  note: string;
}

/** The points since the job last changed: a configuration measured again that moved beyond noise marks a change. */
export function sinceJobChanged(points: Point[], seenAt: number | null = null): { points: Point[]; changedAt: number | null } {
  const cur = points.at(-1);
  if (!cur) return { points, changedAt: null };
  const key = configKey(cur);
  let changedAt: number | null = seenAt;
  for (const p of points.slice(0, -1)) {
    if (configKey(p) !== key || p.throughput <= 0) continue;
    const ratio = cur.throughput / p.throughput;
    const band = 3 * Math.hypot(p.relNoise, cur.relNoise);
    if (Math.abs(ratio - 1) > Math.max(JOB_CHANGED_RATIO, band)) changedAt = Math.max(changedAt ?? -Infinity, p.ts);
  }
  if (changedAt === null) return { points, changedAt };
  return { points: points.filter((p, i) => i === points.length - 1 || p.ts > changedAt!), changedAt };
}

/** Throughput adjusted by the statistical efficiency when the gradient noise scale is known (Pollux's goodput). */
function objective(noise: NoiseScale | null, batch: number, throughput: number): number {
  return noise ? throughput * efficiency(noise.bNoise, 1, batch) : throughput;
}

/** Trials on moves the model could not predict that did not pay: how many of the newest in a row were rolled back. */
function failedInARow(w: Window): number {
  let n = 0;
  for (const d of [...changes(w)].reverse()) {
    if (d.action === 'rollback' || d.basis?.search !== 'trial') continue;
    if (d.outcome.status === 'rolled_back') n += 1;
    else if (d.outcome.status === 'kept') break;
  }
  return n;
}

/** Trials so far: config changes the tuner made to measure a candidate (rollbacks and safety moves are not trials). */
export function trialsSoFar(w: Window, since: number | null = null): number {
  return changes(w).filter((d) => d.action !== 'rollback' && d.basis?.safety !== true && (since === null || d.ts > since)).length;
}

/** The verdict orders the knobs: the one it names first (never to the exclusion of the other). */
export function knobOrder(cls: Classification): Array<Candidate['knob']> {
  switch (cls.bottleneck) {
    case 'input_bound':
    case 'cpu_saturated':
    case 'io_bound':
    case 'host_memory_pressure':
      return ['num_workers', 'batch_size'];
    default:
      return ['batch_size', 'num_workers'];
  }
}

export function search(x: SearchInputs): SearchResult {
  const { w, m, cls, settings: s } = x;
  const fresh = sinceJobChanged(x.points, x.jobChangedAt ?? null);
  const points = fresh.points;
  const gpuUtil = cls.figures.gpuUtilizationRatio;
  const host = w.host;
  const freeHostCores = host?.cpuUtilizationRatio != null ? Math.max(0, (1 - host.cpuUtilizationRatio) * host.cpuCount) : null;
  const ctx: ModelContext = { budgetCores: x.budgetCores, gpuUtil, treeCores: x.treeCores, workerBusy: x.workerBusy, freeHostCores, workers: w.config.num_workers, waitRatio: m.waitRatio };
  const model = fitPerfModel(points, ctx);
  const measured = new Map<string, Point>();
  for (const p of points) measured.set(configKey(p), p);
  const params = knobTable({ w, m, points, capacity: x.capacity, model, budgetCores: x.budgetCores, workerBusy: x.workerBusy, freeHostCores });
  const here = { batch: w.config.batch_size, workers: w.config.num_workers };
  const candidates: Candidate[] = [];
  const weigh = (p: Param, to: number): Candidate => {
      const target = p.name === 'batch_size' ? { batch: to, workers: here.workers } : { batch: here.batch, workers: to };
      const { config } = configWith(w, p.name, to);
      const c: Candidate = { knob: p.name, from: p.value, to, config, predictedGain: null, basis: 'no model yet', explore: true };
      const seen = measured.get(configKey({ batch: config.batch_size, workers: config.num_workers, accum: config.grad_accum_steps }));
      if (seen) {
        c.predictedGain = objective(x.noise, config.batch_size, seen.throughput) / objective(x.noise, here.batch, m.throughput) - 1;
        c.basis = 'measured before';
        c.explore = false;
        c.skipped = `measured before at ${round(seen.throughput, 1)} samples/s`;
        return c;
      }
      // More workers than a count measured not to pay at this batch size will not pay either, whatever the
      // loading model says (data waits from jitter look like a loader short of parallelism).
      const flat = p.name === 'num_workers'
        ? points.filter((q) => q.batch === here.batch && q.accum === w.config.grad_accum_steps && q.workers > here.workers)
        : [];
      if (flat.length > 0) {
        const top = flat.reduce((a, q) => (q.throughput > a.throughput ? q : a));
        const gain = top.throughput / m.throughput - 1;
        if (gain < Math.max(s.minPredictedGain, s.noiseZ * Math.hypot(top.relNoise, m.relNoise))) {
          c.predictedGain = gain;
          c.basis = `measured: ${flat.map((q) => `${q.workers} workers ${fmtGain(q.throughput / m.throughput - 1)}`).join(', ')}`;
          c.explore = false;
          c.skipped = `more workers measured not to pay at batch ${here.batch} (${c.basis.slice(10)}, within noise)`;
          return c;
        }
      }
      const r = predictRatio(model, here, target);
      if (r) {
        const goodput = x.noise && p.name === 'batch_size' ? efficiency(x.noise.bNoise, here.batch, to) : 1;
        c.predictedGain = r.ratio * goodput - 1;
        c.basis = r.basis + (x.noise && p.name === 'batch_size' ? `; goodput with noise scale ${round(x.noise.bNoise, 1)}` : '');
        c.explore = r.assumed || p.trials.includes(to);
      }
      return c;
  };
  for (const p of params) for (const to of p.moves) candidates.push(weigh(p, to));
  // A jump past untried sizes only while the model's past predictions on this run were within their
  // noise (model-record.ts); else one step of the knob's rule, and measurement takes it further.
  const record = modelRecord(w, fresh.changedAt, s);
  if (!record.earned) {
    for (const p of params) {
      const jumps = candidates.filter((c) => c.knob === p.name && !c.skipped && isJump(p.name, c.from, c.to));
      if (jumps.length === 0) continue;
      for (const c of jumps) c.skipped = `a jump past untried sizes: the model has not earned it (${record.words})`;
      if (candidates.some((c) => c.knob === p.name && !c.skipped && c.to > p.value)) continue;
      // The one step is not among the knob's moves: added, where the knob may take any value; with
      // keep_global_batch (divisors of the global batch only) the smallest move is the smallest step.
      if (p.name === 'batch_size' && w.tune.keep_global_batch) {
        const first = jumps.sort((a, b) => a.to - b.to)[0];
        first.skipped = undefined;
      } else {
        candidates.push(weigh(p, Math.min(oneStepUp(p.name, p.value), Math.max(...p.moves))));
      }
    }
  }

  // After the job changed, the search opens again: its trial budget counts from there.
  const trials = trialsSoFar(w, fresh.changedAt);
  const byMeasurement = measuredMove(x, points, candidates, params);
  if (byMeasurement) return { proposal: toProposal(x, byMeasurement, candidates, model, fresh.changedAt, trials), candidates, model, params, note: byMeasurement.kind! };
  const open = candidates.filter((c) => !c.skipped);
  const bar = s.minPredictedGain;
  const order = knobOrder(cls);
  const rank = (c: Candidate) => order.indexOf(c.knob);
  // Confident candidates: the model predicts the gain from measured figures.
  const confident = open.filter((c) => !c.explore && c.predictedGain !== null && c.predictedGain >= bar);
  let pick: Candidate | undefined;
  if (confident.length > 0) {
    const bestGain = Math.max(...confident.map((c) => c.predictedGain!));
    // The verdict's knob first among those close to the best; then the smallest jump close to it.
    const close = confident.filter((c) => c.predictedGain! >= NEAR_BEST_SHARE * bestGain);
    const knob = close.map((c) => c.knob).sort((a, b) => order.indexOf(a) - order.indexOf(b))[0];
    const ofKnob = close.filter((c) => c.knob === knob);
    pick = ofKnob.sort((a, b) => Math.abs(a.to - a.from) - Math.abs(b.to - b.from))[0];
  }
  if (!pick) pick = steppingStone(x, model, params, candidates, measured, here);
  if (!pick) continuation(w, record, candidates, s);
  let exploreNote = '';
  if (!pick) {
    // Trials: the smallest step of each knob whose gain the model cannot yet say, the verdict's knob first.
    const explorable = open.filter((c) => c.explore && (c.predictedGain === null || c.predictedGain > -0.5));
    if (explorable.length > 0) {
      if (trials >= s.maxTrials) exploreNote = `trial budget spent (${trials} of ${s.maxTrials})`;
      else if (failedInARow(w) >= MAX_FAILED_EXPLORATIONS) exploreNote = `${MAX_FAILED_EXPLORATIONS} trials in a row did not pay`;
      else pick = explorable.sort((a, b) => rank(a) - rank(b) || Math.abs(a.to - a.from) - Math.abs(b.to - b.from))[0];
    }
  }
  // Both ways: with nothing upward left, one trial of a smaller batch (search-measured.ts).
  if (!pick && !exploreNote && trials < s.maxTrials && failedInARow(w) < MAX_FAILED_EXPLORATIONS) pick = descent(x, points, params);
  if (!pick) {
    const weighed = open.map((c) => `${c.knob} ${c.from} → ${c.to} ${c.predictedGain === null ? 'unknown' : fmtGain(c.predictedGain)}`);
    return {
      candidates, model, params,
      note: weighed.length === 0
        ? `no move left: ${params.map((p) => p.note).join('; ')}`
        : `no move pays: ${weighed.join(', ')} (bar ${fmtPercent(bar)})${exploreNote ? `; ${exploreNote}` : ''}`,
    };
  }
  return { proposal: toProposal(x, pick, candidates, model, fresh.changedAt, trials), candidates, model, params, note: pick.explore ? 'trial' : 'predicted' };
}

/**
 * Measurements overrule the model upward too. When the newest change was an increase that paid
 * beyond twice the bar and the model did not foresee it (a trial it could not predict, or a
 * prediction it fell short of beyond noise: a batch step predicted +3.5 %, measured +11 %), the next
 * step of the same knob is measured as a trial even where the model now predicts it under the bar.
 * And a batch step smaller than a doubling says less than its gain shows: its measured gain, beyond
 * noise, is taken at the same rate per doubling (+2.1 % for 32 → 40 is +6.6 % a doubling); where that
 * rate clears twice the bar, the next doubling is measured, kept or not, however the model ranks it.
 */
function continuation(w: Window, record: ModelRecord, candidates: Candidate[], s: TunerThresholds): void {
  const bar = s.minPredictedGain;
  const last = changes(w).filter((d) => d.action !== 'rollback').at(-1);
  if (!last || last.action !== 'increase' || (last.knob !== 'batch_size' && last.knob !== 'num_workers')) return;
  const o = last.outcome;
  const nextOf = (knob: Candidate['knob'], upTo = Infinity) => candidates
    .filter((c) => c.knob === knob && !c.skipped && !c.explore && c.to > c.from && c.to <= upTo && !isJump(c.knob, c.from, c.to))
    .sort((a, b) => b.to - a.to)[0];
  if (o.status === 'kept' && o.gainRatio >= 2 * bar) {
    const judged = record.entries.find((e) => e.decisionId === last.id);
    const unforeseen = last.basis?.search === 'trial' || (judged !== undefined && judged.error > judged.band);
    const next = unforeseen ? nextOf(last.knob) : undefined;
    if (next && (next.predictedGain ?? 0) < bar) {
      next.explore = true;
      next.because = `the last step measured ${fmtGain(o.gainRatio)}${judged ? ` where the model said ${fmtGain(judged.predicted)}` : ', unforeseen by the model'}, so the next one is measured`;
      next.basis += `; ${next.because}`;
      return;
    }
  }
  if (last.knob !== 'batch_size' || (o.status !== 'kept' && !(o.status === 'rolled_back' && o.cause !== 'loss'))) return;
  const [from, to] = [last.configBefore.batch_size, last.configAfter.batch_size];
  const doublings = Math.log2(to / from);
  const here = o.status === 'kept' ? to : from;
  if (!(doublings > 0 && doublings < 1) || w.config.batch_size !== here || last.configAfter.num_workers !== w.config.num_workers) return;
  if (o.gainRatio <= noiseBand(s, last.before?.relNoise ?? 0, o.after?.relNoise ?? 0)) return;
  const rate = (1 + o.gainRatio) ** (1 / doublings) - 1;
  const next = nextOf('batch_size', 2 * here);
  if (rate < 2 * bar || !next || (next.predictedGain ?? 0) >= bar || next.to < 1.5 * here) return;
  next.explore = true;
  next.because = `${from} → ${to} measured ${fmtGain(o.gainRatio)}, ${fmtGain(rate)} a doubling at that rate, where the model says ${fmtGain(next.predictedGain ?? 0)}`;
  next.basis += `; ${next.because}`;
}

/** A first move on one knob that does not pay alone, and the second on the other knob that it makes pay. */
function steppingStone(x: SearchInputs, model: PerfModel, params: Param[], candidates: Candidate[], measured: Map<string, Point>, here: { batch: number; workers: number }): Candidate | undefined {
  const { w, m, settings: s } = x;
  let best: { first: Candidate; second: string; gain: number } | undefined;
  const single = Math.max(0, ...candidates.filter((c) => !c.skipped && !c.explore && c.predictedGain !== null).map((c) => c.predictedGain!));
  for (const first of candidates) {
    // A first step measured worse than here beyond noise is no stepping stone.
    if (first.explore) continue;
    if (first.skipped && (first.predictedGain ?? -1) < -s.noiseZ * m.relNoise * Math.SQRT2 - s.noiseFloor) continue;
    const other = params.find((p) => p.name !== first.knob);
    if (!other) continue;
    const base = { batch: first.config.batch_size, workers: first.config.num_workers };
    const seconds = other.name === 'batch_size' ? other.moves : [...new Set([...other.moves, other.max])].filter((v) => v > here.workers);
    for (const v of seconds) {
      const target = other.name === 'batch_size' ? { batch: v, workers: base.workers } : { batch: base.batch, workers: v };
      if (measured.has(configKey({ ...target, accum: w.config.grad_accum_steps }))) continue;
      const r = predictRatio(model, here, target);
      if (!r || r.assumed) continue;
      const gain = r.ratio - 1;
      if (gain >= 2 * s.minPredictedGain && gain > single + s.minPredictedGain && (!best || gain > best.gain)) {
        best = { first, second: `${knobName(other.name)} ${other.name === 'batch_size' ? here.batch : base.workers} → ${v}`, gain };
      }
    }
  }
  if (!best) return undefined;
  const c = { ...best.first, skipped: undefined, enables: best.second, pathGain: best.gain };
  return c;
}
