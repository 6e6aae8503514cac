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
// No meta-schema (meta, validateSchema): Ajv would compile draft-07's own schema to check each of
// ours, ~75 ms and ~1 MB on the first request a sidecar answers (usually POST /v1/runs, at the
// start-up peak: docs/footprint.md). Ours are TypeBox's output, checked against the meta-schema
// once in the suite instead (test/openapi-schemas.test.ts).
const common = { useDefaults: true, removeAdditional: false, allErrors: false, strict: false, meta: false, validateSchema: false } as const;
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
    return (doc: unknown) => (compiled ??= build({ ...route, schema: nullableForSerializer(route.schema) }))(doc);
  };
};

type Json = Record<string, unknown>;
const isNullType = (s: unknown): boolean => typeof s === 'object' && s !== null && (s as Json).type === 'null' && Object.keys(s).length === 1;

/**
 * TypeBox writes "X or null" as `anyOf: [X, {type: 'null'}]`. fast-json-stringify serializes an
 * anyOf by validating the value against each branch with an Ajv of its own, made with its formats
 * for each route that has one: RunView's 20 nullable fields cost ~80 ms and ~1.5 MB on the first
 * POST /v1/runs (docs/footprint.md). `{...X, nullable: true}` is the same output, written by the
 * serializer's own code. For the serializer only: validation and the OpenAPI description keep
 * the schema as written.
 */
export function nullableForSerializer<T>(schema: T): T {
  if (Array.isArray(schema)) return schema.map(nullableForSerializer) as T;
  if (typeof schema !== 'object' || schema === null) return schema;
  const out: Json = {};
  for (const [k, v] of Object.entries(schema)) out[k] = nullableForSerializer(v);
  const any = out.anyOf;
  if (Array.isArray(any) && any.length === 2 && isNullType(any[1]) !== isNullType(any[0])) {
    const other = (isNullType(any[0]) ? any[1] : any[0]) as Json;
    if (typeof other === 'object' && other !== null && typeof other.type === 'string' && other.anyOf === undefined && other.nullable === undefined) {
      delete out.anyOf;
      return { ...out, ...other, nullable: true } as T;
    }
  }
  return out as T;
}
