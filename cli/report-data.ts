// Everything `trainpilot report` and the end-of-run summary say about a run, fetched once and
// computed here: throughput at start and end, config history, decisions, advice, peak RSS.
import { WARMUP_STEPS } from '../tuner/measure.js';
import { jobStepRate } from '../tuner/throughput.js';
import type { ApiClient, Decision, Run, RunEvent, Step } from './api-client.js';

export interface Throughput {
  steps: number;
  samples: number;
  /** Sum of the steps' own durations (the job's reports), not wall time. */
  seconds: number;
  samples_per_second: number | null;
  data_wait_ratio: number | null;
}

export interface ConfigVersion {
  version: number;
  ts: number;
  config: Record<string, number | null>;
  /** Why this version exists: the decision's reason, or how it was set. */
  reason: string;
  decision_id: number | null;
}

export interface Advice {
  code: string;
  title: string;
  why: string;
}

/** Samples/s of one stretch of consecutive steps, for a chart of the run. */
export interface ThroughputPoint {
  step: number;
  samples_per_second: number;
}

export interface RunReport {
  generated_at: number;
  run: Run;
  duration_s: number;
  exit: { kind: string; exit_code: number | null; signal: string | null } | null;
  /**
   * Start and end samples/s: the starting config's own steps before the first change against the
   * final config's (issue 21: a first quarter that already ran a change says nothing of the start),
   * else, with one config throughout, the first and the last quarter.
   */
  throughput: { start: Throughput | null; end: Throughput | null; end_over_start: number | null; basis?: 'configs' | 'quarters' };
  /** Samples/s over the run in at most SERIES_POINTS stretches of (rank-0) steps. */
  throughput_series: ThroughputPoint[];
  config_history: ConfigVersion[];
  decisions: Decision[];
  advice: Advice[];
  events: RunEvent[];
  peak_rss_bytes: number | null;
}

/**
 * The job's samples/s over step time (tuner/throughput.ts) of a stretch of rank-0 steps: start and
 * end are compared by the job's own step durations, as the tuner compares configs, so an evaluation
 * or a checkpoint in one quarter does not read as a slower config.
 */
function throughputOf(steps: Step[]): Throughput {
  const rate = jobStepRate(steps.map((s) => ({ durationS: s.duration_s, samples: s.samples, worldSize: s.world_size })));
  let wait = 0;
  for (const s of steps) wait += s.data_wait_s;
  return {
    steps: steps.length,
    samples: rate.samples,
    seconds: rate.seconds,
    samples_per_second: rate.samplesPerSecond,
    data_wait_ratio: rate.seconds > 0 ? wait / rate.seconds : null,
  };
}

/** Steps the tuner discards after a config change: a rebuilt loader refilling. */
const WARMUP = WARMUP_STEPS;

/**
 * Samples/s at start and at end: the starting config's own steps (before the first change) against
 * the final config's, each less its warm-up when it has steps to spare; with one config throughout,
 * the first and the last quarter of the run's (rank-0) steps.
 */
export function quarterThroughput(all: Step[]): RunReport['throughput'] {
  const steps = all.filter((s) => s.rank === 0);
  if (steps.length === 0) return { start: null, end: null, end_over_start: null };
  const ratioOf = (a: Throughput, b: Throughput) => (a.samples_per_second && b.samples_per_second !== null ? b.samples_per_second / a.samples_per_second : null);
  const first = steps[0].config_version;
  const last = steps[steps.length - 1].config_version;
  if (first !== last) {
    const own = (v: number) => { const s = steps.filter((x) => x.config_version === v); return s.length > 2 * WARMUP ? s.slice(WARMUP) : s; };
    const start = throughputOf(own(first));
    const end = throughputOf(own(last));
    return { start, end, end_over_start: ratioOf(start, end), basis: 'configs' };
  }
  const q = Math.max(1, Math.floor(steps.length / 4));
  const start = throughputOf(steps.slice(0, q));
  const end = throughputOf(steps.slice(-q));
  return { start, end, end_over_start: ratioOf(start, end), basis: 'quarters' };
}

const SERIES_POINTS = 60;

export function throughputSeries(all: Step[], points = SERIES_POINTS): ThroughputPoint[] {
  const steps = all.filter((s) => s.rank === 0);
  const size = Math.max(1, Math.ceil(steps.length / points));
  const out: ThroughputPoint[] = [];
  for (let i = 0; i < steps.length; i += size) {
    const chunk = steps.slice(i, i + size);
    const t = throughputOf(chunk);
    if (t.samples_per_second !== null) out.push({ step: chunk[chunk.length - 1].step, samples_per_second: t.samples_per_second });
  }
  return out;
}

const KNOB_SERIES = ['batch_size', 'learning_rate', 'num_workers', 'grad_accum_steps'] as const;

/** Config versions from the per-knob series (each row of config_versions is one point in each). */
export function configHistory(series: Record<string, Array<[number, number | null]>>, decisions: Decision[]): ConfigVersion[] {
  const n = Math.max(0, ...KNOB_SERIES.map((k) => series[k]?.length ?? 0));
  const byVersion = new Map(decisions.filter((d) => d.config_version !== null).map((d) => [d.config_version!, d]));
  return Array.from({ length: n }, (_, i) => {
    const version = i + 1;
    const config: Record<string, number | null> = {};
    for (const k of KNOB_SERIES) config[k] = series[k]?.[i]?.[1] ?? null;
    const d = byVersion.get(version);
    return {
      version,
      ts: series.batch_size?.[i]?.[0] ?? 0,
      config,
      reason: d ? d.reason : i === 0 ? 'the job\'s starting config' : 'set through the API',
      decision_id: d ? d.id : null,
    };
  });
}

/**
 * The run's current advice first, then what past decisions advised under the same verdict, each code
 * once: advice given while the job read otherwise (compute-bound, before its data moved) would
 * contradict the verdict the report shows (issue 21).
 */
export function collectAdvice(run: Run, decisions: Decision[]): Advice[] {
  const seen = new Map<string, Advice>();
  const add = (a: Record<string, unknown>) => {
    const code = String(a.code ?? '');
    if (code && !seen.has(code)) seen.set(code, { code, title: String(a.title ?? code), why: String(a.why ?? '') });
  };
  run.advice.forEach(add);
  const kind = run.bottleneck?.kind ?? null;
  for (const d of decisions) if (kind === null || d.evidence?.bottleneck === undefined || d.evidence.bottleneck === kind) d.advice.forEach(add);
  return [...seen.values()];
}

export function exitOf(events: RunEvent[]): RunReport['exit'] {
  const e = [...events].reverse().find((x) => x.kind === 'finished' || x.kind === 'failed' || x.kind === 'exited');
  if (!e) return null;
  const code = e.data.exit_code;
  return { kind: e.kind, exit_code: typeof code === 'number' ? code : e.kind === 'finished' ? 0 : null, signal: typeof e.data.signal === 'string' ? e.data.signal : null };
}

/** A series the sidecar may not have (older version, no samples) is just unknown. */
async function seriesOrEmpty(client: ApiClient, id: string, metric: string): Promise<Array<[number, number | null]>> {
  try {
    return (await client.series(id, metric)) as Array<[number, number | null]>;
  } catch {
    return [];
  }
}

export async function gatherReport(client: ApiClient, id: string, now = Date.now() / 1000): Promise<RunReport> {
  const run = await client.run(id);
  const [steps, decisions, events, rss, ...knobs] = await Promise.all([
    client.steps(run.id),
    client.decisions(run.id),
    client.events(run.id),
    seriesOrEmpty(client, run.id, 'process_resident_memory_bytes'),
    ...KNOB_SERIES.map((k) => seriesOrEmpty(client, run.id, k)),
  ]);
  const rssValues = rss.map((p) => p[1]).filter((v): v is number => typeof v === 'number');
  return {
    generated_at: now,
    run,
    duration_s: Math.max(0, (run.ended_at ?? now) - run.created_at),
    exit: exitOf(events),
    throughput: quarterThroughput(steps),
    throughput_series: throughputSeries(steps),
    config_history: configHistory(Object.fromEntries(KNOB_SERIES.map((k, i) => [k, knobs[i]])), decisions),
    decisions,
    advice: collectAdvice(run, decisions),
    events,
    peak_rss_bytes: rssValues.length ? Math.max(...rssValues) : null,
  };
}
