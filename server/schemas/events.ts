import { Type, type Static } from 'typebox';
import { POSTED_EVENT_KINDS } from '../../domain/events.js';
import { FreeObject, UnixSeconds } from './common.js';

export const EventBody = Type.Object(
  {
    kind: Type.Union(POSTED_EVENT_KINDS.map((k) => Type.Literal(k)), {
      description: 'oom (data.batch_size), config_applied (data.version), epoch_end, checkpoint, finished, failed, note',
    }),
    step: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })),
    ts: Type.Optional(UnixSeconds),
    data: Type.Optional(Type.Record(Type.String({ maxLength: 64 }), Type.Unknown(), { maxProperties: 32 })),
  },
  { additionalProperties: false },
);
export type EventInput = Static<typeof EventBody>;

export const EventAccepted = Type.Object({ accepted: Type.Boolean(), state: Type.String() });

export const EventView = Type.Object({
  ts: Type.Number(), kind: Type.String(), step: Type.Union([Type.Integer(), Type.Null()]), data: FreeObject,
});
