// A small typed HTTP client for the sidecar's API (DESIGN §4), over Node's fetch. The client
// commands (run, status, watch, report) talk to a sidecar only through it; what it throws
// (HttpError, UnreachableError) reaches main, which prints it as one line and exits 1.
import type { Static } from 'typebox';
import type { DecisionView } from '../server/schemas/decisions.js';
import type { SeriesView } from '../server/schemas/series.js';
import type { EventView } from '../server/schemas/events.js';
import type { RunView } from '../server/schemas/runs.js';
import type { StepView } from '../server/schemas/steps.js';
import type { FlagSpec } from './flags.js';
import { TOKEN_FLAG } from './token.js';

export type Run = Static<typeof RunView>;
export type Decision = Static<typeof DecisionView>;
export type Step = Static<typeof StepView>;
export type RunEvent = Static<typeof EventView>;
export type SeriesPoint = Static<typeof SeriesView>['points'][number];
/** The run states as the API's schema says them (store/run-states.ts). */
export type RunState = Run['state'];

export const DEFAULT_URL = 'http://127.0.0.1:9477';

/** The sidecar answered with an error body ({error, message}). */
export class HttpError extends Error {
  override name = 'HttpError';
  constructor(readonly status: number, readonly code: string, message: string) {
    super(`${status} ${code}: ${message}`);
  }
}

/** No answer at all: connection refused, reset, timed out, or not JSON from something else. */
export class UnreachableError extends Error {
  override name = 'UnreachableError';
}

export interface ApiClient {
  readonly url: string;
  register(body: { name: string; pid?: number; tune?: { mode: string; host_memory_budget_bytes?: number } }): Promise<Run>;
  /** Gives a run registered before its process started the job's pid (PATCH /v1/runs/:id). */
  attachPid(id: string, pid: number): Promise<Run>;
  runs(query?: { state?: string; limit?: number }): Promise<Run[]>;
  run(id: string): Promise<Run>;
  /** Every stored step report, all pages (bounded by maxSteps, newest dropped past it). */
  steps(id: string, maxSteps?: number): Promise<Step[]>;
  decisions(id: string): Promise<Decision[]>;
  events(id: string): Promise<RunEvent[]>;
  postEvent(id: string, body: { kind: string; data?: Record<string, unknown> }): Promise<void>;
  series(id: string, metric: string): Promise<SeriesPoint[]>;
}

export interface ClientOptions {
  url: string;
  token?: string | null;
  /** Per request; the API answers in milliseconds, so a slow answer means something is wrong. */
  timeoutMs?: number;
}

const STEP_PAGE = 10_000;

export function createApiClient(opts: ClientOptions): ApiClient {
  const base = opts.url.replace(/\/+$/, '');
  const timeoutMs = opts.timeoutMs ?? 5000;

  async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    let res: Response;
    try {
      res = await fetch(base + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      const why = cause?.code ?? cause?.message ?? (err as Error).message;
      throw new UnreachableError(`cannot reach the sidecar at ${base}: ${why}`);
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : {};
    } catch {
      throw new UnreachableError(`${base}${path} answered ${res.status} with something that is not JSON; is ${base} a trainpilot sidecar?`);
    }
    if (!res.ok) {
      const e = json as { error?: string; message?: string };
      throw new HttpError(res.status, e.error ?? 'error', e.message ?? text.slice(0, 200));
    }
    return json as T;
  }

  const enc = encodeURIComponent;
  return {
    url: base,
    register: (body) => request<Run>('POST', '/v1/runs', body),
    attachPid: (id, pid) => request<Run>('PATCH', `/v1/runs/${enc(id)}`, { pid }),
    async runs(query = {}) {
      const q = new URLSearchParams();
      if (query.state) q.set('state', query.state);
      if (query.limit) q.set('limit', String(query.limit));
      const qs = q.size ? `?${q}` : '';
      return (await request<{ runs: Run[] }>('GET', `/v1/runs${qs}`)).runs;
    },
    run: (id) => request<Run>('GET', `/v1/runs/${enc(id)}`),
    async steps(id, maxSteps = 1_000_000) {
      const out: Step[] = [];
      let after = -1;
      while (out.length < maxSteps) {
        const page = await request<{ steps: Step[]; next_after_step: number | null }>(
          'GET', `/v1/runs/${enc(id)}/steps?after_step=${after}&limit=${STEP_PAGE}`,
        );
        out.push(...page.steps);
        if (page.next_after_step === null || page.steps.length === 0) break;
        after = page.next_after_step;
      }
      return out;
    },
    decisions: async (id) => (await request<{ decisions: Decision[] }>('GET', `/v1/runs/${enc(id)}/decisions`)).decisions,
    events: async (id) => (await request<{ events: RunEvent[] }>('GET', `/v1/runs/${enc(id)}/events?limit=10000`)).events,
    async postEvent(id, body) {
      await request('POST', `/v1/runs/${enc(id)}/events`, body);
    },
    series: async (id, metric) =>
      (await request<{ points: SeriesPoint[] }>('GET', `/v1/runs/${enc(id)}/series?metric=${enc(metric)}`)).points,
  };
}

/** Flags every client command takes. */
export const CLIENT_FLAGS: FlagSpec[] = [
  { name: 'url', default: DEFAULT_URL, help: 'the sidecar\'s API address' },
  TOKEN_FLAG,
];

/** --url checked: http(s) only, so a typo is a usage error rather than a fetch failure. */
export function checkUrl(url: string, errors: string[]): void {
  try {
    const u = new URL(url);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') errors.push(`--url: ${JSON.stringify(url)} is not an http:// or https:// address`);
  } catch {
    errors.push(`--url: ${JSON.stringify(url)} is not an address (e.g. ${DEFAULT_URL})`);
  }
}

/** RUN is an id, or the name of a run (the newest with that name). */
export async function resolveRun(client: ApiClient, ref: string): Promise<string> {
  try {
    return (await client.run(ref)).id;
  } catch (err) {
    if (!(err instanceof HttpError && err.status === 404)) throw err;
    const match = (await client.runs({ limit: 1000 })).find((r) => r.name === ref || r.label === ref);
    if (!match) throw new HttpError(404, 'not_found', `no run with id or name ${JSON.stringify(ref)}`);
    return match.id;
  }
}
