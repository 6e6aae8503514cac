// Per-run families, every series labelled `run`. Computed from the store's view
// of each run at scrape time, so a run the store stops listing (5 minutes after
// it ends) loses its series at the next scrape.
import { METRICS, type MetricSpec } from './catalogue.js';
import { ScrapeFamily, type Emit } from './family.js';
import { uuidOf } from './gpu.js';
import { RUN_STATES } from '../../domain/run-states.js';
import { BOTTLENECK_KINDS } from '../../tuner/classify.js';
import { joulesPerSample } from '../runs/energy.js';
import type { RunMetricsView, ScrapeFrame } from './source.js';

type RunValue = (run: RunMetricsView) => number | null | undefined;

// In the order they print: gauges, then counters.
const SIMPLE: Array<[MetricSpec, RunValue]> = [
  [METRICS.run_loss, (r) => r.lastLoss],
  [METRICS.run_batch_size, (r) => r.config.batch_size],
  [METRICS.run_learning_rate, (r) => r.config.learning_rate],
  [METRICS.run_dataloader_workers, (r) => r.config.num_workers],
  [METRICS.run_grad_accum_steps, (r) => r.config.grad_accum_steps],
  [METRICS.run_process_resident_memory_bytes, (r) => r.process?.residentMemoryBytes],
  [METRICS.run_process_workers, (r) => r.process?.workerCount],
  [METRICS.run_joules_per_sample, (r) => joulesPerSample(r.energy ?? null)],
  [METRICS.run_steps_total, (r) => r.stepsTotal],
  [METRICS.run_samples_total, (r) => r.samplesTotal],
  [METRICS.run_energy_joules_total, (r) => r.energy?.joules],
  [METRICS.run_process_cpu_seconds_total, (r) => r.process?.cpuSecondsTotal],
];

export function runFamilies(frame: () => ScrapeFrame): ScrapeFamily[] {
  const perRun = (fn: (run: RunMetricsView, emit: Emit, f: ScrapeFrame) => void) => (emit: Emit) => {
    const f = frame();
    for (const run of f.runs) fn(run, emit, f);
  };
  return [
    new ScrapeFamily(METRICS.run_info, perRun((r, emit) => {
      emit({ run: r.label, id: r.id }, 1);
    })),
    new ScrapeFamily(METRICS.run_state, perRun((r, emit) => {
      for (const state of RUN_STATES) emit({ run: r.label, state }, r.state === state ? 1 : 0);
    })),
    new ScrapeFamily(METRICS.run_data_wait_ratio, perRun((r, emit, f) => {
      emit({ run: r.label }, f.window(r).dataWaitRatio);
    })),
    new ScrapeFamily(METRICS.run_samples_per_second, perRun((r, emit, f) => {
      emit({ run: r.label }, f.window(r).samplesPerSecond);
    })),
    ...SIMPLE.map(([spec, value]) => new ScrapeFamily(spec, perRun((r, emit) => emit({ run: r.label }, value(r))))),
    new ScrapeFamily(METRICS.run_gpu_memory_used_bytes, perRun((r, emit, f) => {
      const byGpu = r.process?.gpuMemoryBytes ?? {};
      for (const gpu of Object.keys(byGpu).sort((a, b) => Number(a) - Number(b))) {
        emit({ run: r.label, gpu, uuid: uuidOf(f, gpu) }, byGpu[gpu]);
      }
    })),
    // Every kind is exported 0 or 1 per run, so "current bottleneck" is one `== 1` away.
    new ScrapeFamily(METRICS.run_bottleneck, perRun((r, emit) => {
      for (const kind of BOTTLENECK_KINDS) emit({ run: r.label, kind }, r.bottleneck === kind ? 1 : 0);
    })),
    new ScrapeFamily(METRICS.tuner_decisions_total, perRun((r, emit) => {
      for (const d of r.decisions) emit({ run: r.label, knob: d.knob, action: d.action }, d.count);
    })),
  ];
}
