// trainpilot / Run: one training run — throughput, step time, input wait, loss,
// the knobs the tuner turns (its decisions as annotations), the bottleneck it
// sees, each rank of a data-parallel run side by side with its stragglers, and the run's GPUs
// (their GPM activity where they have it, the run's energy per sample) and process tree.
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import {
  DATASOURCE, INSTANCE, baseDashboard, datasourceVariable, flagTimeline, instanceVariable, labelVariable, panelIds, row, target, timeSeries,
} from './common.js';

const RUN = `${INSTANCE}, run="$run"`;
const DECISIONS = `trainpilot_tuner_decisions_total{${RUN}}`;

const quantile = (refId: string, q: number) => target(
  refId,
  `histogram_quantile(${q}, sum by (le) (rate(trainpilot_run_step_duration_seconds_bucket{${RUN}}[$__rate_interval])))`,
  `p${Math.round(q * 100)}`,
);

/**
 * The run's GPUs: those its processes hold memory on, or every GPU of the
 * instance when the sidecar cannot see which (the processes live in another
 * PID namespace, or nvidia-smi lists none) — the same rule as the tuner's window.
 */
const runGpus = (metric: string) =>
  `${metric}{${INSTANCE}} and on(instance, gpu) trainpilot_run_gpu_memory_used_bytes{${RUN}}`
  + ` or (${metric}{${INSTANCE}} unless on(instance) trainpilot_run_gpu_memory_used_bytes{${RUN}})`;

/** A per-rank series with its rank's node beside it (trainpilot_run_rank_info). */
const byRank = (metric: string) =>
  `${metric}{${RUN}} * on(instance, run, rank) group_left(node) trainpilot_run_rank_info{${RUN}}`;

export function runDashboard(): dashboard.Dashboard {
  const id = panelIds();
  return baseDashboard('trainpilot-run', 'trainpilot / Run', 'One training run: throughput, step time, input wait, loss, tuned knobs, bottleneck and resources.')
    .withVariable(datasourceVariable())
    .withVariable(instanceVariable())
    .withVariable(labelVariable('run', 'Run', 'label_values(trainpilot_run_info{instance=~"$instance"}, run)'))
    .annotation(new dashboard.AnnotationQueryBuilder()
      .name('Tuner decisions').datasource(DATASOURCE).enable(true).iconColor('orange')
      // A decision shows as a change of its counter, or as a new series (the first decision of a knob and action).
      .expr(`changes(${DECISIONS}[$__interval]) > 0 or (${DECISIONS} unless ${DECISIONS} offset $__interval)`)
      .titleFormat('{{knob}} {{action}}').tagKeys('knob,action').step('$__interval'))
    .withRow(row(id(), 'Throughput'))
    .withPanel(timeSeries({
      id: id(), title: 'Samples per second', unit: 'short', min: 0,
      description: 'Samples per wall-clock second over the last minute of steps (sidecar window), and the rate of the sample counter.',
      targets: [
        target('A', `trainpilot_run_samples_per_second{${RUN}}`, 'window'),
        target('B', `rate(trainpilot_run_samples_total{${RUN}}[$__rate_interval])`, 'counter rate'),
      ],
    }))
    .withPanel(timeSeries({
      id: id(), title: 'Step time', unit: 's', min: 0,
      description: 'Step-duration quantiles from the trainpilot_run_step_duration_seconds histogram.',
      targets: [quantile('A', 0.5), quantile('B', 0.9), quantile('C', 0.99)],
    }))
    .withPanel(timeSeries({
      id: id(), title: 'Data-wait ratio', unit: 'percentunit', min: 0, max: 1,
      description: 'Share of step time spent waiting for the input pipeline; high means input-bound (more workers or faster storage help).',
      targets: [target('A', `trainpilot_run_data_wait_ratio{${RUN}}`, 'data wait')],
    }))
    .withPanel(timeSeries({
      id: id(), title: 'Loss', unit: 'none',
      description: 'Loss in the latest step report.',
      targets: [target('A', `trainpilot_run_loss{${RUN}}`, 'loss')],
    }))
    .withRow(row(id(), 'Tuning'))
    .withPanel(timeSeries({
      id: id(), title: 'Batch size and workers', unit: 'short', min: 0, span: 8,
      description: 'The knobs in the run\'s current config; annotations mark the tuner\'s decisions.',
      targets: [
        target('A', `trainpilot_run_batch_size{${RUN}}`, 'batch size'),
        target('B', `trainpilot_run_dataloader_workers{${RUN}}`, 'data-loader workers'),
        target('C', `trainpilot_run_grad_accum_steps{${RUN}}`, 'grad accumulation steps'),
      ],
    }))
    .withPanel(timeSeries({
      id: id(), title: 'Learning rate', unit: 'none', min: 0, span: 8,
      description: 'Learning rate in the run\'s current config.',
      targets: [target('A', `trainpilot_run_learning_rate{${RUN}}`, 'learning rate')],
    }))
    .withPanel(flagTimeline({
      id: id(), title: 'Bottleneck', unit: 'none', span: 8, on: 'current', off: '', color: 'orange',
      description: 'What holds the run back, as the tuner classifies it (GET /v1/runs/:id gives the evidence); no row is lit until it knows.',
      targets: [target('A', `max by (kind) (trainpilot_run_bottleneck{${RUN}})`, '{{kind}}')],
    }))
    // Data-parallel runs (DESIGN §9): rank 0's sidecar has every rank, a node's sidecar its own.
    .withRow(row(id(), 'Ranks (data parallel)'))
    .withPanel(timeSeries({
      id: id(), title: 'Samples per second by rank', unit: 'short', min: 0, span: 8,
      description: 'Each rank\'s samples over its step time, side by side (rank 0\'s sidecar gets every rank through the job\'s own collective).',
      targets: [target('A', byRank('trainpilot_run_rank_samples_per_second'), 'rank {{rank}} ({{node}})')],
    }))
    .withPanel(timeSeries({
      id: id(), title: 'Data wait by rank', unit: 'percentunit', min: 0, max: 1, span: 8,
      description: 'Share of each rank\'s step time spent waiting for input: a rank far above the others holds the whole job back.',
      targets: [target('A', byRank('trainpilot_run_rank_data_wait_ratio'), 'rank {{rank}} ({{node}})')],
    }))
    .withPanel(timeSeries({
      id: id(), title: 'Step time by rank', unit: 's', min: 0, span: 8,
      description: 'Each rank\'s mean step time over its recent summaries.',
      targets: [target('A', byRank('trainpilot_run_rank_step_seconds'), 'rank {{rank}} ({{node}})')],
    }))
    .withPanel(flagTimeline({
      id: id(), title: 'Stragglers', unit: 'none', on: 'straggler', off: 'in step', color: 'red', offColor: 'green',
      description: 'Ranks that hold the others back beyond noise (GET /v1/runs/:id names them, their node and why in the bottleneck evidence).',
      targets: [target('A', `max by (rank, node) (${byRank('trainpilot_run_rank_straggler')})`, 'rank {{rank}} on {{node}}')],
    }))
    .withRow(row(id(), 'Resources'))
    .withPanel(timeSeries({
      id: id(), title: 'The run\'s GPUs: utilisation', unit: 'percentunit', min: 0, max: 1,
      description: 'GPUs the run\'s processes hold memory on (every GPU of the instance when that is unknown).',
      targets: [target('A', runGpus('trainpilot_gpu_utilization_ratio'), 'GPU {{gpu}}')],
    }))
    .withPanel(timeSeries({
      id: id(), title: 'The run\'s GPU memory', unit: 'bytes', min: 0,
      description: 'Device memory the run\'s processes hold, data-loader workers included; the whole GPU\'s use when the processes are not visible.',
      targets: [target('A', `trainpilot_run_gpu_memory_used_bytes{${RUN}} or (trainpilot_gpu_memory_used_bytes{${INSTANCE}} unless on(instance) trainpilot_run_gpu_memory_used_bytes{${RUN}})`, 'GPU {{gpu}}')],
    }))
    .withPanel(timeSeries({
      id: id(), title: 'The run\'s GPUs: activity (GPM)', unit: 'percentunit', min: 0, max: 1,
      description: 'What utilisation hides (NVML GPM, Hopper and newer): share of SMs busy and of time on tensor cores. No line on GPUs without GPM. A busy GPU with idle tensor cores is a mixed-precision candidate.',
      targets: [
        target('A', runGpus('trainpilot_gpu_sm_active_ratio'), 'GPU {{gpu}} SM active'),
        target('B', runGpus('trainpilot_gpu_tensor_active_ratio'), 'GPU {{gpu}} tensor active'),
      ],
    }))
    .withPanel(timeSeries({
      id: id(), title: 'Energy per sample', unit: 'joule', min: 0,
      description: 'Joules the run\'s GPUs drew per sample: their power integrated over the run\'s steps, over the whole run, and over the last rate interval.',
      targets: [
        target('A', `trainpilot_run_joules_per_sample{${RUN}}`, 'whole run'),
        target('B', `rate(trainpilot_run_energy_joules_total{${RUN}}[$__rate_interval]) / rate(trainpilot_run_samples_total{${RUN}}[$__rate_interval])`, 'recent'),
      ],
    }))
    .withPanel(timeSeries({
      id: id(), title: 'Process tree CPU', unit: 'short', min: 0, span: 8,
      description: 'CPU cores the run\'s process tree uses (CPU seconds per second), data-loader workers included.',
      targets: [target('A', `rate(trainpilot_run_process_cpu_seconds_total{${RUN}}[$__rate_interval])`, 'cores')],
    }))
    .withPanel(timeSeries({
      id: id(), title: 'Process tree memory', unit: 'bytes', min: 0, span: 8,
      description: 'Resident memory summed over the run\'s process tree.',
      targets: [target('A', `trainpilot_run_process_resident_memory_bytes{${RUN}}`, 'RSS')],
    }))
    .withPanel(timeSeries({
      id: id(), title: 'Live worker processes', unit: 'short', min: 0, span: 8,
      description: 'Live descendants of the run\'s process (data-loader workers and friends), against the configured workers.',
      targets: [
        target('A', `trainpilot_run_process_workers{${RUN}}`, 'live'),
        target('B', `trainpilot_run_dataloader_workers{${RUN}}`, 'configured'),
      ],
    }))
    .build();
}
