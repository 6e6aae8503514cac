// Per-rank families of data-parallel runs (DESIGN §9), labelled `run` and `rank`: the rank label
// is bounded by the job's world size, and goes with the run's series when the run is dropped.
import { METRICS, type MetricSpec } from './catalogue.js';
import { ScrapeFamily, type Emit } from './family.js';
import type { RankMetricsView, ScrapeFrame } from './source.js';

type RankValue = (r: RankMetricsView) => number | null;

const VALUES: Array<[MetricSpec, RankValue]> = [
  [METRICS.run_rank_samples_per_second, (r) => r.samplesPerSecond],
  [METRICS.run_rank_step_seconds, (r) => r.stepSeconds],
  [METRICS.run_rank_data_wait_ratio, (r) => r.dataWaitRatio],
  [METRICS.run_rank_last_step, (r) => r.lastStep],
  [METRICS.run_rank_straggler, (r) => (r.straggler ? 1 : 0)],
];

export function rankFamilies(frame: () => ScrapeFrame): ScrapeFamily[] {
  const perRank = (fn: (run: string, r: RankMetricsView, emit: Emit) => void) => (emit: Emit) => {
    for (const run of frame().runs) for (const r of run.ranks ?? []) fn(run.label, r, emit);
  };
  return [
    new ScrapeFamily(METRICS.run_rank_info, perRank((run, r, emit) => emit({ run, rank: String(r.rank), node: r.node ?? '' }, 1))),
    ...VALUES.map(([spec, value]) => new ScrapeFamily(spec, perRank((run, r, emit) => emit({ run, rank: String(r.rank) }, value(r))))),
  ];
}
