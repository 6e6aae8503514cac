// The states a run goes through, kept by the store (runs.state); the API's schemas, /metrics and
// the CLI derive their unions and lists from this one array.

/** `exited`: the job's process went away without a finished or failed event (one may still follow). */
export const RUN_STATES = ['running', 'finished', 'failed', 'exited'] as const;
export type RunState = (typeof RUN_STATES)[number];
