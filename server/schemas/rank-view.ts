// The run view's `ranks` entries (DESIGN §4): apart from ranks.ts, which needs runs.ts's schemas.
import { Type } from 'typebox';

const NullableNumber = Type.Union([Type.Number(), Type.Null()]);

export const RankView = Type.Object({
  rank: Type.Integer(),
  node: Type.Union([Type.String(), Type.Null()]),
  samples_per_second: NullableNumber,
  step_seconds: NullableNumber,
  data_wait_ratio: NullableNumber,
  last_step: Type.Union([Type.Integer(), Type.Null()]),
  straggler: Type.Boolean(),
  pid: Type.Union([Type.Integer(), Type.Null()], { description: 'watched by this sidecar when not null' }),
  process: Type.Union([Type.Object({
    alive: Type.Boolean(), cpu_seconds_total: Type.Number(), resident_memory_bytes: Type.Number(), workers: Type.Integer(),
  }), Type.Null()]),
  seen_at: Type.Number(),
});
