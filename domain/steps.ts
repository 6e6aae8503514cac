// One step report as stored (base units): what the client sends, the store keeps and the tuner,
// /metrics and the run view read.

export interface StepPoint {
  step: number;
  ts: number; // unix seconds, when the step ended
  durationS: number;
  dataWaitS: number;
  samples: number;
  loss: number | null;
  memPeakBytes: number | null;
  gradSqNorm: number | null;
  gradSqNormSmall: number | null;
  rank: number;
  worldSize: number;
  configVersion: number; // the config version the step ran under
}
