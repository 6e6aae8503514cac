// What the metrics read, and from whom: the sampler's latest tick and the
// store's live runs. registry.ts re-exports these for the server.
import type { RankFigures } from '../../tuner/stragglers.js';
import type { GpuInventory, ProcessTreeReading, Snapshot } from '../../collectors/readings.js';
import type { RunState } from '../../domain/run-states.js';
import type { BottleneckKind } from '../../tuner/classify.js';
import type { RunConfig } from '../../domain/config.js';
import type { StepPoint } from '../../domain/steps.js';
import { windowStats, type WindowStats } from './recent-rates.js';


export interface RunMetricsView {
  id: string;
  /** The `run` label value: the run name, made unique among live runs by the store. */
  label: string;
  state: RunState;
  config: RunConfig;
  stepsTotal: number;
  samplesTotal: number;
  /** The last ≤ 256 step reports, for the window ratios. */
  recentSteps: StepPoint[];
  lastLoss: number | null;
  /** The current bottleneck kind, null until known. */
  bottleneck: BottleneckKind | null;
  process: ProcessTreeReading | null;
  /** The run's GPU energy over its steps (server/runs/energy.ts); null without GPUs attributed. */
  energy?: { joules: number; samples: number } | null;
  decisions: Array<{ knob: string; action: string; count: number }>;
  /** Data-parallel runs: the ranks this sidecar knows of (empty otherwise). */
  ranks?: RankMetricsView[];
}

export interface RankMetricsView extends RankFigures {
  straggler: boolean;
}

export interface MetricsSource {
  /** The latest sampler tick. */
  snapshot(): Snapshot | undefined;
  gpuInventory(): GpuInventory | undefined;
  /** Live runs and runs that ended less than 5 minutes ago; a run left out has its series removed. */
  runs(): RunMetricsView[];
}

/** Everything one scrape reads, read once so every family sees the same state. */
export interface ScrapeFrame {
  snapshot: Snapshot | undefined;
  inventory: GpuInventory | undefined;
  runs: RunMetricsView[];
  /** The run's window ratios, computed once per scrape. */
  window(run: RunMetricsView): WindowStats;
}

export function readFrame(source: MetricsSource): ScrapeFrame {
  const windows = new Map<RunMetricsView, WindowStats>();
  return {
    snapshot: source.snapshot(),
    inventory: source.gpuInventory(),
    runs: source.runs(),
    window(run) {
      let w = windows.get(run);
      if (!w) windows.set(run, (w = windowStats(run.recentSteps)));
      return w;
    },
  };
}
