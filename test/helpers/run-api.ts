// Reading a run back over the sidecar's HTTP API, for the end-to-end tests: JSON requests and the
// stored step reports, page by page.

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
