// Per-run families, every series labelled `run`. Computed from the store's view
// of each run at scrape time, so a run the store stops listing (5 minutes after
// it ends) loses its series at the next scrape.
import { ScrapeFamily, type Emit } from './family.js';
import { uuidOf } from './gpu.js';
import { RUN_STATES, type RunMetricsView, type ScrapeFrame } from './source.js';

/** DESIGN §6. Each is exported 0 or 1 per run, so "current bottleneck" is one `== 1` away. */
export const BOTTLENECK_KINDS = [
  'input_bound', 'gpu_underutilized', 'gpu_memory_pressure', 'host_memory_pressure',
  'cpu_saturated', 'io_bound', 'gpu_throttled', 'compute_bound', 'warming_up',
] as const;

type RunValue = (run: RunMetricsView) => number | null | undefined;

const GAUGES: Array<[name: string, help: string, value: RunValue]> = [
  ['trainpilot_run_loss', 'Loss in the run\'s latest step report.', (r) => r.lastLoss],
  ['trainpilot_run_batch_size', 'Per-step batch size in the run\'s current config.', (r) => r.config.batch_size],
  ['trainpilot_run_learning_rate', 'Learning rate in the run\'s current config.', (r) => r.config.learning_rate],
  ['trainpilot_run_dataloader_workers', 'Data-loader workers in the run\'s current config.', (r) => r.config.num_workers],
  ['trainpilot_run_grad_accum_steps', 'Gradient-accumulation steps in the run\'s current config.', (r) => r.config.grad_accum_steps],
  ['trainpilot_run_process_resident_memory_bytes', 'Resident memory of the run\'s process tree.', (r) => r.process?.residentMemoryBytes],
  ['trainpilot_run_process_workers', 'Live descendants of the run\'s process (data-loader workers and friends).', (r) => r.process?.workerCount],
];

const COUNTERS: Array<[name: string, help: string, value: RunValue]> = [
  ['trainpilot_run_steps_total', 'Step reports received for the run.', (r) => r.stepsTotal],
  ['trainpilot_run_samples_total', 'Samples the run reported processing.', (r) => r.samplesTotal],
  // Children that exit take their CPU time with them; Prometheus reads the drop as a counter reset.
  ['trainpilot_run_process_cpu_seconds_total', 'User and system CPU time of the run\'s live process tree.', (r) => r.process?.cpuSecondsTotal],
];

export function runFamilies(frame: () => ScrapeFrame): ScrapeFamily[] {
  const perRun = (fn: (run: RunMetricsView, emit: Emit, f: ScrapeFrame) => void) => (emit: Emit) => {
    const f = frame();
    for (const run of f.runs) fn(run, emit, f);
  };
  return [
    new ScrapeFamily('trainpilot_run_info', 'Identity of each run; always 1.', 'gauge', perRun((r, emit) => {
      emit({ run: r.label, id: r.id }, 1);
    })),
    new ScrapeFamily('trainpilot_run_state', 'The run\'s state: 1 for the current one, 0 for the others.', 'gauge', perRun((r, emit) => {
      for (const state of RUN_STATES) emit({ run: r.label, state }, r.state === state ? 1 : 0);
    })),
    new ScrapeFamily('trainpilot_run_data_wait_ratio', 'Share of step time spent waiting for input over the last minute of steps, 0-1.', 'gauge', perRun((r, emit, f) => {
      emit({ run: r.label }, f.window(r).dataWaitRatio);
    })),
    new ScrapeFamily('trainpilot_run_samples_per_second', 'Samples per wall-clock second over the last minute of steps.', 'gauge', perRun((r, emit, f) => {
      emit({ run: r.label }, f.window(r).samplesPerSecond);
    })),
    ...GAUGES.map(([name, help, value]) => new ScrapeFamily(name, help, 'gauge', perRun((r, emit) => emit({ run: r.label }, value(r))))),
    ...COUNTERS.map(([name, help, value]) => new ScrapeFamily(name, help, 'counter', perRun((r, emit) => emit({ run: r.label }, value(r))))),
    new ScrapeFamily('trainpilot_run_gpu_memory_used_bytes', 'Device memory held by the run\'s processes, data-loader workers included.', 'gauge', perRun((r, emit, f) => {
      const byGpu = r.process?.gpuMemoryBytes ?? {};
      for (const gpu of Object.keys(byGpu).sort((a, b) => Number(a) - Number(b))) {
        emit({ run: r.label, gpu, uuid: uuidOf(f, gpu) }, byGpu[gpu]);
      }
    })),
    new ScrapeFamily('trainpilot_run_bottleneck', 'What holds the run back: 1 for the current kind, 0 for the others (all 0 until known).', 'gauge', perRun((r, emit) => {
      for (const kind of BOTTLENECK_KINDS) emit({ run: r.label, kind }, r.bottleneck === kind ? 1 : 0);
      if (r.bottleneck !== null && !(BOTTLENECK_KINDS as readonly string[]).includes(r.bottleneck)) {
        emit({ run: r.label, kind: r.bottleneck }, 1);
      }
    })),
    new ScrapeFamily('trainpilot_tuner_decisions_total', 'Decisions the tuner made for the run, by knob and action.', 'counter', perRun((r, emit) => {
      for (const d of r.decisions) emit({ run: r.label, knob: d.knob, action: d.action }, d.count);
    })),
  ];
}
