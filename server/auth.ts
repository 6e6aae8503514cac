// Bearer-token check: constant-time compare, never logged. /healthz and /readyz stay open for probes.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { isPagePath } from './routes/page.js';

const OPEN = new Set(['/healthz', '/readyz']);

/** Hashing both sides first makes the compare constant-time whatever the lengths. */
const digest = (s: string) => createHash('sha256').update(s).digest();

export function tokenMatches(header: string | undefined, token: string): boolean {
  const m = /^Bearer (.+)$/.exec(header ?? '');
  return timingSafeEqual(digest(m ? m[1] : ''), digest(token)) && m !== null;
}

async function plugin(app: FastifyInstance, opts: { token: string }): Promise<void> {
  app.addHook('onRequest', async (req, reply) => {
    const path = req.url.split('?')[0];
    // The page's files carry no run data; the page sends the token on every API call it makes.
    if (OPEN.has(path) || isPagePath(path)) return;
    if (!tokenMatches(req.headers.authorization, opts.token)) {
      return reply.code(401).header('www-authenticate', 'Bearer').send({ error: 'unauthorized', message: 'missing or wrong bearer token (Authorization: Bearer <token>)' });
    }
  });
}

export const authPlugin = fp(plugin, { name: 'trainpilot-auth' });
