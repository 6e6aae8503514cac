// Turns validated request bodies into store inputs: defaults, and the checks a schema can't say
// (relations between fields). Each failure names the field.
import type { RunConfig, TuneSettings } from '../domain/config.js';
import { NON_FINITE_LOSS, type StepPoint } from '../domain/steps.js';
import { DEFAULT_TUNE } from '../domain/tune-defaults.js';
import { badRequest } from './errors.js';
import type { ConfigInput, TuneInput } from './schemas/runs.js';
import type { StepReportInput } from './schemas/steps.js';

/** The step fields that carry torch.cuda.memory_stats() (server/schemas/steps.ts). */
const CUDA_FIELDS = ['cuda_reserved_bytes', 'cuda_allocated_bytes', 'cuda_reserved_peak_bytes', 'cuda_allocated_peak_bytes', 'cuda_alloc_retries', 'cuda_ooms'] as const;

export function toConfig(c: ConfigInput): RunConfig {
  const out: RunConfig = {
    batch_size: c.batch_size,
    learning_rate: c.learning_rate,
    num_workers: c.num_workers,
    grad_accum_steps: c.grad_accum_steps ?? 1,
  };
  if (c.lr_warmup_steps !== undefined) out.lr_warmup_steps = c.lr_warmup_steps;
  if (c.prefetch_factor !== undefined) out.prefetch_factor = c.prefetch_factor;
  if (c.persistent_workers !== undefined) out.persistent_workers = c.persistent_workers;
  if (c.pin_memory !== undefined) out.pin_memory = c.pin_memory;
  return out;
}

export function toTune(t: TuneInput | undefined, base: TuneSettings = DEFAULT_TUNE): TuneSettings {
  const tune: TuneSettings = {
    mode: t?.mode ?? base.mode,
    knobs: t?.knobs ?? base.knobs,
    optimizer: t?.optimizer ?? base.optimizer,
    lr_scaling: t?.lr_scaling ?? base.lr_scaling,
    keep_global_batch: t?.keep_global_batch ?? base.keep_global_batch,
    bounds: t?.bounds ?? base.bounds,
  };
  const budget = t?.host_memory_budget_bytes ?? base.host_memory_budget_bytes;
  if (budget !== undefined) tune.host_memory_budget_bytes = budget;
  for (const [knob, b] of Object.entries(tune.bounds)) {
    if (b && b.min > b.max) throw badRequest(`tune.bounds.${knob}: min ${b.min} is greater than max ${b.max}`);
  }
  return tune;
}

/** A config must sit inside the run's bounds, or the tuner would start outside them. */
export function checkConfigInBounds(config: RunConfig, tune: TuneSettings, field = 'config'): void {
  for (const knob of ['batch_size', 'num_workers', 'learning_rate', 'prefetch_factor'] as const) {
    const b = tune.bounds[knob];
    const v = config[knob];
    if (b && v !== undefined && (v < b.min || v > b.max)) {
      throw badRequest(`${field}.${knob}: ${v} is outside tune.bounds.${knob} [${b.min}, ${b.max}]`);
    }
  }
}

export function toStepPoints(reports: StepReportInput[], now: number): Array<Omit<StepPoint, 'configVersion'> & { configVersion: number | null }> {
  return reports.map((r, i) => {
    if (r.data_wait_s > r.duration_s) {
      throw badRequest(`steps[${i}].data_wait_s: ${r.data_wait_s} is greater than duration_s ${r.duration_s}`);
    }
    const worldSize = r.world_size ?? 1;
    const rank = r.rank ?? 0;
    if (rank >= worldSize) throw badRequest(`steps[${i}].rank: ${rank} must be below world_size ${worldSize}`);
    if (r.loss_non_finite === true && r.loss !== undefined && r.loss !== null) {
      throw badRequest(`steps[${i}].loss: must be null or left out when loss_non_finite is true`);
    }
    if (r.grad_sq_norm_small !== undefined && r.grad_sq_norm === undefined) {
      throw badRequest(`steps[${i}].grad_sq_norm: required when grad_sq_norm_small is given`);
    }
    const point: Omit<StepPoint, 'configVersion'> & { configVersion: number | null } = {
      step: r.step,
      ts: r.ts ?? now,
      durationS: r.duration_s,
      dataWaitS: r.data_wait_s,
      samples: r.samples,
      loss: r.loss_non_finite === true ? NON_FINITE_LOSS : r.loss ?? null,
      memPeakBytes: r.mem_peak_bytes ?? null,
      gradSqNorm: r.grad_sq_norm ?? null,
      gradSqNormSmall: r.grad_sq_norm_small ?? null,
      rank,
      worldSize,
      configVersion: r.config_version ?? null,
    };
    // Set on the point rather than spread into it: the spread made an object more per report
    // (docs/footprint.md, "Under load"). The store keeps this object as the stored point.
    if (CUDA_FIELDS.some((f) => r[f] !== undefined)) {
      point.cuda = {
        reservedBytes: r.cuda_reserved_bytes ?? null, allocatedBytes: r.cuda_allocated_bytes ?? null,
        reservedPeakBytes: r.cuda_reserved_peak_bytes ?? null, allocatedPeakBytes: r.cuda_allocated_peak_bytes ?? null,
        allocRetries: r.cuda_alloc_retries ?? null, ooms: r.cuda_ooms ?? null,
      };
    }
    return point;
  });
}
