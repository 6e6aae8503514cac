// A run's stored time series (process CPU, memory, GPU memory …).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { badRequest } from '../errors.js';
import { errorResponses, RunIdParams } from '../schemas/common.js';
import { SeriesQuery, SeriesView } from '../schemas/series.js';
import { SERIES, type SeriesName } from '../../store/samples.js';
import type { RunHub } from '../runs/hub.js';

export const seriesRoutes: FastifyPluginAsyncTypebox<{ runs: RunHub }> = async (app, { runs }) => {
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
    const points = runs.series(req.params.id, metric as SeriesName, from, to, req.query.limit ?? 10000);
    return { run_id: req.params.id, metric, points };
  });
};
