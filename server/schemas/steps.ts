import { Type, type Static } from 'typebox';
import { UnixSeconds } from './common.js';

const Seconds = Type.Number({ minimum: 0, maximum: 86400 });

export const StepReport = Type.Object(
  {
    step: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }),
    duration_s: Seconds,
    data_wait_s: Seconds,
    samples: Type.Integer({ minimum: 0, maximum: 1e9 }),
    loss: Type.Optional(Type.Union([Type.Number({ minimum: -1e30, maximum: 1e30 }), Type.Null()])),
    // JSON has no NaN or infinity: a step whose loss was non-finite says so here, its loss null or left out
    // (DESIGN §4 leaves the way to the implementation; README "Step reports").
    loss_non_finite: Type.Optional(Type.Boolean({ description: 'true when the step\'s loss was NaN or ±inf; loss is then null or left out' })),
    ts: Type.Optional(UnixSeconds),
    mem_peak_bytes: Type.Optional(Type.Number({ minimum: 0, maximum: 1e15 })),
    grad_sq_norm: Type.Optional(Type.Number({ minimum: 0, maximum: 1e30 })),
    grad_sq_norm_small: Type.Optional(Type.Number({ minimum: 0, maximum: 1e30 })),
    rank: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
    world_size: Type.Optional(Type.Integer({ minimum: 1, maximum: 65536 })),
    config_version: Type.Optional(Type.Integer({ minimum: 1, maximum: 1e9 })),
    // torch.cuda.memory_stats() (docs/gpu.md): the client sends them on a step now and then.
    cuda_reserved_bytes: Type.Optional(Type.Number({ minimum: 0, maximum: 1e15, description: 'reserved_bytes.all.current' })),
    cuda_allocated_bytes: Type.Optional(Type.Number({ minimum: 0, maximum: 1e15, description: 'allocated_bytes.all.current' })),
    cuda_reserved_peak_bytes: Type.Optional(Type.Number({ minimum: 0, maximum: 1e15, description: 'reserved_bytes.all.peak' })),
    cuda_allocated_peak_bytes: Type.Optional(Type.Number({ minimum: 0, maximum: 1e15, description: 'allocated_bytes.all.peak' })),
    cuda_alloc_retries: Type.Optional(Type.Integer({ minimum: 0, maximum: 1e15, description: 'num_alloc_retries' })),
    cuda_ooms: Type.Optional(Type.Integer({ minimum: 0, maximum: 1e15, description: 'num_ooms' })),
  },
  { additionalProperties: false },
);
export type StepReportInput = Static<typeof StepReport>;

export const MAX_STEPS_PER_BATCH = 5000;

export const StepsBody = Type.Object(
  { steps: Type.Array(StepReport, { minItems: 1, maxItems: MAX_STEPS_PER_BATCH }) },
  { additionalProperties: false },
);

export const StepsAccepted = Type.Object({
  accepted: Type.Integer(),
  duplicates: Type.Integer({ description: 'reports of steps already stored (a retried batch); stored once' }),
  config_version: Type.Integer({ description: 'the newest config version: poll /config when it is above yours' }),
});

export const StepsQuery = Type.Object({
  after_step: Type.Optional(Type.Integer({ minimum: -1, maximum: Number.MAX_SAFE_INTEGER, default: -1 })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10000, default: 1000 })),
});

export const StepView = Type.Object({
  step: Type.Integer(), ts: Type.Number(), duration_s: Type.Number(), data_wait_s: Type.Number(), samples: Type.Integer(),
  loss: Type.Union([Type.Number(), Type.Null()]), loss_non_finite: Type.Optional(Type.Boolean()), mem_peak_bytes: Type.Union([Type.Number(), Type.Null()]),
  grad_sq_norm: Type.Union([Type.Number(), Type.Null()]), grad_sq_norm_small: Type.Union([Type.Number(), Type.Null()]),
  rank: Type.Integer(), world_size: Type.Integer(), config_version: Type.Integer(),
});

export const StepsPage = Type.Object({
  steps: Type.Array(StepView),
  next_after_step: Type.Union([Type.Integer(), Type.Null()], { description: 'pass as after_step for the next page; null at the end' }),
});
