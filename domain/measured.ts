// The figures of one measured configuration, as a decision keeps them: the window the change was
// measured against (`before`), what it measured under the change (the outcome's `after`), and for a
// rollback the trial it undid (`rejected`). Typed data (STYLE: "Evidence is typed data"); the
// `before_*` / `rejected_*` keys of the evidence map and the API's `outcome.after` are rendered from
// it here, in one place, and decisions stored by older releases (those keys only) are read back
// through the one adapter below (readFigures), which also reads how their moves were chosen
// (DecisionBasis) from the keys they kept it under.
import { SEARCH_KINDS, type DecisionBasis } from './decisions.js';

/** One configuration's measured figures (tuner/measure.ts measures them; rounded as stored). */
export interface MeasuredPoint {
  batchSize: number;
  numWorkers: number;
  gradAccumSteps: number;
  /** Steady steps the figures are over. */
  steps: number;
  /** The job's samples/s over step time (tuner/throughput.ts). */
  samplesPerSecond: number;
  stepSeconds: number;
  /** Step time minus data wait: the device's share of a step. */
  computeSeconds: number;
  dataWaitRatio: number;
  /** Relative standard error of the mean step time: the measurement's noise band. */
  relNoise: number;
  memPeakBytes: number | null;
  /** Median finite loss; null when the steps reported none. */
  loss: number | null;
  lossSigma: number;
  /** Device memory the run held when measured (its processes, else the busiest GPU); recorded before a change only. */
  gpuMemoryUsedBytes?: number | null;
  /** CPU cores the job's process tree used, and one data-loader worker's busy share, when read. */
  processCpuCores: number | null;
  workerBusyRatio: number | null;
}

/** The evidence keys of a point, in the order the map has always listed them (the prefix in front). */
const KEYS: ReadonlyArray<readonly [keyof MeasuredPoint, string]> = [
  ['batchSize', 'batch_size'],
  ['numWorkers', 'num_workers'],
  ['gradAccumSteps', 'grad_accum_steps'],
  ['steps', 'steps'],
  ['samplesPerSecond', 'samples_per_second'],
  ['stepSeconds', 'step_seconds'],
  ['computeSeconds', 'compute_seconds'],
  ['dataWaitRatio', 'data_wait_ratio'],
  ['relNoise', 'rel_noise'],
  ['memPeakBytes', 'mem_peak_bytes'],
  ['loss', 'loss'],
  ['lossSigma', 'loss_sigma'],
  ['gpuMemoryUsedBytes', 'gpu_memory_used_bytes'],
  ['processCpuCores', 'process_cpu_cores'],
  ['workerBusyRatio', 'worker_busy_ratio'],
];

/** The point as evidence keys for people and for the API (`before_samples_per_second`, …); absent fields are left out. */
export function pointEvidence(p: MeasuredPoint, prefix = ''): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  for (const [field, key] of KEYS) if (p[field] !== undefined) out[`${prefix}${key}`] = p[field];
  return out;
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/**
 * The legacy adapter: a point from the keys an older release wrote (`before_*` in the evidence,
 * `rejected_*` in a rollback's, the outcome's `after` as a plain record). Undefined when the
 * figures a point needs (batch size, samples/s, step and compute time) are not all there.
 */
function pointFromKeys(r: Record<string, unknown> | null | undefined, prefix = ''): MeasuredPoint | undefined {
  if (!r || typeof r !== 'object') return undefined;
  const k = (key: string) => num(r[`${prefix}${key}`]);
  const batchSize = k('batch_size');
  const samplesPerSecond = k('samples_per_second');
  const stepSeconds = k('step_seconds');
  const computeSeconds = k('compute_seconds');
  if (batchSize === null || samplesPerSecond === null || stepSeconds === null || computeSeconds === null) return undefined;
  return {
    batchSize,
    numWorkers: k('num_workers') ?? 0,
    gradAccumSteps: k('grad_accum_steps') ?? 1,
    steps: k('steps') ?? 0,
    samplesPerSecond,
    stepSeconds,
    computeSeconds,
    dataWaitRatio: k('data_wait_ratio') ?? 0,
    relNoise: k('rel_noise') ?? 0,
    memPeakBytes: k('mem_peak_bytes'),
    loss: k('loss'),
    lossSigma: k('loss_sigma') ?? 0,
    ...(`${prefix}gpu_memory_used_bytes` in r ? { gpuMemoryUsedBytes: k('gpu_memory_used_bytes') } : {}),
    processCpuCores: k('process_cpu_cores'),
    workerBusyRatio: k('worker_busy_ratio'),
  };
}

/** A typed point as stored, or a legacy plain record (snake-case keys) turned into one. */
function asPoint(v: unknown): MeasuredPoint | undefined {
  if (!v || typeof v !== 'object') return undefined;
  return typeof (v as MeasuredPoint).samplesPerSecond === 'number' ? (v as MeasuredPoint) : pointFromKeys(v as Record<string, unknown>);
}

/**
 * The legacy adapter for how a move was chosen: the evidence keys an older release wrote
 * (`bottleneck`, `search`, `safety`, `predicted_gain`, `b_noise`, `job_changed_at`); undefined
 * where it wrote none of them (a rollback).
 */
function basisFromKeys(e: Record<string, unknown>): DecisionBasis | undefined {
  if (!['bottleneck', 'search', 'safety', 'predicted_gain', 'b_noise', 'job_changed_at'].some((k) => k in e)) return undefined;
  const search = SEARCH_KINDS.find((k) => k === e.search) ?? null;
  return {
    bottleneck: typeof e.bottleneck === 'string' ? e.bottleneck : null,
    search,
    safety: e.safety === true,
    predictedGain: num(e.predicted_gain),
    bNoise: num(e.b_noise),
    jobChangedAt: num(e.job_changed_at),
  };
}

interface WithFigures {
  evidence: Record<string, unknown>;
  outcome: { status: string; after?: unknown };
  before?: MeasuredPoint;
  rejected?: MeasuredPoint;
  basis?: DecisionBasis;
}

/**
 * A decision as read back (the store's rows, a recorded window): its typed figures as stored, else
 * — a decision of an older release — from its `before_*` / `rejected_*` evidence keys, its
 * outcome's plain `after` record and the keys that said how the move was chosen. The one place
 * legacy keys become typed data.
 */
export function readFigures<D extends WithFigures>(d: D, stored: { before?: MeasuredPoint; rejected?: MeasuredPoint; basis?: DecisionBasis } = {}): D {
  const before = stored.before ?? d.before ?? pointFromKeys(d.evidence, 'before_');
  const rejected = stored.rejected ?? d.rejected ?? pointFromKeys(d.evidence, 'rejected_');
  const basis = stored.basis ?? d.basis ?? basisFromKeys(d.evidence);
  let outcome = d.outcome;
  if (outcome.after !== undefined) {
    const { after: raw, ...rest } = outcome;
    const after = asPoint(raw);
    outcome = (after ? { ...rest, after } : rest) as D['outcome'];
  }
  return { ...d, ...(before ? { before } : {}), ...(rejected ? { rejected } : {}), ...(basis ? { basis } : {}), outcome };
}
