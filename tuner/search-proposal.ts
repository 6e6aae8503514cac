// A chosen candidate as a proposal: the reason people read (the move, what drove it, at most the
// runner-up) and the evidence behind it (every candidate weighed, the model's figures, the kind of
// move). search.ts chooses; this writes it up.
import { fmtGain, fmtPercent, knobName } from './format.js';
import { withBatchSize } from './lr.js';
import { modelRecord } from './model-record.js';
import { round } from './measure.js';
import { loadPerBatch, type PerfModel } from './perf-model.js';
import type { Proposal } from './proposal.js';
import type { Candidate, SearchInputs, SearchKind } from './search.js';
import type { RunConfig } from '../domain/config.js';
import type { Window } from './window.js';

export function configWith(w: Window, knob: Candidate['knob'], to: number): { config: RunConfig; lrRule?: string } {
  if (knob === 'num_workers') return { config: { ...w.config, num_workers: to } };
  const { config, lrRule } = withBatchSize(w.config, to, w.tune);
  return { config, lrRule };
}


export function describeCandidate(c: Candidate): string {
  const gain = c.predictedGain === null ? 'gain unknown' : `${fmtGain(c.predictedGain)}${c.explore ? ' if it scales as assumed' : ''}`;
  return `${knobName(c.knob)} ${c.from} → ${c.to}: ${c.skipped ?? gain}`;
}

export function toProposal(x: SearchInputs, c: Candidate, all: Candidate[], model: PerfModel, changedAt: number | null, trials: number): Proposal {
  const { w, m, cls } = x;
  const { lrRule } = configWith(w, c.knob, c.to);
  const record = modelRecord(w, changedAt, x.settings);
  const waitWords = `${fmtPercent(m.waitRatio)} of each step waited for data`;
  const why = c.kind === 'return'
    ? `back toward the best measured: ${c.basis}`
    : c.kind === 'bracket'
      ? `a bracketing probe: ${c.basis}`
      : c.kind === 'bisect'
        ? `a bisection probe: ${c.basis}`
        : c.kind === 'descent'
          ? `a trial downward: ${c.basis}; kept only if it beats this size beyond noise`
        : c.enables
          ? `a stepping stone: alone it is predicted ${fmtGain(c.predictedGain ?? 0)}, but it lets ${c.enables} pay, ${fmtGain(c.pathGain ?? 0)} for the two moves; it is kept unless it costs beyond noise`
          : c.explore && c.because
            ? `a trial: ${c.because}; kept only if it beats the best so far`
          : c.explore
            ? `a trial: the model cannot yet say what ${knobName(c.knob)} ${c.to} gives (${c.knob === 'batch_size' ? 'only one batch size measured' : 'not measured'}), so it is measured and kept only if it beats the best so far`
            : `predicted ${fmtGain(c.predictedGain!)} samples/s${x.noise && c.knob === 'batch_size' ? ' (goodput)' : ''}`;
  // For people: the move, what drove it and at most the runner-up; every candidate stays in the evidence.
  // The runner-up: the best-predicted move of the other knob, else one of this knob well apart (not a near twin).
  const rivals = all.filter((o) => o !== c && !o.skipped && o.predictedGain !== null && !o.explore)
    .sort((a, b) => b.predictedGain! - a.predictedGain!);
  const runnerUp = rivals.find((o) => o.knob !== c.knob) ?? rivals.find((o) => Math.abs(o.to - c.to) > 0.25 * Math.max(o.to, c.to, 1));
  const lead = cls.bottleneck === 'input_bound' || cls.bottleneck === 'cpu_saturated' || cls.bottleneck === 'io_bound' ? `${waitWords}; ` : '';
  const changed = m.shift ? `the job changed at step ${m.shift.step} (steps ${fmtGain(m.shift.ratio - 1)} at a fixed config; the search opens again); ` : '';
  const reason = `${changed}${lead}${knobName(c.knob)} ${c.from} → ${c.to}: ${why}${runnerUp ? `; runner-up: ${describeCandidate(runnerUp)}` : ''}`;
  const here = x.points.at(-1); // the current configuration's measurement
  const load = here ? loadPerBatch(here) : null;
  const search: SearchKind = c.kind ?? (c.enables ? 'stepping_stone' : c.explore ? 'trial' : 'predicted');
  const bNoise = x.noise ? round(x.noise.bNoise, 2) : null;
  return {
    knob: c.knob,
    action: c.to > c.from ? 'increase' : 'decrease',
    config: c.config,
    reason,
    evidence: {
      search,
      enables: c.enables ?? null,
      predicted_path_gain: c.pathGain === undefined ? null : round(c.pathGain),
      candidates: all.map(describeCandidate).join('; '),
      chosen_because: c.kind
        ? `measured, not modelled: ${c.kind === 'return' ? 'another configuration measured better beyond noise' : c.kind === 'bracket' ? `${c.basis.includes('has not earned it') ? 'a gap the model jumped and has not earned' : `returns fall with ${knobName(c.knob)}`}; golden-section probe between measured values` : c.kind === 'descent' ? 'nothing upward left; no smaller size measured' : 'one probe between the largest size that ran and the one that failed'}`
        : c.enables
        ? 'no single move predicted to pay; this one opens the best two-move path the model predicts'
        : c.explore ? 'no move predicted to pay; the smallest untried step of the knob the verdict names first' : 'the largest predicted gain (the verdict\'s knob first among near ties, then the smallest step)',
      predicted_basis: c.basis,
      predicted_gain: c.predictedGain === null ? null : round(c.predictedGain),
      model_compute: model.compute?.basis ?? null,
      model_loading: model.loadCpu?.basis ?? model.loadWall?.basis ?? null,
      model_loader_cores: Number.isFinite(model.loaderCores) ? round(model.loaderCores, 3) : null,
      model_storage_wait_per_sample_s: round(model.latencyPerSample),
      load_seconds_per_batch: load === null ? null : round(load),
      cpu_budget_cores: x.budgetCores,
      cpu_budget_source: x.budgetSource,
      trials_so_far: trials,
      model_earned_jump: record.earned,
      model_record: record.words,
      job_changed_at: changedAt,
      b_noise: bNoise,
      ...(lrRule ? { lr_rule: lrRule } : {}),
    },
    predictedGain: c.predictedGain,
    search,
    bNoise,
    jobChangedAt: changedAt,
  };
}
