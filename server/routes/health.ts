import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { RunHub } from '../runs/hub.js';

const Health = Type.Object({ status: Type.String(), reason: Type.Optional(Type.String()) });

export const healthRoutes: FastifyPluginAsyncTypebox<{ runs: RunHub; ready?: () => { ready: boolean; reason?: string } }> = async (app, opts) => {
  // Probes hit these every few seconds: keep them out of the info log.
  app.get('/healthz', { logLevel: 'warn', schema: { summary: 'liveness', response: { 200: Health } } }, async () => ({ status: 'ok' }));
  app.get('/readyz', { logLevel: 'warn', schema: { summary: 'readiness: store open, collectors started', response: { 200: Health, 503: Health } } }, async (_req, reply) => {
    if (opts.runs.closed) return reply.code(503).send({ status: 'not ready', reason: 'store closed' });
    const r = opts.ready?.() ?? { ready: true };
    if (!r.ready) return reply.code(503).send({ status: 'not ready', reason: r.reason ?? 'starting' });
    return { status: 'ready' };
  });
};
