import { Type } from 'typebox';

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
