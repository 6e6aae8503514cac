import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { CollectorHealth, GpuInventory, HostInventory, Snapshot } from '../../collectors/readings.js';

export interface HostView {
  snapshot: Snapshot | null;
  health: CollectorHealth[];
  inventory: { host: HostInventory | null; gpu: GpuInventory | null };
}

const Loose = Type.Unknown();

export const hostRoutes: FastifyPluginAsyncTypebox<{ host?: () => HostView }> = async (app, opts) => {
  app.get('/v1/host', {
    schema: {
      summary: 'latest host, GPU and collector-health snapshot (base units)',
      response: {
        200: Type.Object({
          ts: Type.Union([Type.Number(), Type.Null()]),
          host: Loose,
          gpus: Loose,
          processes: Loose,
          collectors: Loose,
          inventory: Loose,
        }),
      },
    },
  }, async () => {
    const v = opts.host?.() ?? { snapshot: null, health: [], inventory: { host: null, gpu: null } };
    return {
      ts: v.snapshot?.ts ?? null,
      host: v.snapshot?.host ?? null,
      gpus: v.snapshot?.gpus ?? null,
      processes: v.snapshot?.processes ?? [],
      collectors: v.health,
      inventory: v.inventory,
    };
  });
};
