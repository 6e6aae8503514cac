// The one table of coded errors the API answers with: {error: CODE, message: TEXT}.
export type ErrorCode =
  | 'bad_request' | 'invalid_json' | 'not_found' | 'stale_config_version' | 'conflict'
  | 'payload_too_large' | 'unsupported_media_type' | 'unauthorized' | 'method_not_allowed' | 'unavailable' | 'internal';

export const STATUS: Record<ErrorCode, number> = {
  bad_request: 400,
  invalid_json: 400,
  unauthorized: 401,
  not_found: 404,
  method_not_allowed: 405,
  stale_config_version: 409,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  internal: 500,
  unavailable: 503,
};

/** An error a client caused or can act on; thrown where it happens, mapped to HTTP once in the app. */
export class ApiError extends Error {
  override name = 'ApiError';
  constructor(readonly code: ErrorCode, message: string) {
    super(message);
  }
  get statusCode(): number {
    return STATUS[this.code];
  }
}

export const badRequest = (message: string) => new ApiError('bad_request', message);
