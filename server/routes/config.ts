// A run's config: the newest version (long-poll) and a user's or attaching job's override.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { checkConfigInBounds, toConfig, toTune } from '../run-input.js';
import { configView } from '../run-view.js';
import { errorResponses, RunIdParams } from '../schemas/common.js';
import { ConfigQuery, ConfigView } from '../schemas/config.js';
import { SetConfigBody } from '../schemas/runs.js';
import type { RunHub } from '../runs/hub.js';

export const configRoutes: FastifyPluginAsyncTypebox<{ runs: RunHub }> = async (app, { runs }) => {
  app.get('/v1/runs/:id/config', {
    schema: {
      summary: 'newest config; long-polls up to wait_s seconds for a version newer than `after`',
      params: RunIdParams, querystring: ConfigQuery, response: { 200: ConfigView, ...errorResponses },
    },
  }, async (req) => {
    const ac = new AbortController();
    const onClose = () => ac.abort();
    req.raw.once('close', onClose);
    try {
      const run = await runs.waitForConfig(req.params.id, req.query.after ?? 0, req.query.wait_s ?? 0, ac.signal);
      return configView(run, runs.configVersion(run.id, run.configVersion));
    } finally {
      req.raw.off('close', onClose);
    }
  });

  app.put('/v1/runs/:id/config', {
    schema: {
      summary: 'set the config (a user override, or a job attaching to a run started by `trainpilot run`)',
      params: RunIdParams, body: SetConfigBody, response: { 200: ConfigView, ...errorResponses },
    },
  }, async (req) => {
    const run = runs.getRun(req.params.id);
    const tune = req.body.tune ? toTune(req.body.tune, run.tune) : null;
    const config = toConfig(req.body.config);
    checkConfigInBounds(config, tune ?? run.tune);
    const after = runs.setConfig(run.id, config, {
      expectedVersion: req.body.expected_version ?? null,
      tune,
      source: run.config === null ? 'client' : 'user',
      reason: req.body.reason ?? (run.config === null ? 'the job attached with its config' : 'set through the API'),
    });
    return configView(after, runs.configVersion(after.id, after.configVersion));
  });
};
