import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { badRequest } from '../errors.js';
import { configView, decisionView } from '../run-view.js';
import { errorResponses, RunIdParams } from '../schemas/common.js';
import { ConfigQuery, ConfigView, DecisionView, SeriesQuery, SeriesView } from '../schemas/config.js';
import { SERIES, type SeriesName } from '../../store/samples.js';
import type { Store } from '../../store/store.js';

export const configRoutes: FastifyPluginAsyncTypebox<{ store: Store }> = async (app, { store }) => {
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
      const run = await store.waitForConfig(req.params.id, req.query.after ?? 0, req.query.wait_s ?? 0, ac.signal);
      return configView(run, store.configVersion(run.id, run.configVersion));
    } finally {
      req.raw.off('close', onClose);
    }
  });

  app.get('/v1/runs/:id/decisions', {
    schema: {
      summary: 'the audit log: every decision with its reason, evidence, configs before/after and outcome',
      params: RunIdParams,
      querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10000, default: 1000 })) }),
      response: { 200: Type.Object({ decisions: Type.Array(DecisionView) }), ...errorResponses },
    },
  }, async (req) => ({ decisions: store.decisions(req.params.id, req.query.limit ?? 1000).map(decisionView) }));

  app.get('/v1/runs/:id/series', {
    schema: {
      summary: `stored time series of one run; metric is one of: ${Object.keys(SERIES).join(', ')}`,
      params: RunIdParams, querystring: SeriesQuery, response: { 200: SeriesView, ...errorResponses },
    },
  }, async (req) => {
    const metric = req.query.metric;
    if (!Object.hasOwn(SERIES, metric)) {
      throw badRequest(`querystring.metric: unknown series ${JSON.stringify(metric)}; one of ${Object.keys(SERIES).join(', ')}`);
    }
    const from = req.query.from ?? 0;
    const to = req.query.to ?? 1e11;
    if (from > to) throw badRequest(`querystring.from: ${from} is after to ${to}`);
    const points = store.series(req.params.id, metric as SeriesName, from, to, req.query.limit ?? 10000);
    return { run_id: req.params.id, metric, points };
  });
};
