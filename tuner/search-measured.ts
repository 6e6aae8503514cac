// The search's moves chosen by measurement, ahead of the model's (issue 21): back to the best
// configuration measured when the current one measured worse beyond noise; a bisection probe below
// an OOM when no memory readings can size it; a golden-section probe once returns fall with batch
// size. Where a bracket shows returns falling, the model's batch predictions above the best size
// are set aside: its compute line cannot bend, the measurements can.
import { batchBracket, wayBack } from './bracket.js';
import { efficiency } from './goodput.js';
import { fmtGain, knobName } from './format.js';
import { changes, configKey, type Point } from './history.js';
import { withBatchSize } from './lr.js';
import type { Param } from './params.js';
import type { Candidate, SearchInputs } from './search.js';

/** Golden-section probes of batch size in one run (each narrows the bracket to 0.618 of itself). */
export const MAX_BRACKET_PROBES = 6;

function kindCount(x: SearchInputs, kind: string): number {
  return changes(x.w).filter((d) => d.evidence.search === kind).length;
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
    const failed = changes(w).some((d) => d.evidence.search === 'return' && d.outcome.status === 'rolled_back'
      && d.configAfter.batch_size === target.batch && d.configAfter.num_workers === target.workers);
    // With keep_global_batch a batch size moves only with its accumulation (params.ts); points at this accumulation are not that.
    const keepsGlobal = knob === 'batch_size' && w.tune.keep_global_batch;
    if (hasKnob(knob) && !failed && !keepsGlobal && (knob === 'batch_size' || back.to.workers !== current.workers)) {
      const words = `${knobName('batch_size')} ${back.to.batch} with ${back.to.workers} worker${back.to.workers === 1 ? '' : 's'} measured ${fmtGain(back.gain)} over this configuration`;
      return candidate(x, knob, to, 'return', words, back.gain);
    }
  }

  const batch = params.find((p) => p.name === 'batch_size');
  if (!batch) return undefined;
  // A bisection probe below an OOM, when nothing can size it (params.ts offers it once).
  if (batch.bisect !== null && kindCount(x, 'bisect') === 0) {
    return candidate(x, 'batch_size', batch.bisect, 'bisect', `out of memory above ${current.batch} with no memory readings: one probe halfway to the size that failed`, null);
  }
  const br = batchBracket(points, w.config.num_workers, w.config.grad_accum_steps, batch.min, s.noiseZ);
  if (!br) return undefined;
  // Returns fall: the model's batch moves above the best size measured are set aside.
  for (const c of candidates) {
    if (c.knob === 'batch_size' && !c.skipped && c.basis !== 'measured before' && c.to > br.best.batch) c.skipped = `returns fall: ${br.words}`;
  }
  if (br.probe === null || kindCount(x, 'bracket') >= MAX_BRACKET_PROBES) return undefined;
  if (points.some((p) => configKey(p) === configKey({ batch: br.probe!, workers: w.config.num_workers, accum: w.config.grad_accum_steps }))) return undefined;
  if (w.tune.keep_global_batch) return undefined;
  return candidate(x, 'batch_size', br.probe, 'bracket', br.words, null);
}
