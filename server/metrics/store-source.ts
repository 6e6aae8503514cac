// Adapts the live runs (server/runs/hub.ts) to what the metrics read at scrape time.
import type { GpuInventory } from '../../collectors/readings.js';
import type { MetricsSource, RunMetricsView } from './registry.js';
import { NO_CONFIG } from '../../tuner/run-window.js';
import type { RunHub } from '../runs/hub.js';

/** A run's series stay this long after it ends, then disappear (bounded label cardinality). */
export const ENDED_RUN_KEEP_S = 300;


export function metricsSource(hub: RunHub, inventory: () => GpuInventory | undefined): MetricsSource {
  return {
    snapshot: () => hub.snapshot(),
    gpuInventory: inventory,
    runs(): RunMetricsView[] {
      const out: RunMetricsView[] = [];
      for (const id of hub.liveRunIds()) {
        const run = hub.findRun(id);
        if (!run) continue; // removed by retention
        if (run.endedAt !== null && hub.now() - run.endedAt > ENDED_RUN_KEEP_S) continue;
        const live = hub.live(run);
        const rv = hub.rankViews(run);
        const slow = new Set(rv.stragglers?.ranks ?? []);
        out.push({
          id: run.id,
          label: hub.label(run),
          state: run.state,
          config: run.config ?? NO_CONFIG,
          stepsTotal: live.stepsTotal,
          samplesTotal: live.samplesTotal,
          recentSteps: live.recent.slice(-256),
          lastLoss: live.lastLoss,
          bottleneck: live.status?.bottleneck ?? null,
          process: live.process,
          energy: live.energy,
          decisions: hub.decisionCounts(run.id).map((c) => ({ knob: c.knob, action: c.action, count: c.n })),
          ranks: rv.figures.map((f) => ({
            rank: f.rank, node: f.node, samplesPerSecond: f.samplesPerSecond, stepSeconds: f.stepSeconds,
            dataWaitRatio: f.dataWaitRatio, lastStep: f.lastStep, straggler: slow.has(f.rank),
          })),
        });
      }
      return out;
    },
  };
}
