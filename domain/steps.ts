// One step report as stored (base units): what the client sends, the store keeps and the tuner,
// /metrics and the run view read.

/** How a non-finite loss is held from the API to the store and the tuner: SQLite keeps +inf, not NaN. */
export const NON_FINITE_LOSS = Number.POSITIVE_INFINITY;

/** A loss fit to show as a number (JSON, the page), else null. */
export function finiteLoss(loss: number | null): number | null {
  return loss !== null && Number.isFinite(loss) ? loss : null;
}

export interface StepPoint {
  step: number;
  ts: number; // unix seconds, when the step ended
  durationS: number;
  dataWaitS: number;
  samples: number;
  /** null: not reported; NON_FINITE_LOSS: the step's loss was NaN or ±inf (kept as +inf, which the store can hold). */
  loss: number | null;
  memPeakBytes: number | null;
  gradSqNorm: number | null;
  gradSqNormSmall: number | null;
  rank: number;
  worldSize: number;
  configVersion: number; // the config version the step ran under
  /**
   * The CUDA caching allocator's figures (torch.cuda.memory_stats()) as the client last read them,
   * on the step it read them with (DESIGN §11, docs/gpu.md). Held in memory for the tuner, not stored.
   */
  cuda?: CudaMemory;
}

/** torch.cuda.memory_stats() in base units: bytes and counts. */
export interface CudaMemory {
  reservedBytes: number | null;
  allocatedBytes: number | null;
  reservedPeakBytes: number | null;
  allocatedPeakBytes: number | null;
  /** cudaMalloc calls that failed and were retried after freeing cached blocks (num_alloc_retries). */
  allocRetries: number | null;
  /** Out-of-memory errors the allocator raised (num_ooms). */
  ooms: number | null;
}
