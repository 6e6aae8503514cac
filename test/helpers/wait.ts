// The one wait-until of the suite: poll a probe until it gives a value, or fail naming what was
// awaited, the probe's last error and whatever context the caller adds (a process's output).

export interface WaitOptions {
  /** How long to keep asking (default 8 s). */
  timeoutMs?: number;
  /** Pause between two asks (default 100 ms). */
  intervalMs?: number;
  /** Text added to the timeout's message, e.g. the tail of a child process's output. */
  context?: () => string;
}

/**
 * Resolves with the probe's first value that is not undefined, null or false (0 and '' are
 * values). A probe that throws counts as "not yet"; its last error is in the timeout's message.
 */
export async function waitUntil<T>(
  what: string,
  probe: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  opts: WaitOptions = {},
): Promise<T> {
  const { timeoutMs = 8000, intervalMs = 100, context } = opts;
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== null && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      const why = last === undefined ? '' : ` (last error: ${last instanceof Error ? last.message : String(last)})`;
      const more = context ? `\n${context().slice(-6000)}` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${why}${more}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
