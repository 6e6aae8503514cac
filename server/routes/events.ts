// A run's events: oom, epoch_end, config_applied, checkpoint, finished, failed, note.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { badRequest } from '../errors.js';
import { errorResponses, RunIdParams } from '../schemas/common.js';
import { EventAccepted, EventBody, EventView } from '../schemas/events.js';
import type { RunHub } from '../runs/hub.js';

export const eventRoutes: FastifyPluginAsyncTypebox<{ runs: RunHub }> = async (app, { runs }) => {
  app.post('/v1/runs/:id/events', {
    schema: { summary: 'a run event: oom, epoch_end, config_applied, checkpoint, finished, failed, note', params: RunIdParams, body: EventBody, response: { 202: EventAccepted, ...errorResponses } },
  }, async (req, reply) => {
    const { kind } = req.body;
    const data = req.body.data ?? {};
    if (kind === 'oom' && !(Number.isInteger(data.batch_size) && (data.batch_size as number) >= 1)) {
      throw badRequest('data.batch_size: an oom event needs the batch size that ran out of memory (integer ≥ 1)');
    }
    if (kind === 'config_applied' && !(Number.isInteger(data.version) && (data.version as number) >= 1)) {
      throw badRequest('data.version: a config_applied event needs the applied config version (integer ≥ 1)');
    }
    const run = runs.addEvent(req.params.id, { kind, step: req.body.step ?? null, ts: req.body.ts ?? runs.now(), data });
    return reply.code(202).send({ accepted: true, state: run.state });
  });

  app.get('/v1/runs/:id/events', {
    schema: { summary: 'the run\'s recent events, oldest first', params: RunIdParams, querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10000, default: 200 })) }), response: { 200: Type.Object({ events: Type.Array(EventView) }), ...errorResponses } },
  }, async (req) => ({ events: runs.events(req.params.id, req.query.limit ?? 200) }));
};
