// The store's domain errors. The store knows runs and versions, not HTTP: server/error-handler.ts
// maps each to its status code in one place (NotFound → 404, Conflict and StaleVersion → 409).

/** The named run (or other record) is not in the store. */
export class NotFoundError extends Error {
  override name = 'NotFoundError';
}

/** The write contradicts the run's state: another pid already watched, the run has ended. */
export class ConflictError extends Error {
  override name = 'ConflictError';
}

/** A config version that is not the run's current one (a stale expected_version, an unknown applied version). */
export class StaleVersionError extends Error {
  override name = 'StaleVersionError';
}
