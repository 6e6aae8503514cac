// Wakes long-polls of GET /v1/runs/:id/config when a run gets a new config version.
export interface ConfigWatch {
  /** Resolves true when notified, false on timeout or cancel. */
  wait(runId: string, timeoutMs: number, signal?: AbortSignal): Promise<boolean>;
  notify(runId: string): void;
  /** Releases every waiter (shutdown). */
  releaseAll(): void;
  waiting(): number;
}

export function createConfigWatch(): ConfigWatch {
  const waiters = new Map<string, Set<(woken: boolean) => void>>();
  return {
    wait(runId, timeoutMs, signal) {
      return new Promise((resolve) => {
        let set = waiters.get(runId);
        if (!set) waiters.set(runId, (set = new Set()));
        const done = (woken: boolean) => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          set!.delete(done);
          if (set!.size === 0) waiters.delete(runId);
          resolve(woken);
        };
        const onAbort = () => done(false);
        const timer = setTimeout(() => done(false), timeoutMs);
        set.add(done);
        if (signal?.aborted) done(false);
        else signal?.addEventListener('abort', onAbort, { once: true });
      });
    },
    notify(runId) {
      for (const w of [...(waiters.get(runId) ?? [])]) w(true);
    },
    releaseAll() {
      for (const set of [...waiters.values()]) for (const w of [...set]) w(false);
    },
    waiting() {
      let n = 0;
      for (const set of waiters.values()) n += set.size;
      return n;
    },
  };
}
