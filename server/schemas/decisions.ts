import { Type } from 'typebox';
import { FreeObject } from './common.js';

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
