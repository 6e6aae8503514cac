import { Type } from 'typebox';

export const ErrorBody = Type.Object(
  {
    error: Type.String({ description: 'machine-readable code, e.g. bad_request, not_found, stale_config_version' }),
    message: Type.String({ description: 'what is wrong, naming the field' }),
  },
  { $id: 'Error' },
);

export const RunIdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });

export const errorResponses = {
  400: ErrorBody,
  401: ErrorBody,
  404: ErrorBody,
  409: ErrorBody,
  413: ErrorBody,
  415: ErrorBody,
} as const;

export const FreeObject = Type.Record(Type.String(), Type.Unknown());

/** Unix seconds; bounded so a typo in milliseconds or a huge number is a 400, not a strange row. */
export const UnixSeconds = Type.Number({ minimum: 0, maximum: 1e11 });
