// Runs: register, list, one run, give it its pid.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { checkConfigInBounds, toConfig, toTune } from '../run-input.js';
import { runView } from '../run-view.js';
import { errorResponses, RunIdParams } from '../schemas/common.js';
import { PatchRunBody, RegisterBody, RunState, RunView } from '../schemas/runs.js';
import type { RunHub } from '../runs/hub.js';

export const runRoutes: FastifyPluginAsyncTypebox<{ runs: RunHub }> = async (app, { runs }) => {
  app.post('/v1/runs', {
    schema: { summary: 'register a run', body: RegisterBody, response: { 201: RunView, ...errorResponses } },
  }, async (req, reply) => {
    const tune = toTune(req.body.tune);
    const config = req.body.config ? toConfig(req.body.config) : null;
    if (config) checkConfigInBounds(config, tune);
    const run = runs.registerRun({ name: req.body.name, pid: req.body.pid ?? null, config, tune, cpuBudget: req.body.cpu_budget ?? null });
    return reply.code(201).send(runView(runs, run));
  });

  app.get('/v1/runs', {
    schema: {
      summary: 'list runs, newest first',
      querystring: Type.Object({
        state: Type.Optional(RunState),
        limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
      }),
      response: { 200: Type.Object({ runs: Type.Array(RunView) }), ...errorResponses },
    },
  }, async (req) => {
    const listed = runs.listRuns(req.query.limit ?? 100).filter((r) => !req.query.state || r.state === req.query.state);
    return { runs: listed.map((r) => runView(runs, r)) };
  });

  app.get('/v1/runs/:id', {
    schema: { summary: 'one run with its current config, bottleneck, advice and summary', params: RunIdParams, response: { 200: RunView, ...errorResponses } },
  }, async (req) => runView(runs, runs.getRun(req.params.id)));

  app.patch('/v1/runs/:id', {
    schema: {
      summary: 'give a run its process id after registration (a job started by `trainpilot run`); 409 if it has another',
      params: RunIdParams, body: PatchRunBody, response: { 200: RunView, ...errorResponses },
    },
  }, async (req) => runView(runs, runs.setPid(req.params.id, req.body.pid)));
};
