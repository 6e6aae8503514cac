import { Type } from 'typebox';
import { FreeObject } from './common.js';

export const ConfigQuery = Type.Object({
  after: Type.Optional(Type.Integer({ minimum: 0, maximum: 1e9, default: 0, description: 'answer once a version newer than this exists' })),
  wait_s: Type.Optional(Type.Number({ minimum: 0, maximum: 60, default: 0, description: 'long-poll up to this many seconds' })),
});

export const ConfigView = Type.Object({
  run_id: Type.String(),
  config_version: Type.Integer(),
  config: Type.Union([FreeObject, Type.Null()]),
  reason: Type.String({ description: 'why this version exists (registration, a tuner decision, a user)' }),
  source: Type.String(),
  decision_id: Type.Union([Type.Integer(), Type.Null()]),
  state: Type.String({ description: 'the run state; a job can stop polling once it is not running' }),
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
});

export const SeriesQuery = Type.Object({
  metric: Type.String({ maxLength: 64 }),
  from: Type.Optional(Type.Number({ minimum: 0, maximum: 1e11 })),
  to: Type.Optional(Type.Number({ minimum: 0, maximum: 1e11 })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100000, default: 10000 })),
});

export const SeriesView = Type.Object({
  run_id: Type.String(),
  metric: Type.String(),
  points: Type.Array(Type.Array(Type.Union([Type.Number(), Type.Null()]), { minItems: 2, maxItems: 2 }), {
    description: '[unix seconds, value] pairs in time order',
  }),
});
