// GET /v1/host: the latest host, GPU and process-tree snapshot, collector health and inventory,
// in base units and snake_case (server/schemas/host.ts).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { CollectorHealth, GpuInventory, HostInventory, Snapshot } from '../../collectors/readings.js';
import { HostView as HostViewSchema, snakeKeys } from '../schemas/host.js';

export interface HostView {
  snapshot: Snapshot | null;
  health: CollectorHealth[];
  inventory: { host: HostInventory | null; gpu: GpuInventory | null };
}

export const hostRoutes: FastifyPluginAsyncTypebox<{ host?: () => HostView }> = async (app, opts) => {
  app.get('/v1/host', {
    schema: {
      summary: 'latest host, GPU, process-tree and collector-health snapshot (base units, snake_case)',
      response: { 200: HostViewSchema },
    },
  }, async () => {
    const v = opts.host?.() ?? { snapshot: null, health: [], inventory: { host: null, gpu: null } };
    return snakeKeys({
      ts: v.snapshot?.ts ?? null,
      host: v.snapshot?.host ?? null,
      gpus: v.snapshot?.gpus ?? null,
      processes: v.snapshot?.processes ?? [],
      collectors: v.health,
      inventory: v.inventory,
    }) as never;
  });
};
