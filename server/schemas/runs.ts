import { Type, type Static } from 'typebox';
import { RUN_STATES } from '../../domain/run-states.js';
import { KNOBS, LR_SCALINGS, OPTIMIZERS, TUNE_MODES } from '../../domain/config.js';
import { FreeObject, UnixSeconds } from './common.js';
import { RankView } from './rank-view.js';

// Each enumeration's schema is built from its owner's `as const` array: one list of values, and
// Static<> gives back the array's union.
export const RunState = Type.Enum(RUN_STATES);

export const Config = Type.Object(
  {
    batch_size: Type.Integer({ minimum: 1, maximum: 1 << 20 }),
    learning_rate: Type.Number({ exclusiveMinimum: 0, maximum: 1000 }),
    num_workers: Type.Integer({ minimum: 0, maximum: 1024 }),
    grad_accum_steps: Type.Optional(Type.Integer({ minimum: 1, maximum: 65536 })),
    lr_warmup_steps: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000 })),
    // The loader's other knobs (issue 22; additions to DESIGN §4): a job that can apply one sends it.
    prefetch_factor: Type.Optional(Type.Integer({ minimum: 1, maximum: 64, description: 'batches each data-loader worker loads ahead (only with workers)' })),
    persistent_workers: Type.Optional(Type.Boolean({ description: 'data-loader workers kept alive between epochs (only with workers)' })),
    pin_memory: Type.Optional(Type.Boolean({ description: 'batches in page-locked host memory (CUDA jobs only)' })),
  },
  { additionalProperties: false },
);
export type ConfigInput = Static<typeof Config>;

const Bound = (min: number, max: number, integer: boolean) =>
  Type.Object(
    integer
      ? { min: Type.Integer({ minimum: min, maximum: max }), max: Type.Integer({ minimum: min, maximum: max }) }
      : { min: Type.Number({ exclusiveMinimum: min, maximum: max }), max: Type.Number({ exclusiveMinimum: min, maximum: max }) },
    { additionalProperties: false },
  );

export const Knob = Type.Enum(KNOBS);
export const TuneMode = Type.Enum(TUNE_MODES);
export const Optimizer = Type.Enum(OPTIMIZERS);
export const LrScaling = Type.Enum(LR_SCALINGS);

export const Tune = Type.Object(
  {
    mode: Type.Optional(TuneMode),
    knobs: Type.Optional(Type.Array(Knob, { maxItems: KNOBS.length, uniqueItems: true })),
    optimizer: Type.Optional(Optimizer),
    lr_scaling: Type.Optional(LrScaling),
    keep_global_batch: Type.Optional(Type.Boolean()),
    host_memory_budget_bytes: Type.Optional(Type.Integer({
      minimum: 1, maximum: 2 ** 53,
      description: "host memory the job's process tree may hold, bytes: overrides the cgroup limit or available memory the loader's knobs stay within",
    })),
    bounds: Type.Optional(
      Type.Object(
        {
          batch_size: Type.Optional(Bound(1, 1 << 20, true)),
          num_workers: Type.Optional(Bound(0, 1024, true)),
          learning_rate: Type.Optional(Bound(0, 1000, false)),
          prefetch_factor: Type.Optional(Bound(1, 64, true)),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
export type TuneInput = Static<typeof Tune>;

/** Linux pids go up to 2^22 (kernel.pid_max's ceiling). */
const Pid = Type.Integer({ minimum: 1, maximum: 4194304 });

/**
 * The CPU budget the job read from inside itself (its affinity mask, its own cgroup's quota): it wins
 * over what the sidecar reads through /proc/PID, since the job sees its own container's cgroup files.
 */
export const CpuBudgetReport = Type.Object(
  {
    cores: Type.Number({ exclusiveMinimum: 0, maximum: 65536, description: 'cores the job may use' }),
    source: Type.String({ minLength: 1, maxLength: 200, description: 'where it was read, e.g. "sched_getaffinity 8, cgroup cpu.max 4"' }),
  },
  { additionalProperties: false },
);

export const PatchRunBody = Type.Object({ pid: Pid }, { additionalProperties: false });

export const RegisterBody = Type.Object(
  {
    name: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._:@+-]{0,127}$', description: 'letters, digits and . _ : @ + - (1–128)' }),
    pid: Type.Optional(Pid),
    config: Type.Optional(Config),
    tune: Type.Optional(Tune),
    cpu_budget: Type.Optional(CpuBudgetReport),
  },
  { additionalProperties: false },
);
export type RegisterInput = Static<typeof RegisterBody>;

export const SetConfigBody = Type.Object(
  {
    config: Config,
    tune: Type.Optional(Tune),
    expected_version: Type.Optional(Type.Integer({ minimum: 0, description: '409 unless the run is at this version' })),
    reason: Type.Optional(Type.String({ maxLength: 500 })),
  },
  { additionalProperties: false },
);

const NullableNumber = Type.Union([Type.Number(), Type.Null()]);

export const TuneView = Type.Object({
  mode: TuneMode, knobs: Type.Array(Knob), optimizer: Optimizer, lr_scaling: LrScaling,
  keep_global_batch: Type.Boolean(), bounds: FreeObject,
  host_memory_budget_bytes: Type.Optional(Type.Integer()),
});

export const AdviceView = Type.Object({ code: Type.String(), title: Type.String(), why: Type.String() });

export const RunView = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    label: Type.String({ description: 'the value of the `run` label on its metrics' }),
    pid: Type.Union([Type.Integer(), Type.Null()]),
    state: RunState,
    created_at: UnixSeconds,
    ended_at: Type.Union([Type.Number(), Type.Null()]),
    config: Type.Union([FreeObject, Type.Null()]),
    config_version: Type.Integer(),
    applied_version: Type.Integer(),
    tune: TuneView,
    bottleneck: Type.Union([Type.Object({ kind: Type.String(), evidence: FreeObject }), Type.Null()]),
    advice: Type.Array(AdviceView),
    summary: Type.Object({
      steps: Type.Integer(),
      samples: Type.Number(),
      samples_per_second: NullableNumber,
      step_duration_seconds_p50: NullableNumber,
      data_wait_ratio: NullableNumber,
      last_loss: NullableNumber,
      last_step_ts: NullableNumber,
      decisions: Type.Integer(),
      energy_joules: Type.Union([Type.Number(), Type.Null()], { description: 'energy of the run\'s GPUs over its steps (DESIGN §11); null without GPUs attributed' }),
      joules_per_sample: Type.Union([Type.Number(), Type.Null()], { description: 'energy_joules over the samples of the steps it covers' }),
      energy_gpus: Type.Union([Type.Array(Type.Integer()), Type.Null()], { description: 'indexes of the GPUs whose power counts' }),
      since_start: Type.Union([
        Type.Object({
          start_config_version: Type.Integer(),
          start_samples_per_second: Type.Number({ description: 'the start config\'s own steps, measured before the first change, less their warm-up' }),
          config_version: Type.Integer(),
          samples_per_second: Type.Number({ description: 'the current config\'s own recent steps, less their warm-up' }),
          ratio: Type.Number({ description: 'samples_per_second over start_samples_per_second' }),
        }),
        Type.Null(),
      ], { description: 'the run now against its start config; null until the config has changed (an addition to DESIGN §4)' }),
    }),
    ranks: Type.Optional(Type.Array(RankView, { description: 'data-parallel runs: each rank this sidecar knows of (DESIGN §9)' })),
  },
  { $id: 'Run' },
);
