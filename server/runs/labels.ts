// Each run's `run` label on /metrics: its name, or name-<id suffix> when another run in memory
// already holds that label. Given once, when the run enters memory, so a run's series never
// change label while it lives.
import type { RunRecord } from '../../store/runs.js';

export function createLabels() {
  const labels = new Map<string, string>();
  return {
    of(run: RunRecord): string {
      let label = labels.get(run.id);
      // An ended run seen only through a listing reserves nothing: its series are gone.
      if (label === undefined && run.state !== 'running') return run.name;
      if (label === undefined) {
        const taken = new Set(labels.values());
        label = taken.has(run.name) ? `${run.name}-${run.id.slice(-6)}` : run.name;
        labels.set(run.id, label);
      }
      return label;
    },
    forget(runId: string): void {
      labels.delete(runId);
    },
  };
}
