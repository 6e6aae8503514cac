// The audit log of a run's decisions.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { decisionView } from '../run-view.js';
import { errorResponses, RunIdParams } from '../schemas/common.js';
import { DecisionView } from '../schemas/decisions.js';
import type { RunHub } from '../runs/hub.js';

export const decisionRoutes: FastifyPluginAsyncTypebox<{ runs: RunHub }> = async (app, { runs }) => {
  app.get('/v1/runs/:id/decisions', {
    schema: {
      summary: 'the audit log: every decision with its reason, evidence, configs before/after and outcome',
      params: RunIdParams,
      querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10000, default: 1000 })) }),
      response: { 200: Type.Object({ decisions: Type.Array(DecisionView) }), ...errorResponses },
    },
  }, async (req) => ({ decisions: runs.decisions(req.params.id, req.query.limit ?? 1000).map(decisionView) }));
};
