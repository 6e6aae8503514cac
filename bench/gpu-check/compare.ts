// scripts/gpu-check's judgement: what the sidecar exported against what nvidia-smi and torch.cuda
// read on the same machine at the same time. Pure: readings in, one table out.
// Tolerances say why: the two sides sample at different moments, so moving figures (utilisation,
// power) are compared as medians over the same span with room for the sampling offset.

/** One GPU's figures over the check, each side's median. */
export interface GpuFigures {
  index: number;
  utilizationRatio: number | null;
  memoryUsedBytes: number | null;
  memoryTotalBytes: number | null;
  powerDrawWatts: number | null;
  /** GPM: SM active and tensor active; null = no GPM series / dmon had no values. */
  smActiveRatio: number | null;
  tensorActiveRatio: number | null;
}

export interface JobFigures {
  /** Optimizer steps the job counted itself. */
  steps: number;
  samples: number;
  /** Joules per sample from NVML's energy counter (pynvml) or nvidia-smi's power integrated over the job's steps. */
  joulesPerSample: number | null;
  joulesSource: string;
  /** GPU index the job trained on (from its device UUID). */
  gpuIndex: number | null;
  /** torch.cuda.memory_reserved at its peak, bytes. */
  reservedBytes: number | null;
  /** When its training loop ended (unix seconds). */
  endTs: number;
}

export interface SidecarRun {
  steps: number;
  joulesPerSample: number | null;
  /** GPUs the run's processes hold memory on, and how much. */
  gpuMemoryBytes: Record<string, number>;
  decisions: number;
  configVersion: number;
  appliedVersion: number;
  bottleneck: string | null;
  lastDecisionTs: number | null;
}

/** A decision this close to the job's end may find no epoch boundary left to apply it at. */
export const LATE_DECISION_S = 15;

export interface CheckInput {
  sidecar: GpuFigures[];
  nvidiaSmi: GpuFigures[];
  /** Whether `dmon --gpm-metrics` gave values on this machine. */
  gpmSupported: boolean;
  job: JobFigures | null;
  run: SidecarRun | null;
}

export type Verdict = 'ok' | 'MISMATCH' | 'info';

export interface Row {
  check: string;
  sidecar: string;
  reference: string;
  tolerance: string;
  verdict: Verdict;
}

const MiB = 1024 * 1024;
const pct = (x: number | null) => (x === null ? '—' : `${(x * 100).toFixed(1)} %`);
const mib = (x: number | null) => (x === null ? '—' : `${(x / MiB).toFixed(0)} MiB`);
const watts = (x: number | null) => (x === null ? '—' : `${x.toFixed(1)} W`);
const joules = (x: number | null) => (x === null ? '—' : `${x.toPrecision(4)} J`);

function within(a: number | null, b: number | null, tol: number): Verdict {
  if (a === null || b === null) return 'MISMATCH';
  return Math.abs(a - b) <= tol ? 'ok' : 'MISMATCH';
}

/** Utilisation is a share of the last sample period: two samplers a second apart differ by that much on a busy, bursty job. */
export const UTIL_TOLERANCE = 0.15;
/** Power moves with load within a second; 15 % or 25 W, whichever is more. */
export const POWER_TOLERANCE = { ratio: 0.15, watts: 25 };
/**
 * Memory used moves while the job allocates: 5 % of the larger reading, or 512 MiB. (Of the reading,
 * not of the device: on a 141 GiB H200 5 % of the device let a 7 GiB error pass.)
 */
export const MEMORY_TOLERANCE = { ratio: 0.05, bytes: 512 * MiB };
/** GPM ratios from two dmon readers over different intervals. */
export const GPM_TOLERANCE = 0.2;
/** Energy: the sidecar counts the steps its power readings cover; the reference counts the job's whole loop. */
export const ENERGY_TOLERANCE = 0.25;
/** CUDA context and cuDNN/cuBLAS workspaces: what nvidia-smi sees beyond torch's reserved pool. */
export const CONTEXT_OVERHEAD_BYTES = 1536 * MiB;

export function compare(input: CheckInput): Row[] {
  const rows: Row[] = [];
  const row = (check: string, sidecar: string, reference: string, tolerance: string, verdict: Verdict) => rows.push({ check, sidecar, reference, tolerance, verdict });
  for (const ref of input.nvidiaSmi) {
    const s = input.sidecar.find((g) => g.index === ref.index);
    const g = `GPU ${ref.index}`;
    if (!s) {
      row(`${g} readings`, 'none', 'present', '—', 'MISMATCH');
      continue;
    }
    row(`${g} utilisation`, pct(s.utilizationRatio), pct(ref.utilizationRatio), `± ${pct(UTIL_TOLERANCE)}`, within(s.utilizationRatio, ref.utilizationRatio, UTIL_TOLERANCE));
    const memTol = Math.max(MEMORY_TOLERANCE.bytes, MEMORY_TOLERANCE.ratio * Math.max(s.memoryUsedBytes ?? 0, ref.memoryUsedBytes ?? 0));
    row(`${g} memory used`, mib(s.memoryUsedBytes), mib(ref.memoryUsedBytes), `± ${mib(memTol)}`, within(s.memoryUsedBytes, ref.memoryUsedBytes, memTol));
    row(`${g} memory total`, mib(s.memoryTotalBytes), mib(ref.memoryTotalBytes), 'equal', within(s.memoryTotalBytes, ref.memoryTotalBytes, 0));
    const pTol = Math.max(POWER_TOLERANCE.watts, POWER_TOLERANCE.ratio * (ref.powerDrawWatts ?? 0));
    row(`${g} power`, watts(s.powerDrawWatts), watts(ref.powerDrawWatts), `± ${watts(pTol)}`, ref.powerDrawWatts === null && s.powerDrawWatts === null ? 'ok' : within(s.powerDrawWatts, ref.powerDrawWatts, pTol));
    if (input.gpmSupported) {
      // A GPU dmon gives no value for has no GPM: the sidecar must then export none either.
      const gpmRow = (what: string, a: number | null, b: number | null) => (a === null && b === null
        ? row(`${g} ${what} (GPM)`, 'absent', 'absent', 'absent', 'ok')
        : row(`${g} ${what} (GPM)`, pct(a), pct(b), `± ${pct(GPM_TOLERANCE)}`, within(a, b, GPM_TOLERANCE)));
      gpmRow('SM active', s.smActiveRatio, ref.smActiveRatio);
      gpmRow('tensor active', s.tensorActiveRatio, ref.tensorActiveRatio);
    } else {
      const absent = s.smActiveRatio === null && s.tensorActiveRatio === null;
      row(`${g} GPM`, absent ? 'absent' : 'exported', 'unsupported (dmon)', 'absent', absent ? 'ok' : 'MISMATCH');
    }
  }
  for (const s of input.sidecar) {
    if (!input.nvidiaSmi.some((r) => r.index === s.index)) row(`GPU ${s.index} readings`, 'present', 'no such GPU', '—', 'MISMATCH');
  }
  const { job, run } = input;
  if (!job) return rows;
  if (!run) {
    row('run registered', 'no', 'yes', '—', 'MISMATCH');
    return rows;
  }
  const held = Object.entries(run.gpuMemoryBytes).filter(([, b]) => b > 0).map(([i]) => Number(i)).sort((a, b) => a - b);
  row('run GPU attribution', held.length ? held.join(',') : 'none', job.gpuIndex === null ? '—' : String(job.gpuIndex), 'same GPUs',
    job.gpuIndex !== null && held.length === 1 && held[0] === job.gpuIndex ? 'ok' : 'MISMATCH');
  const mine = job.gpuIndex === null ? undefined : run.gpuMemoryBytes[String(job.gpuIndex)];
  row('run GPU memory vs torch reserved', mib(mine ?? null), `${mib(job.reservedBytes)} (+ context)`, `0 … +${mib(CONTEXT_OVERHEAD_BYTES)}`,
    mine !== undefined && job.reservedBytes !== null && mine >= job.reservedBytes && mine - job.reservedBytes <= CONTEXT_OVERHEAD_BYTES ? 'ok' : 'MISMATCH');
  row('step reports', String(run.steps), String(job.steps), 'equal', run.steps === job.steps ? 'ok' : 'MISMATCH');
  row('energy per sample', joules(run.joulesPerSample), `${joules(job.joulesPerSample)} (${job.joulesSource})`, `± ${ENERGY_TOLERANCE * 100} %`,
    run.joulesPerSample !== null && job.joulesPerSample !== null && Math.abs(run.joulesPerSample - job.joulesPerSample) <= ENERGY_TOLERANCE * job.joulesPerSample ? 'ok' : 'MISMATCH');
  // The tuner's decisions are judged by the job: every version it was given, it applied.
  const late = run.lastDecisionTs !== null && run.lastDecisionTs > job.endTs - LATE_DECISION_S;
  row('tuner decisions', `${run.decisions} (config v${run.configVersion}, bottleneck ${run.bottleneck ?? '—'})`, `applied v${run.appliedVersion}`,
    `all applied (but one in the last ${LATE_DECISION_S} s)`, run.appliedVersion === run.configVersion ? 'ok' : late && run.appliedVersion === run.configVersion - 1 ? 'info' : 'MISMATCH');
  return rows;
}

export function formatTable(rows: readonly Row[]): string {
  const head: Row = { check: 'check', sidecar: 'sidecar', reference: 'nvidia-smi / torch.cuda', tolerance: 'tolerance', verdict: 'ok' };
  const all = [head, ...rows];
  const w = (k: keyof Row) => Math.max(...all.map((r) => (k === 'verdict' ? 8 : r[k].length)));
  const line = (r: Row, v: string) => [r.check.padEnd(w('check')), r.sidecar.padEnd(w('sidecar')), r.reference.padEnd(w('reference')), r.tolerance.padEnd(w('tolerance')), v].join('  ');
  return [line(head, 'verdict'), ...rows.map((r) => line(r, r.verdict))].join('\n');
}

export const mismatches = (rows: readonly Row[]): Row[] => rows.filter((r) => r.verdict === 'MISMATCH');

/** The median of the numbers given; null with none. */
export function medianOf(xs: ReadonlyArray<number | null>): number | null {
  const v = xs.filter((x): x is number => x !== null && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const m = Math.floor(v.length / 2);
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}
