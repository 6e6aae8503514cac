// Request validation for the TypeBox schemas (they are plain JSON Schema). Bodies are checked as
// sent — no coercion: "64" is not a batch size — while query strings and path params, which are
// always text, are converted. Ajv (already inside Fastify) rather than TypeBox's own compiler:
// the latter's modules cost ~16 MB of resident memory (DESIGN §7 budget: 80 MB).
import { Ajv, type ValidateFunction } from 'ajv';
import type { FastifySchemaCompiler } from 'fastify';

// Ajv's "number" type rejects NaN and ±Infinity (it checks isFinite), so 1e999 is a 400.
const common = { useDefaults: true, removeAdditional: false, allErrors: false, strict: false } as const;
const strict = new Ajv({ ...common, coerceTypes: false });
const coercing = new Ajv({ ...common, coerceTypes: 'array' });

export const validatorCompiler: FastifySchemaCompiler<unknown> = ({ schema, httpPart }) =>
  (httpPart === 'body' ? strict : coercing).compile(schema as object) as ValidateFunction;
