// The advice catalogue: remedies beyond the three knobs, per bottleneck, each with why.
// Structured (code, title, why) so the API, reports and dashboards can show them. Advice fits
// the job: no GPU remedy for a job with no GPU, nothing a knob the tuner still turns would do
// itself, and (with the window) no remedy that an earlier decision already gave.
import { runGpus, type Classification } from './classify.js';
import { fmtBytes, fmtCores, fmtPercent, fmtTimes } from './format.js';
import type { Advice } from '../domain/decisions.js';
import type { Knob } from '../domain/config.js';
import type { Window } from './window.js';

export interface AdviceContext {
  /** The model does not fit on the device even at the smallest allowed batch. */
  doesNotFitAtMinBatch?: boolean;
  /** The workers knob is at its bound or budget (or is not tuned) and input still holds the job back. */
  workersExhausted?: boolean;
  /** The batch-size knob cannot grow further (bound, memory, or not tuned). */
  batchExhausted?: boolean;
  /** What the job runs on; by default read from the window (GPU readings for the run) or the evidence. */
  device?: 'cpu' | 'gpu';
  /**
   * Keep remedies that earlier decisions already gave. Off by default, so a decision carries only
   * new advice; on for the run's current status, which lists every remedy that fits now.
   */
  includeAdvised?: boolean;
}

/** Remedies that need a GPU: never advised to a job without one. */
export const GPU_ONLY = new Set(['gpu_preprocessing', 'pin_memory', 'cuda_graphs', 'mixed_precision', 'cooling', 'power_limit', 'tf32', 'expandable_segments']);

const A = (code: string, title: string, why: string): Advice => ({ code, title, why });

/** The remedies for this bottleneck that fit the job, each once. `w` (the tuner's window) tells device, knobs and history. */
export function adviceFor(c: Classification, ctx: AdviceContext = {}, w?: Window): Advice[] {
  const device = ctx.device ?? deviceOf(c, w);
  const byKind = adviceForKind(c, ctx, w);
  let all = !ctx.doesNotFitAtMinBatch || c.bottleneck === 'gpu_memory_pressure'
    ? byKind
    : [...adviceForKind({ ...c, bottleneck: 'gpu_memory_pressure' }, ctx, w), ...byKind.filter((a) => a.code !== 'mixed_precision')];
  if (device === 'gpu') all = [...all, ...fragmentationAdvice(c, w)];
  if (device === 'cpu') all = all.filter((a) => !GPU_ONLY.has(a.code));
  const advised = ctx.includeAdvised || !w ? new Set<string>() : advisedCodes(w);
  const seen = new Set<string>();
  return all.filter((a) => !advised.has(a.code) && !seen.has(a.code) && seen.add(a.code));
}

/**
 * Reserved at least this many times what tensors hold, and at least FRAGMENTATION_MIN_BYTES more:
 * the caching allocator keeps blocks it cannot reuse for the sizes asked (fragmentation). PyTorch's
 * CUDA memory-management notes name expandable_segments for exactly this ("reserved but unallocated"
 * memory, many differently-sized allocations); torchtune measured peak 16.4 → 10.8 GiB with it
 * (meta-pytorch/torchtune#1185), a 1.5× ratio. A heuristic threshold below that figure.
 */
export const FRAGMENTATION_RATIO = 1.25;
export const FRAGMENTATION_MIN_BYTES = 1024 ** 3;

/**
 * PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True, when reserved ≫ allocated and memory is short:
 * the verdict says memory pressure, or the allocator ran out (OOM events, num_ooms) or had to retry.
 */
function fragmentationAdvice(c: Classification, w: Window | undefined): Advice[] {
  const { reservedBytes: reserved, allocatedBytes: allocated, ooms: cudaOoms, allocRetries } = c.figures.cuda;
  if (reserved === undefined || allocated === undefined || allocated <= 0) return [];
  if (reserved < FRAGMENTATION_RATIO * allocated || reserved - allocated < FRAGMENTATION_MIN_BYTES) return [];
  const ooms = Math.max(cudaOoms ?? 0, w ? w.events.filter((x) => x.kind === 'oom').length : 0, w?.oomBatchSizes.length ?? 0);
  const retries = allocRetries ?? 0;
  const pressure = c.bottleneck === 'gpu_memory_pressure';
  if (!pressure && ooms === 0 && retries === 0) return [];
  const short = [
    pressure ? 'device memory is nearly full' : null,
    ooms > 0 ? `${ooms} out-of-memory error${ooms > 1 ? 's' : ''}` : null,
    retries > 0 ? `${retries} cudaMalloc retr${retries > 1 ? 'ies' : 'y'}` : null,
  ].filter(Boolean).join(', ');
  return [A('expandable_segments', 'Let the CUDA allocator expand segments',
    `PyTorch reserves ${fmtBytes(reserved)} but tensors hold ${fmtBytes(allocated)} at the peak (${fmtTimes(reserved / allocated)}), and ${short}: the cached blocks are fragmented. `
    + 'Start the job with PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True so the allocator grows segments instead of caching odd-sized blocks (torchtune measured peak memory 16.4 → 10.8 GiB with it).')];
}

/** Codes of every remedy the run's earlier decisions gave. */
export function advisedCodes(w: Pick<Window, 'decisions'>): Set<string> {
  return new Set(w.decisions.flatMap((d) => d.advice.map((a) => a.code)));
}

/**
 * GPU when the run has GPU readings (the window's, else any GPU figure in the evidence), CPU when
 * it has none: a job we see no GPU for gets no GPU remedy.
 */
function deviceOf(c: Classification, w: Window | undefined): 'cpu' | 'gpu' {
  if (w) return runGpus(w).length > 0 ? 'gpu' : 'cpu';
  const f = c.figures;
  return f.gpuUtilizationRatio !== null || f.gpuMemoryRatio !== null || f.gpuThrottleReasons.length > 0 ? 'gpu' : 'cpu';
}

/** The tuner turns this knob itself (auto or advise mode, the knob enabled). */
function tunes(w: Window | undefined, knob: Knob): boolean {
  return w !== undefined && w.tune.mode !== 'off' && w.tune.knobs.includes(knob);
}

function adviceForKind(c: Classification, ctx: AdviceContext, w: Window | undefined): Advice[] {
  const f = c.figures;
  const waitRatio = f.dataWaitRatio;
  const wait = waitRatio !== null ? `${fmtPercent(waitRatio)} of each step waits for data` : 'steps wait for data';
  const hostCpu = f.hostCpuUtilizationRatio;
  const treeCores = f.processCpuCores;
  const budget = f.cpuBudgetCores;
  const cpuFacts = [
    hostCpu !== null ? `host CPU ${fmtPercent(hostCpu)} busy` : null,
    treeCores !== null ? `the job uses ${fmtCores(treeCores)}` : null,
    budget !== null ? `budget ${fmtCores(budget)}` : null,
  ].filter(Boolean).join(', ');
  // A knob the user left to themselves: say so, since the tuner will not turn it.
  const untuned = (knob: Knob) => w !== undefined && !tunes(w, knob);
  switch (c.bottleneck) {
    case 'input_bound':
      return [
        ...(untuned('num_workers') ? [A('more_workers', 'Use more data-loader workers', `${wait} and trainpilot does not tune num_workers for this run: raise DataLoader(num_workers=…) while cores are free${cpuFacts ? ` (${cpuFacts})` : ''}.`)] : []),
        ...(ctx.workersExhausted ? [A('more_cpu', 'Give the job more CPU cores', untuned('num_workers')
          ? `${wait}; if more workers do not help, decoding needs more cores than the job may use${cpuFacts ? ` (${cpuFacts})` : ''}.`
          : `${wait} and data-loader workers are at their limit${cpuFacts ? ` (${cpuFacts})` : ''}; decoding needs more cores than the job may use.`)] : []),
        A('gpu_preprocessing', 'Move decoding and augmentation to the GPU', `${wait}; GPU-side pipelines (NVIDIA DALI, torchvision.transforms.v2 on CUDA tensors) take the work off the CPU.`),
        A('cache_dataset', 'Cache preprocessed samples', `${wait}; caching decoded, resized samples (in RAM or on local NVMe) pays the decoding cost once per dataset instead of once per epoch.`),
        A('pin_memory', 'Use pinned memory and non-blocking copies', `${wait}; pin_memory=True with .to(device, non_blocking=True) overlaps host-to-device copies with compute.`),
      ];
    case 'io_bound': {
      const iowait = f.hostCpuIowaitRatio;
      return [
        A('faster_storage', 'Read from faster storage', `${wait}${iowait !== null ? ` and the host CPU is ${fmtPercent(iowait)} in iowait` : ' and the host is in iowait'}: the disk or network file system limits the pipeline, not the CPU.`),
        A('cache_dataset', 'Cache the dataset locally', 'Stage the dataset on local NVMe or in page cache / RAM before training; later epochs then read at memory speed.'),
        A('sequential_format', 'Use a sequential, sharded format', 'Many small random reads are slow on network storage; WebDataset tar shards, TFRecord or similar turn them into large sequential reads.'),
      ];
    }
    case 'cpu_saturated':
      return [
        A('more_cpu', 'Give the job more CPU cores', `${wait} and the CPU is saturated${cpuFacts ? ` (${cpuFacts})` : ''}: more workers would only compete for the same cores.`),
        A('gpu_preprocessing', 'Move decoding and augmentation to the GPU', `${wait}; NVIDIA DALI or GPU transforms do the decode and augmentation on the device and free CPU cores.`),
        A('cache_dataset', 'Cache preprocessed samples', `${wait}; decoding once and caching the result removes most per-epoch CPU work.`),
      ];
    case 'host_memory_pressure': {
      const avail = f.hostMemoryAvailableRatio;
      const swap = f.hostSwapUsedBytes;
      const facts = `Host memory available ${avail !== null ? fmtPercent(avail) : 'is low'}${swap ? ` with ${fmtBytes(swap)} of swap in use` : ''}`;
      return [
        // With the workers knob tuned, the tuner steps workers down itself.
        ...(tunes(w, 'num_workers') && !ctx.workersExhausted ? [] : [A('fewer_workers', 'Use fewer data-loader workers', `${facts}: each worker holds its own copy of what the dataset object references.`)]),
        A('shared_dataset_memory', 'Keep dataset metadata in shared arrays', `${facts}; Python lists and dicts in a Dataset are copied into every worker by reference counting (copy-on-read); numpy arrays or memory-mapped files are shared.`),
      ];
    }
    case 'gpu_memory_pressure': {
      const mem = f.gpuMemoryRatio;
      const peak = mem !== null ? `Device memory peaks at ${fmtPercent(mem)} of capacity` : 'Device memory is nearly full';
      return [
        A('mixed_precision', 'Train in mixed precision', `${peak}; bf16/fp16 activations (torch.autocast) roughly halve activation memory and speed up tensor-core math.`),
        A('gradient_checkpointing', 'Use gradient checkpointing', `${peak}; recomputing activations in the backward pass (torch.utils.checkpoint) trades about a third more compute for much less activation memory, leaving room for a larger batch.`),
        ...(ctx.doesNotFitAtMinBatch ? [
          A('model_parallelism', 'Shard the model across devices', 'The model does not fit even at the smallest batch: FSDP / ZeRO shard parameters, gradients and optimizer state; tensor or pipeline parallelism split the layers.'),
          A('quantization', 'Quantize weights or optimizer state', 'The model does not fit even at the smallest batch; 8-bit optimizers and low-precision weights shrink the memory that does not depend on batch size.'),
          A('pruning_distillation_low_rank', 'Make the model smaller', 'The model does not fit even at the smallest batch; pruning, distillation into a smaller student, or low-rank factorisation (LoRA for fine-tuning) reduce parameters and their optimizer state.'),
        ] : []),
      ];
    }
    case 'gpu_throttled': {
      const reasons = f.gpuThrottleReasons.join(', ');
      const thermal = /thermal|hw_slowdown/.test(reasons);
      const power = /power/.test(reasons);
      return [
        ...(thermal ? [A('cooling', 'Improve cooling', `The GPU slows its clocks for heat (${reasons}): check airflow, fan curves, inlet temperature and dust.`)] : []),
        ...(power ? [A('power_limit', 'Raise the power limit or balance power', `The GPU is held at its power limit (${reasons}): raise it if the board allows (nvidia-smi -pl), or spread load across nodes/PSUs.`)] : []),
        A('mixed_precision', 'Train in mixed precision', `GPU clocks held down (${reasons}); at a fixed power cap, tensor-core bf16/fp16 math does more work per watt.`),
      ];
    }
    case 'gpu_underutilized': {
      const util = f.gpuUtilizationRatio;
      const busy = util !== null ? `The GPU is busy ${fmtPercent(util)} of the time` : 'The GPU idles';
      return [
        ...(untuned('batch_size') ? [A('larger_batch', 'Use a larger batch', `${busy} and trainpilot does not tune batch_size for this run: a larger batch gives each kernel more work.`)] : []),
        ...(ctx.batchExhausted && !untuned('batch_size') ? [A('cuda_graphs', 'Cut launch overhead', `${busy}, and the batch cannot grow further: torch.compile (mode="reduce-overhead") or CUDA graphs launch many small kernels as one.`)] : []),
        A('overlap_host_work', 'Move host work off the critical path', `${busy}; logging, .item() calls and host-side metrics force synchronisation each step: do them every N steps.`),
      ];
    }
    case 'compute_bound':
      return [
        A('mixed_precision', 'Train in mixed precision', 'The device is the bottleneck, as it should be; bf16/fp16 tensor-core math is the next multiplier.'),
        A('data_parallelism', 'Add devices with data parallelism', 'The job computes as fast as its hardware allows; more throughput now needs more devices or machines: DistributedDataParallel scales samples per second close to linearly while communication stays small.'),
      ];
    case 'tensor_cores_idle': {
      // DESIGN §11: the figures are the GPM counters of the run's GPUs (classify's evidence).
      const util = f.gpuUtilizationRatio;
      const tensor = f.gpm.tensorActiveRatio ?? null;
      const fp32 = f.gpm.fp32ActiveRatio ?? null;
      const facts = [
        util !== null ? `the GPU is busy ${fmtPercent(util)} of the time` : 'the GPU is busy',
        tensor !== null ? `its tensor cores only ${fmtPercent(tensor)}` : 'its tensor cores idle',
        ...(fp32 !== null ? [`FP32 math ${fmtPercent(fp32)}`] : []),
      ].join(', ');
      const said = facts.charAt(0).toUpperCase() + facts.slice(1);
      return [
        A('mixed_precision', 'Train in mixed precision', `${said}: the matrix math runs in FP32 on the CUDA cores. bf16/fp16 under torch.autocast (with a GradScaler for fp16) moves it to the tensor cores, typically 2× or more on the same GPU, and halves activation memory.`),
        A('tf32', 'Allow TF32 for FP32 matrix math', `${said}. Where the model must stay FP32, torch.set_float32_matmul_precision("high") (or torch.backends.cuda.matmul.allow_tf32 = True and torch.backends.cudnn.allow_tf32 = True) lets Ampere and newer GPUs run FP32 matmuls and convolutions on tensor cores.`),
      ];
    }
    case 'warming_up':
      return [];
  }
}
