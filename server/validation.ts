// Request validation for the TypeBox schemas (they are plain JSON Schema). Bodies are checked as
// sent — no coercion: "64" is not a batch size — while query strings and path params, which are
// always text, are converted. Ajv (already inside Fastify) rather than TypeBox's own compiler:
// the latter's modules cost ~16 MB of resident memory (DESIGN §7 budget).
//
// Validators and response serializers are compiled on a route's first request, not when the app
// starts: a sidecar uses a handful of its ~30 routes, and each compiled schema is generated source
// and code that stay in the heap for good (docs/footprint.md: ~3 MB at start for all of them).
// The first request of a route pays the compile (a few ms) once.
import { Ajv, type ValidateFunction } from 'ajv';
import { SerializerSelector } from '@fastify/fast-json-stringify-compiler';
import type { FastifySchemaCompiler } from 'fastify';

// Ajv's "number" type rejects NaN and ±Infinity (it checks isFinite), so 1e999 is a 400.
const common = { useDefaults: true, removeAdditional: false, allErrors: false, strict: false } as const;
let strict: Ajv | null = null;
let coercing: Ajv | null = null;
const ajvFor = (httpPart: string | undefined): Ajv =>
  httpPart === 'body' ? (strict ??= new Ajv({ ...common, coerceTypes: false })) : (coercing ??= new Ajv({ ...common, coerceTypes: 'array' }));

/** Fastify reads `.errors` off the function it called, as Ajv leaves them on its own. */
type Validator = ((data: unknown) => boolean) & { errors?: ValidateFunction['errors'] };

export const validatorCompiler: FastifySchemaCompiler<unknown> = ({ schema, httpPart }) => {
  let compiled: ValidateFunction | null = null;
  const validate: Validator = (data) => {
    compiled ??= ajvFor(httpPart).compile(schema as object);
    const ok = compiled(data);
    validate.errors = compiled.errors;
    return ok;
  };
  return validate;
};

type SerializerFactory = ReturnType<typeof SerializerSelector>;

/**
 * Fastify's own serializer factory (fast-json-stringify, with the app's shared schemas and
 * options), each route's serializer built when it first answers with that status.
 */
export const lazySerializerFactory: SerializerFactory = (externalSchemas, serializerOpts) => {
  const build = SerializerSelector()(externalSchemas, serializerOpts);
  return (route) => {
    let compiled: ((doc: unknown) => string) | null = null;
    return (doc: unknown) => (compiled ??= build(route))(doc);
  };
};
