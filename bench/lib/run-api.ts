// Reading a run back over the sidecar's HTTP API, for the end-to-end tests and the benchmarks that
// run real jobs: JSON requests, the stored step reports page by page, a version's steady rate.

export interface StoredStep {
  step: number; ts: number; duration_s: number; data_wait_s: number; samples: number; loss: number | null;
  rank: number; world_size: number; config_version: number;
}

export async function api<T>(url: string, path: string, init?: RequestInit): Promise<T> {
  const r = await fetch(url + path, { ...init, headers: { 'content-type': 'application/json' } });
  if (!r.ok) throw new Error(`${init?.method ?? 'GET'} ${path}: ${r.status} ${await r.text()}`);
  return (await r.json()) as T;
}

/** Every stored step report of a run, in step order. */
export async function allSteps(url: string, id: string): Promise<StoredStep[]> {
  const out: StoredStep[] = [];
  let after = -1;
  for (;;) {
    const page = await api<{ steps: StoredStep[]; next_after_step: number | null }>(url, `/v1/runs/${id}/steps?after_step=${after}&limit=10000`);
    out.push(...page.steps);
    if (page.next_after_step === null) return out;
    after = page.next_after_step;
  }
}

/**
 * samples/s of one config version's steady steps on rank 0 (the first `warmup` after a change are
 * warm-up), over wall time from the first counted step's start to the last one's end.
 */
export function versionRate(steps: StoredStep[], version: number, warmup = 3): { rate: number; steps: number } {
  const mine = steps.filter((s) => s.rank === 0 && s.config_version === version).sort((a, b) => a.step - b.step).slice(warmup);
  if (mine.length < 3) return { rate: 0, steps: mine.length };
  const span = mine[mine.length - 1].ts - (mine[0].ts - mine[0].duration_s);
  return { rate: mine.reduce((n, s) => n + s.samples, 0) / span, steps: mine.length };
}
