// Adapts the store's live runs to what server/metrics reads at scrape time.
import type { GpuInventory } from '../../collectors/readings.js';
import type { MetricsSource, RunMetricsView } from './registry.js';
import { NO_CONFIG } from '../../store/runs.js';
import type { Store } from '../../store/store.js';

/** A run's series stay this long after it ends, then disappear (bounded label cardinality). */
export const ENDED_RUN_KEEP_S = 300;


export function metricsSource(store: Store, inventory: () => GpuInventory | undefined): MetricsSource {
  return {
    snapshot: () => store.snapshot(),
    gpuInventory: inventory,
    runs(): RunMetricsView[] {
      const out: RunMetricsView[] = [];
      for (const id of store.liveRunIds()) {
        let run;
        try {
          run = store.getRun(id);
        } catch {
          continue; // removed by retention
        }
        if (run.endedAt !== null && store.now() - run.endedAt > ENDED_RUN_KEEP_S) continue;
        const live = store.live(run);
        out.push({
          id: run.id,
          label: store.label(run),
          state: run.state,
          config: run.config ?? NO_CONFIG,
          stepsTotal: live.stepsTotal,
          samplesTotal: live.samplesTotal,
          recentSteps: live.recent.slice(-256),
          lastLoss: live.lastLoss,
          bottleneck: live.status?.bottleneck ?? null,
          process: live.process,
          decisions: [...live.decisionCounts].map(([k, count]) => {
            const [knob, action] = k.split('\u0000');
            return { knob, action, count };
          }),
        });
      }
      return out;
    },
  };
}
