// GET /docs (Swagger UI), /docs/json and /docs/yaml (the OpenAPI description), built on the
// first request. @fastify/swagger, @fastify/swagger-ui and what they load (yaml, @fastify/static
// and its ~30 CommonJS modules from node_modules) cost every sidecar ~6 MB of resident memory at
// start (docs/footprint.md) though few ever open the docs. So the app only records its routes
// here (a hook, no copies), and the first /docs request builds a second, unlistened Fastify app
// with the two plugins and those routes (server/docs-app.ts, its own bundle chunk) and hands
// this and every later /docs request to it. The token check, the error shapes and the 404s stay
// the main app's: its hooks run before the hand-over.
import type { FastifyInstance, RouteOptions } from 'fastify';
import fp from 'fastify-plugin';
import type { DocsApp, OpenApiInfo } from '../docs-app.js';

/** Where Swagger UI and the description are served (DESIGN §4). */
export const DOCS_PREFIX = '/docs';

async function plugin(app: FastifyInstance, opts: { info: OpenApiInfo }): Promise<void> {
  const routes: RouteOptions[] = [];
  // At the root (fastify-plugin), registered before the route plugins: sees every route. HEAD
  // routes are Fastify's own copies of the GETs, left out as @fastify/swagger leaves them out.
  app.addHook('onRoute', (route) => {
    if (route.method !== 'HEAD' && !route.url.startsWith(DOCS_PREFIX)) routes.push(route);
  });
  let docs: Promise<DocsApp> | null = null;
  const build = async (): Promise<DocsApp> => {
    const { buildDocsApp } = await import('../docs-app.js');
    return buildDocsApp(routes, opts.info, DOCS_PREFIX);
  };
  const handOver = async (req: { raw: import('node:http').IncomingMessage }, reply: import('fastify').FastifyReply) => {
    // A failed build is not kept: the next request tries again.
    const d = await (docs ??= build().catch((err) => {
      docs = null;
      throw err;
    }));
    reply.hijack();
    d.routing(req.raw, reply.raw);
  };
  const hide = { schema: { hide: true } };
  app.get(DOCS_PREFIX, hide, handOver);
  app.get(`${DOCS_PREFIX}/*`, hide, handOver);
  app.addHook('onClose', async () => {
    if (docs) await (await docs.catch(() => null))?.close();
  });
}

export const docsRoutes = fp(plugin, { name: 'trainpilot-docs' });
