// Data-parallel runs (DESIGN §9): a node's copy of a run, a rank announcing itself to its node's
// sidecar, rank 0 forwarding every rank's summary, and the run view's `ranks`.
import { Type, type Static } from 'typebox';
import { BOTTLENECK_KINDS } from '../../tuner/classify.js';
import { Config, Tune } from './runs.js';

const Pid = Type.Integer({ minimum: 1, maximum: 4194304 });
const Rank = Type.Integer({ minimum: 0, maximum: 65535 });
const WorldSize = Type.Integer({ minimum: 1, maximum: 65536 });
/** A node name: the client's TRAINPILOT_NODE or host name (RFC 1123 names fit, and pod names). */
const Node = Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._:@+-]{0,127}$', description: 'letters, digits and . _ : @ + - (1–128)' });
const Seconds = Type.Number({ minimum: 0, maximum: 1e9 });

export const RankParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }), rank: Rank });

export const CopyRunBody = Type.Object(
  {
    name: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._:@+-]{0,127}$', description: 'letters, digits and . _ : @ + - (1–128)' }),
    pid: Type.Optional(Pid),
    config: Type.Optional(Config),
    config_version: Type.Optional(Type.Integer({ minimum: 1, maximum: 1e9, description: 'the version number rank 0\'s sidecar gave config (default 1)' })),
    tune: Type.Optional(Tune),
  },
  { additionalProperties: false },
);
export type CopyRunInput = Static<typeof CopyRunBody>;

export const AnnounceBody = Type.Object(
  { world_size: WorldSize, pid: Type.Optional(Pid), node: Type.Optional(Node) },
  { additionalProperties: false },
);

export const NodeVerdict = Type.Object({
  kind: Type.String(),
  why: Type.Union([Type.String(), Type.Null()]),
});

export const AnnounceAnswer = Type.Object({
  run_id: Type.String(),
  rank: Type.Integer(),
  leader: Type.Boolean({ description: 'false on a node\'s copy: rank 0 talks to another sidecar, which decides for the job' }),
  verdict: Type.Union([NodeVerdict, Type.Null()], { description: 'what this sidecar classifies its local ranks as' }),
});

export const RankSummaryBody = Type.Object(
  {
    world_size: WorldSize,
    ranks: Type.Array(Type.Object(
      {
        rank: Rank,
        node: Type.Optional(Node),
        steps: Type.Integer({ minimum: 0, maximum: 1e9 }),
        duration_s: Seconds,
        data_wait_s: Seconds,
        samples: Type.Integer({ minimum: 0, maximum: 1e15 }),
        last_step: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })),
        verdict: Type.Optional(Type.Enum(BOTTLENECK_KINDS)),
      },
      { additionalProperties: false },
    ), { minItems: 1, maxItems: 65536 }),
  },
  { additionalProperties: false },
);
