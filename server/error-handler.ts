// One place that maps every error to {error, message}; nothing a client sends becomes a 5xx.
import type { FastifyError, FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { ConflictError, NotFoundError, StaleVersionError } from '../store/errors.js';
import { ApiError, STATUS, type ErrorCode } from './errors.js';

/** The store's domain errors, mapped onto ours. */
function storeCode(err: unknown): ErrorCode | undefined {
  if (err instanceof NotFoundError) return 'not_found';
  if (err instanceof StaleVersionError) return 'stale_config_version';
  if (err instanceof ConflictError) return 'conflict';
  return undefined;
}

/** Fastify's own client-error codes, mapped onto ours. */
const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'bad_request',
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_INVALID_JSON_BODY: 'invalid_json',
  FST_ERR_VALIDATION: 'bad_request',
};

function validationMessage(err: FastifyError): string {
  const first = err.validation?.[0];
  if (!first) return err.message;
  const where = err.validationContext ?? 'body';
  const extra = (first.params as { additionalProperty?: string } | undefined)?.additionalProperty;
  const path = `${where}${first.instancePath.replace(/\/(\d+)(?=\/|$)/g, '[$1]').replace(/\//g, '.')}`;
  if (extra) return `${path}: unknown field ${JSON.stringify(extra)}`;
  return `${path}: ${first.message}`;
}

async function plugin(app: FastifyInstance): Promise<void> {
  app.setErrorHandler((err: FastifyError, req, reply) => {
    if (err instanceof ApiError) {
      return reply.code(err.statusCode).send({ error: err.code, message: err.message });
    }
    const domain = storeCode(err);
    if (domain) return reply.code(STATUS[domain]).send({ error: domain, message: err.message });
    if (err.validation) {
      return reply.code(400).send({ error: 'bad_request', message: validationMessage(err) });
    }
    const mapped = err.code ? FASTIFY_CODES[err.code] : undefined;
    if (mapped) {
      const msg = mapped === 'invalid_json' ? `body: not valid JSON (${err.message})` : err.message;
      return reply.code(STATUS[mapped]).send({ error: mapped, message: msg });
    }
    // The store can't write (disk full, read-only, I/O error, locked): not the client's doing,
    // and nothing was stored — say so with a 503 the client may retry, and keep serving reads.
    const sqlite = (err as { code?: string }).code;
    if (typeof sqlite === 'string' && sqlite.startsWith('SQLITE_')) {
      req.log.error({ code: sqlite }, 'store write failed');
      return reply.code(503).header('retry-after', '5').send({ error: 'unavailable', message: `the store cannot take writes right now (${sqlite}); nothing was stored, retry later` });
    }
    // secure-json-parse's prototype-poisoning errors and other parser refusals are client errors.
    if (err instanceof SyntaxError || (err.statusCode && err.statusCode >= 400 && err.statusCode < 500)) {
      return reply.code(err.statusCode && err.statusCode < 500 ? err.statusCode : 400).send({ error: 'bad_request', message: err.message });
    }
    req.log.error({ err }, 'unhandled error');
    return reply.code(500).send({ error: 'internal', message: 'internal error; see the sidecar log' });
  });
  app.setNotFoundHandler((req, reply) => {
    reply.code(404).send({ error: 'not_found', message: `no route ${req.method} ${req.url.split('?')[0]}` });
  });
}

export const errorHandling = fp(plugin, { name: 'trainpilot-errors' });
