import type { FastifyPluginAsync } from 'fastify';

export interface MetricsRenderer {
  render(accept?: string): Promise<{ contentType: string; body: string }>;
}

export const metricsRoutes: FastifyPluginAsync<{ metrics?: MetricsRenderer }> = async (app, opts) => {
  app.get('/metrics', { schema: { summary: 'Prometheus exposition (OpenMetrics when Accept asks for it)', produces: ['text/plain', 'application/openmetrics-text'] } }, async (req, reply) => {
    if (!opts.metrics) return reply.code(503).send({ error: 'unavailable', message: 'metrics are not enabled in this process' });
    const out = await opts.metrics.render(req.headers.accept);
    return reply.type(out.contentType).send(out.body);
  });
};
