// The live page: static HTML, CSS and ES modules (no front-end build step), read from the built
// package — dist/page/ (copied there from server/page/static/ by scripts/bundle.mjs) and the few
// pure modules it imports from dist/ (the one formatting module, the chart and the figures).
// Nothing here carries run data: the page reads it from the JSON API with the person's token,
// so these paths are open (server/auth.ts) while every API route keeps its token check.
import { readFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply } from 'fastify';

/** The package root, from server/routes (source), dist/server/routes or dist/app (bundled). */
const ROOT = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
})();

/** The page's own files (dist/page/), by the name they are served under /page/. */
const STATIC = ['index.html', 'run.html', 'page.css', 'api.js', 'index.js', 'run.js', 'words.js', 'icon.svg'];

/** Modules of dist/ the page imports, served at /page/lib/<path> so their relative imports resolve. */
const LIB = ['tuner/format.js', 'tuner/throughput.js', 'server/page/chart.js', 'server/page/shape.js'];

const TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  css: 'text/css; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  svg: 'image/svg+xml',
};

/**
 * Scripts and styles from this origin only, no inline script, no framing: a run name that got
 * past the page's escaping still could not run. connect-src 'self' keeps the token on this host.
 */
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const PAGE_PATHS = new Set(['/', ...STATIC.map((n) => `/page/${n}`), ...LIB.map((p) => `/page/lib/${p}`)]);

/** Paths the page is served under, exactly (open without a token: no run data in them). */
export function isPagePath(path: string): boolean {
  return PAGE_PATHS.has(path) || /^\/runs\/[A-Za-z0-9_-]{1,64}$/.test(path);
}

const cache = new Map<string, Buffer | null>();
function read(file: string): Buffer | null {
  if (!cache.has(file)) cache.set(file, existsSync(file) ? readFileSync(file) : null);
  return cache.get(file)!;
}

function send(reply: FastifyReply, file: string) {
  const body = read(file);
  if (!body) {
    return reply.code(503).type('application/json').send({ error: 'page_not_built', message: `the page is not built (${file} missing): run \`npm run build\`` });
  }
  const type = TYPES[file.slice(file.lastIndexOf('.') + 1)] ?? 'application/octet-stream';
  reply.header('content-type', type).header('cache-control', 'no-cache').header('x-content-type-options', 'nosniff');
  if (type.startsWith('text/html')) reply.header('content-security-policy', CSP).header('referrer-policy', 'no-referrer');
  return reply.send(body);
}

export async function pageRoutes(app: FastifyInstance): Promise<void> {
  const pageDir = join(ROOT, 'dist/page');
  const hide = { schema: { hide: true } };
  app.get('/', hide, (_req, reply) => send(reply, join(pageDir, 'index.html')));
  app.get('/runs/:id', hide, (_req, reply) => send(reply, join(pageDir, 'run.html')));
  for (const name of STATIC) app.get(`/page/${name}`, hide, (_req, reply) => send(reply, join(pageDir, name)));
  for (const path of LIB) {
    app.get(`/page/lib/${path}`, hide, (_req, reply) => send(reply, join(ROOT, 'dist', path)));
  }
}
