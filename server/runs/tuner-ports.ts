// The tuner loop's ports (tuner/loop.ts TunerPorts) over the live state of runs: windows built by
// the one window builder (tuner/run-window.ts), decisions written through the store.
import type { TunerPorts } from '../../tuner/loop.js';
import { appliesDecision, buildWindow } from '../../tuner/run-window.js';
import type { Window } from '../../tuner/window.js';
import type { RunHub } from './hub.js';

/** How many of a run's newest events and decisions a window carries. */
export const WINDOW_EVENTS = 200;
export const WINDOW_DECISIONS = 100;

export function createTunerPorts(hub: RunHub): TunerPorts {
  const { store } = hub;
  return {
    activeRunIds: () => store.activeRuns().map((r) => r.id),
    readWindow(runId: string): Window | undefined {
      const run = store.findRun(runId);
      if (!run) return undefined;
      const l = hub.live(run);
      const snap = hub.snapshot();
      return buildWindow({
        run,
        now: store.now(),
        steps: l.recent,
        events: store.events(runId, WINDOW_EVENTS),
        decisions: store.decisions(runId, WINDOW_DECISIONS),
        oomBatchSizes: store.oomBatchSizes(runId),
        host: snap?.host ?? null,
        gpus: snap?.gpus ?? null,
        process: l.process,
        processHistory: l.processHistory,
      });
    },
    applyDecision(runId, d) {
      const run = store.getRun(runId);
      const apply = appliesDecision(run, d);
      const rec = store.addDecision(runId, d, { apply, step: hub.live(run).recent.at(-1)?.step ?? null });
      if (apply) hub.versionChanged(runId);
      return rec;
    },
    setOutcome: (runId, decisionId, outcome) => store.setOutcome(runId, decisionId, outcome),
    setStatus: (runId, status) => hub.setStatus(runId, status),
  };
}
