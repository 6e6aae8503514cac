// The sidecar measuring itself: build, collector health, sample freshness, runs by state.
// Modelled on node_exporter's node_scrape_collector_{success,duration_seconds}.
import { ScrapeFamily } from './family.js';
import { RUN_STATES, type ScrapeFrame } from './source.js';

export function selfFamilies(frame: () => ScrapeFrame, version: string): ScrapeFamily[] {
  const health = () => frame().snapshot?.health ?? [];
  return [
    new ScrapeFamily('trainpilot_build_info', 'The running trainpilot build; always 1.', 'gauge', (emit) => {
      emit({ version }, 1);
    }),
    new ScrapeFamily('trainpilot_collector_up', 'Whether the collector\'s last attempt succeeded (1) or not (0).', 'gauge', (emit) => {
      for (const h of health()) emit({ collector: h.name }, h.up ? 1 : 0);
    }),
    new ScrapeFamily('trainpilot_collector_duration_seconds', 'How long the collector\'s last attempt took.', 'gauge', (emit) => {
      for (const h of health()) emit({ collector: h.name }, h.lastDurationSeconds);
    }),
    new ScrapeFamily('trainpilot_collector_errors_total', 'Failed collector attempts since the sidecar started.', 'counter', (emit) => {
      for (const h of health()) emit({ collector: h.name }, h.errorsTotal);
    }),
    new ScrapeFamily('trainpilot_collector_last_success_timestamp_seconds', 'Unix time of the collector\'s last successful attempt.', 'gauge', (emit) => {
      for (const h of health()) emit({ collector: h.name }, h.lastSuccessTs);
    }),
    new ScrapeFamily('trainpilot_last_sample_timestamp_seconds', 'Unix time of the sampler\'s latest tick.', 'gauge', (emit) => {
      emit({}, frame().snapshot?.ts);
    }),
    new ScrapeFamily('trainpilot_runs', 'Runs the sidecar reports on, by state (ended runs stay 5 minutes).', 'gauge', (emit) => {
      const runs = frame().runs;
      for (const state of RUN_STATES) emit({ state }, runs.filter((r) => r.state === state).length);
    }),
  ];
}
