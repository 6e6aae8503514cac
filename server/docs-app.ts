// The app behind /docs (server/routes/docs.ts): @fastify/swagger and @fastify/swagger-ui over the
// main app's routes, added again here with their schemas and a handler that is never called.
// Nothing here validates or serializes a request body, so schemas are not compiled (the main app
// compiled or will compile its own); the description is the one @fastify/swagger built when it
// was registered on the main app itself.
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyInstance, type RouteOptions } from 'fastify';
import { errorHandling } from './error-handler.js';

export interface OpenApiInfo {
  version: string;
  /** A bearer token is set: the description says every route needs it. */
  bearer: boolean;
}

export type DocsApp = Pick<FastifyInstance, 'routing' | 'close'>;

const never = async () => {
  throw new Error('the docs app serves no API route');
};

export async function buildDocsApp(routes: readonly RouteOptions[], info: OpenApiInfo, prefix: string): Promise<DocsApp> {
  const app = Fastify({ logger: false });
  app.setValidatorCompiler(() => () => true);
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  await app.register(errorHandling);
  await app.register(swagger, {
    openapi: {
      info: { title: 'trainpilot', version: info.version, description: 'Sidecar API: runs, step reports, events, config long-poll, decisions, series, host.' },
      components: info.bearer ? { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } } : {},
      security: info.bearer ? [{ bearer: [] }] : [],
    },
  });
  await app.register(swaggerUi, { routePrefix: prefix });
  for (const r of routes) app.route({ method: r.method, url: r.url, schema: r.schema, handler: never });
  await app.ready();
  return app;
}
