// buildApp(deps) returns the Fastify app without listening, so tests use app.inject().
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyInstance } from 'fastify';
import { authPlugin } from './auth.js';
import { RequestLog, requestLoggerFactory } from './log.js';
import { errorHandling } from './error-handler.js';
import { lazySerializerFactory, validatorCompiler } from './validation.js';
import { docsRoutes } from './routes/docs.js';
import { configRoutes } from './routes/config.js';
import { healthRoutes } from './routes/health.js';
import { hostRoutes, type HostView } from './routes/host.js';
import { metricsRoutes, type MetricsRenderer } from './routes/metrics.js';
import { runRoutes } from './routes/runs.js';
import { stepRoutes } from './routes/steps.js';
import { eventRoutes } from './routes/events.js';
import { decisionRoutes } from './routes/decisions.js';
import { seriesRoutes } from './routes/series.js';
import { rankRoutes } from './routes/ranks.js';
import { pageRoutes } from './routes/page.js';
import type { RunHub } from './runs/hub.js';

export interface AppDeps {
  /** The live state of runs over the store. */
  runs: RunHub;
  version: string;
  /** When set, every route but /healthz and /readyz needs `Authorization: Bearer <token>`. */
  token?: string | null;
  metrics?: MetricsRenderer;
  host?: () => HostView;
  /** Readiness beyond the store being open (collectors started). */
  ready?: () => { ready: boolean; reason?: string };
  /** false, true, or Fastify logger options (level, stream). */
  logger?: boolean | { level: string; stream?: { write(msg: string): void } };
  /** Largest request body in bytes (413 above it). */
  bodyLimit?: number;
}

export const DEFAULT_BODY_LIMIT = 4 * 1024 * 1024;

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    logger: deps.logger ?? false,
    // One line per request, at debug: info is for start-up, shutdown and decisions (server/log.ts).
    logController: new RequestLog(),
    childLoggerFactory: requestLoggerFactory,
    bodyLimit: deps.bodyLimit ?? DEFAULT_BODY_LIMIT,
    // secure-json-parse rejects __proto__ and constructor.prototype keys with a 400.
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    // Response serializers are compiled on a route's first answer, not at start (validation.ts).
    schemaController: { compilersFactory: { buildSerializer: lazySerializerFactory } },
  }).withTypeProvider<TypeBoxTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  // The API speaks JSON only: anything else is a 415, not a string body that fails validation.
  app.removeContentTypeParser('text/plain');

  // First, so that it sees every route; Swagger UI and the description are built on first use.
  await app.register(docsRoutes, { info: { version: deps.version, bearer: Boolean(deps.token) } });
  await app.register(errorHandling);
  if (deps.token) await app.register(authPlugin, { token: deps.token });

  await app.register(healthRoutes, { runs: deps.runs, ready: deps.ready });
  await app.register(metricsRoutes, { metrics: deps.metrics });
  await app.register(hostRoutes, { host: deps.host });
  await app.register(runRoutes, { runs: deps.runs });
  await app.register(stepRoutes, { runs: deps.runs });
  await app.register(eventRoutes, { runs: deps.runs });
  await app.register(configRoutes, { runs: deps.runs });
  await app.register(decisionRoutes, { runs: deps.runs });
  await app.register(seriesRoutes, { runs: deps.runs });
  await app.register(rankRoutes, { runs: deps.runs });
  await app.register(pageRoutes);
  return app;
}
