// The events of a run. A client may post the first group; the sidecar itself records `started`
// (at registration) and `exited` (when the job's process went away without saying how it ended).

/** What POST /v1/runs/:id/events accepts (server/schemas/events.ts builds its schema from this). */
export const POSTED_EVENT_KINDS = ['oom', 'epoch_end', 'config_applied', 'checkpoint', 'finished', 'failed', 'note'] as const;
/** Every kind a run's event log may hold. */
export const RUN_EVENT_KINDS = ['started', ...POSTED_EVENT_KINDS, 'exited'] as const;
export type PostedEventKind = (typeof POSTED_EVENT_KINDS)[number];
export type RunEventKind = (typeof RUN_EVENT_KINDS)[number];
/** The kinds that end a run (the store keeps one of them per run). */
export const END_EVENT_KINDS: ReadonlySet<RunEventKind> = new Set<RunEventKind>(['finished', 'failed', 'exited']);

export interface RunEventPoint {
  ts: number;
  kind: RunEventKind;
  step: number | null;
  data: Record<string, unknown>;
}
