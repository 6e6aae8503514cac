// Step reports: POST a batch, GET them back in step order.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { toStepPoints } from '../run-input.js';
import { stepView } from '../run-view.js';
import { errorResponses, RunIdParams } from '../schemas/common.js';
import { StepsAccepted, StepsBody, StepsPage, StepsQuery } from '../schemas/steps.js';
import type { RunHub } from '../runs/hub.js';

export const stepRoutes: FastifyPluginAsyncTypebox<{ runs: RunHub }> = async (app, { runs }) => {
  app.post('/v1/runs/:id/steps', {
    schema: { summary: 'a batch of step reports (1–5000), stored in one transaction', params: RunIdParams, body: StepsBody, response: { 202: StepsAccepted, ...errorResponses } },
  }, async (req, reply) => {
    const points = toStepPoints(req.body.steps, runs.now());
    const r = runs.addSteps(req.params.id, points);
    return reply.code(202).send({ accepted: r.accepted, duplicates: r.duplicates, config_version: r.configVersion });
  });

  app.get('/v1/runs/:id/steps', {
    schema: { summary: 'stored step reports in step order, paged by after_step', params: RunIdParams, querystring: StepsQuery, response: { 200: StepsPage, ...errorResponses } },
  }, async (req) => {
    const limit = req.query.limit ?? 1000;
    let rows = runs.steps(req.params.id, req.query.after_step ?? -1, limit);
    // A full page may end part-way through one step's ranks: hand that step to the next page.
    if (rows.length === limit && rows[0].step !== rows[rows.length - 1].step) {
      const last = rows[rows.length - 1].step;
      rows = rows.filter((s) => s.step !== last);
    }
    const lastStep = rows.at(-1)?.step;
    const more = lastStep !== undefined && runs.steps(req.params.id, lastStep, 1).length > 0;
    return { steps: rows.map(stepView), next_after_step: more ? lastStep : null };
  });
};
