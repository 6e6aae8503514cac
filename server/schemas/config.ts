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
