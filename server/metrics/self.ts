// The sidecar measuring itself: build, collector health, sample freshness, runs by state.
// Modelled on node_exporter's node_scrape_collector_{success,duration_seconds}.
import { METRICS } from './catalogue.js';
import { ScrapeFamily } from './family.js';
import { RUN_STATES } from '../../domain/run-states.js';
import type { ScrapeFrame } from './source.js';

export function selfFamilies(frame: () => ScrapeFrame, version: string): ScrapeFamily[] {
  const health = () => frame().snapshot?.health ?? [];
  return [
    new ScrapeFamily(METRICS.build_info, (emit) => emit({ version }, 1)),
    new ScrapeFamily(METRICS.collector_up, (emit) => {
      for (const h of health()) emit({ collector: h.name }, h.up ? 1 : 0);
    }),
    new ScrapeFamily(METRICS.collector_duration_seconds, (emit) => {
      for (const h of health()) emit({ collector: h.name }, h.lastDurationSeconds);
    }),
    new ScrapeFamily(METRICS.collector_errors_total, (emit) => {
      for (const h of health()) emit({ collector: h.name }, h.errorsTotal);
    }),
    new ScrapeFamily(METRICS.collector_last_success_timestamp_seconds, (emit) => {
      for (const h of health()) emit({ collector: h.name }, h.lastSuccessTs);
    }),
    new ScrapeFamily(METRICS.last_sample_timestamp_seconds, (emit) => emit({}, frame().snapshot?.ts)),
    new ScrapeFamily(METRICS.runs, (emit) => {
      const runs = frame().runs;
      for (const state of RUN_STATES) emit({ state }, runs.filter((r) => r.state === state).length);
    }),
  ];
}
