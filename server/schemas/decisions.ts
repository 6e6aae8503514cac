import { Type } from 'typebox';
import { FreeObject } from './common.js';

const nullableNumber = Type.Union([Type.Number(), Type.Null()]);

/** A measured configuration's figures (domain/measured.ts), in the API's snake case. */
export const MeasuredPointView = Type.Object({
  batch_size: Type.Number(),
  num_workers: Type.Number(),
  grad_accum_steps: Type.Number(),
  steps: Type.Number({ description: 'steady steps measured' }),
  samples_per_second: Type.Number({ description: "the job's samples/s over step time" }),
  step_seconds: Type.Number(),
  compute_seconds: Type.Number({ description: 'step time minus data wait' }),
  data_wait_ratio: Type.Number(),
  rel_noise: Type.Number({ description: 'relative standard error of the mean step time' }),
  mem_peak_bytes: nullableNumber,
  loss: nullableNumber,
  loss_sigma: Type.Number(),
  gpu_memory_used_bytes: Type.Optional(nullableNumber),
  process_cpu_cores: nullableNumber,
  worker_busy_ratio: nullableNumber,
});

export const DecisionView = Type.Object({
  id: Type.Integer(),
  ts: Type.Number(),
  step: Type.Union([Type.Integer(), Type.Null()]),
  knob: Type.String(),
  action: Type.String(),
  reason: Type.String(),
  evidence: FreeObject,
  config_before: FreeObject,
  config_after: FreeObject,
  advice: Type.Array(FreeObject),
  recommend_only: Type.Boolean(),
  config_version: Type.Union([Type.Integer(), Type.Null()]),
  outcome: FreeObject,
  measured_before: Type.Union([MeasuredPointView, Type.Null()], {
    description: 'the configuration as measured before the change (the evidence\'s before_* figures without the prefix); null when it was not measured yet',
  }),
});
