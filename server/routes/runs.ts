import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { checkConfigInBounds, toConfig, toTune } from '../run-input.js';
import { configView, runView } from '../run-view.js';
import { errorResponses, RunIdParams } from '../schemas/common.js';
import { ConfigView } from '../schemas/config.js';
import { PatchRunBody, RegisterBody, RunView, SetConfigBody } from '../schemas/runs.js';
import type { Store } from '../../store/store.js';

export const runRoutes: FastifyPluginAsyncTypebox<{ store: Store }> = async (app, { store }) => {
  app.post('/v1/runs', {
    schema: { summary: 'register a run', body: RegisterBody, response: { 201: RunView, ...errorResponses } },
  }, async (req, reply) => {
    const tune = toTune(req.body.tune);
    const config = req.body.config ? toConfig(req.body.config) : null;
    if (config) checkConfigInBounds(config, tune);
    const run = store.registerRun({ name: req.body.name, pid: req.body.pid ?? null, config, tune });
    return reply.code(201).send(runView(store, run));
  });

  app.get('/v1/runs', {
    schema: {
      summary: 'list runs, newest first',
      querystring: Type.Object({
        state: Type.Optional(Type.Union(['running', 'finished', 'failed', 'exited'].map((s) => Type.Literal(s)))),
        limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
      }),
      response: { 200: Type.Object({ runs: Type.Array(RunView) }), ...errorResponses },
    },
  }, async (req) => {
    const runs = store.listRuns(req.query.limit ?? 100).filter((r) => !req.query.state || r.state === req.query.state);
    return { runs: runs.map((r) => runView(store, r)) };
  });

  app.get('/v1/runs/:id', {
    schema: { summary: 'one run with its current config, bottleneck, advice and summary', params: RunIdParams, response: { 200: RunView, ...errorResponses } },
  }, async (req) => runView(store, store.getRun(req.params.id)));

  app.patch('/v1/runs/:id', {
    schema: {
      summary: 'give a run its process id after registration (a job started by `trainpilot run`); 409 if it has another',
      params: RunIdParams, body: PatchRunBody, response: { 200: RunView, ...errorResponses },
    },
  }, async (req) => runView(store, store.setPid(req.params.id, req.body.pid)));

  app.put('/v1/runs/:id/config', {
    schema: {
      summary: 'set the config (a user override, or a job attaching to a run started by `trainpilot run`)',
      params: RunIdParams, body: SetConfigBody, response: { 200: ConfigView, ...errorResponses },
    },
  }, async (req) => {
    const run = store.getRun(req.params.id);
    const tune = req.body.tune ? toTune(req.body.tune, run.tune) : null;
    const config = toConfig(req.body.config);
    checkConfigInBounds(config, tune ?? run.tune);
    const after = store.setConfig(run.id, config, {
      expectedVersion: req.body.expected_version ?? null,
      tune,
      source: run.config === null ? 'client' : 'user',
      reason: req.body.reason ?? (run.config === null ? 'the job attached with its config' : 'set through the API'),
    });
    return configView(after, store.configVersion(after.id, after.configVersion));
  });
};
