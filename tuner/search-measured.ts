// The search's moves chosen by measurement, ahead of the model's (issue 21): back to the best
// configuration measured when the current one measured worse beyond noise; a bisection probe below
// an OOM when no memory readings can size it; a golden-section probe once returns fall with batch
// size. Where a bracket shows returns falling, the model's batch predictions above the best size
// are set aside: its compute line cannot bend, the measurements can.
import { bracketOf, wayBack } from './bracket.js';
import { isJump, modelRecord } from './model-record.js';
import { efficiency } from './goodput.js';
import { fmtGain, knobName } from './format.js';
import { changes, configKey, type Point } from './history.js';
import { withBatchSize } from './lr.js';
import type { Param } from './params.js';
import type { DecisionRecord } from '../domain/decisions.js';
import type { Candidate, SearchInputs } from './search.js';

/** Golden-section probes of each knob in one run (each narrows the bracket to 0.618 of itself). */
export const MAX_BRACKET_PROBES = 6;

/** Moves of a kind so far; after the job changed (job-change.ts), since then: the search opens again. */
function kindCount(x: SearchInputs, kind: string, knob?: Candidate['knob'], where: (d: DecisionRecord) => boolean = () => true): number {
  const since = x.jobChangedAt ?? null;
  return changes(x.w).filter((d) => d.basis?.search === kind && (knob === undefined || d.knob === knob) && (since === null || d.ts > since) && where(d)).length;
}

function candidate(x: SearchInputs, knob: Candidate['knob'], to: number, kind: NonNullable<Candidate['kind']>, basis: string, gain: number | null): Candidate {
  const { w } = x;
  const config = knob === 'num_workers' ? { ...w.config, num_workers: to } : withBatchSize(w.config, to, w.tune).config;
  const from = knob === 'num_workers' ? w.config.num_workers : w.config.batch_size;
  return { knob, from, to, config, predictedGain: gain, basis, explore: gain === null, kind };
}

export function measuredMove(x: SearchInputs, points: Point[], candidates: Candidate[], params: Param[]): Candidate | undefined {
  const { w, settings: s } = x;
  const current = points.at(-1);
  if (!current) return undefined;
  const hasKnob = (k: Candidate['knob']) => params.some((p) => p.name === k);
  const objective = (p: Point) => (x.noise ? p.throughput * efficiency(x.noise.bNoise, 1, p.batch) : p.throughput);

  // Back to the best measured: one knob per decision, batch size first.
  // The bar a move must clear to be kept (judge.ts): beyond both readings' noise and the least gain to act.
  const back = wayBack(points, current, s.noiseZ, Math.max(s.noiseFloor, s.minPredictedGain, s.minBatchGain), objective);
  if (back) {
    const knob: Candidate['knob'] = back.to.batch !== current.batch && hasKnob('batch_size') ? 'batch_size' : 'num_workers';
    const to = knob === 'batch_size' ? back.to.batch : back.to.workers;
    const target = knob === 'batch_size' ? { ...current, batch: to } : { ...current, workers: to };
    const failed = changes(w).some((d) => d.basis?.search === 'return' && d.outcome.status === 'rolled_back'
      && d.configAfter.batch_size === target.batch && d.configAfter.num_workers === target.workers);
    // With keep_global_batch a batch size moves only with its accumulation (params.ts); points at this accumulation are not that.
    const keepsGlobal = knob === 'batch_size' && w.tune.keep_global_batch;
    if (hasKnob(knob) && !failed && !keepsGlobal && (knob === 'batch_size' || back.to.workers !== current.workers)) {
      const words = `${knobName('batch_size')} ${back.to.batch} with ${back.to.workers} worker${back.to.workers === 1 ? '' : 's'} measured ${fmtGain(back.gain)} over this configuration`;
      return candidate(x, knob, to, 'return', words, back.gain);
    }
  }

  const batch = params.find((p) => p.name === 'batch_size');
  // A bisection probe below an OOM, when nothing can size it (params.ts offers it once).
  if (batch && batch.bisect !== null && kindCount(x, 'bisect') === 0) {
    return candidate(x, 'batch_size', batch.bisect, 'bisect', `out of memory above ${current.batch} with no memory readings: one probe halfway to the size that failed`, null);
  }
  // Both knobs bracket the same way (bracket.ts), batch size first. A gap probe only where the model
  // jumped past values nobody measured and has not earned it since (model-record.ts).
  const earned = modelRecord(w, x.jobChangedAt ?? null, s).earned;
  const at = { batch: w.config.batch_size, workers: w.config.num_workers, accum: w.config.grad_accum_steps };
  for (const p of params) {
    if (p.name === 'batch_size' && w.tune.keep_global_batch) continue;
    const br = bracketOf(p.name, points, at, p.min, s.noiseZ, !earned);
    if (!br || (br.gap && !isJump(p.name, br.lo, p.name === 'batch_size' ? br.best.batch : br.best.workers))) continue;
    // Returns fall: the model's moves of this knob above the best value measured are set aside.
    if (!br.gap) {
      const top = p.name === 'batch_size' ? br.best.batch : br.best.workers;
      for (const c of candidates) {
        if (c.knob === p.name && !c.skipped && c.basis !== 'measured before' && c.to > top) c.skipped = `returns fall: ${br.words}`;
      }
    }
    // At most MAX_BRACKET_PROBES per bracket: this knob's probes with the other knob where it is now.
    const probes = kindCount(x, 'bracket', p.name, (d) => (p.name === 'batch_size' ? d.configBefore.num_workers === at.workers : d.configBefore.batch_size === at.batch));
    if (br.probe === null || probes >= MAX_BRACKET_PROBES) continue;
    const probe = p.name === 'batch_size' ? { ...at, batch: br.probe } : { ...at, workers: br.probe };
    if (points.some((q) => configKey(q) === configKey(probe))) continue;
    return candidate(x, p.name, br.probe, 'bracket', br.words, null);
  }
  return undefined;
}

/** A descent halves the batch: the geometric step the climb takes upward (×2), taken down. */
export const DESCENT_FACTOR = 0.5;

/**
 * Both ways from above (issue 21): once no move upward is left to try, one trial of half the batch
 * size when no smaller size was measured at these workers. An optimum below the starting size (a
 * cache the batch outgrew, a storage rate that caps samples/s whatever the batch) shows no larger
 * size measured worse, so the bracket never opens; the model's straight compute line always ranks
 * a smaller batch lower, so it is measured, not predicted. Judged like an increase (judge.ts): kept
 * only when it pays beyond noise, so a job already at its best keeps its batch.
 */
export function descent(x: SearchInputs, points: Point[], params: Param[]): Candidate | undefined {
  const { w } = x;
  const p = params.find((q) => q.name === 'batch_size');
  const b = w.config.batch_size;
  const to = Math.floor(b * DESCENT_FACTOR);
  if (!p || w.tune.keep_global_batch || to < p.min || to < 1) return undefined;
  const smaller = points.some((q) => q.batch < b && q.workers === w.config.num_workers && q.accum === w.config.grad_accum_steps);
  if (smaller) return undefined;
  const tried = changes(w).some((d) => d.knob === 'batch_size' && d.configBefore.batch_size === b && d.configAfter.batch_size < b && d.outcome.status === 'rolled_back');
  if (tried) return undefined;
  return candidate(x, 'batch_size', to, 'descent', `no smaller batch size measured at ${w.config.num_workers} workers; the climb has nothing left upward`, null);
}
