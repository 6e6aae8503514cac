// The advice catalogue: remedies beyond the three knobs, per bottleneck, each with why.
// Structured (code, title, why) so the API, reports and dashboards can show them.
import type { Classification } from './classify.js';
import type { Advice } from './window.js';

export interface AdviceContext {
  /** The model does not fit on the device even at the smallest allowed batch. */
  doesNotFitAtMinBatch?: boolean;
  /** The workers knob is at its bound or budget (or is not tuned) and input still holds the job back. */
  workersExhausted?: boolean;
  /** The batch-size knob cannot grow further (bound, memory, or not tuned). */
  batchExhausted?: boolean;
}

const A = (code: string, title: string, why: string): Advice => ({ code, title, why });

export function adviceFor(c: Classification, ctx: AdviceContext = {}): Advice[] {
  const byKind = adviceForKind(c, ctx);
  if (!ctx.doesNotFitAtMinBatch || c.bottleneck === 'gpu_memory_pressure') return byKind;
  return [...adviceForKind({ ...c, bottleneck: 'gpu_memory_pressure' }, ctx), ...byKind.filter((a) => a.code !== 'mixed_precision')];
}

function adviceForKind(c: Classification, ctx: AdviceContext): Advice[] {
  const e = c.evidence;
  const wait = typeof e.data_wait_ratio === 'number' ? `${Math.round(e.data_wait_ratio * 100)} % of each step waits for data` : 'steps wait for data';
  switch (c.bottleneck) {
    case 'input_bound':
      return [
        ...(ctx.workersExhausted ? [A('more_cpu', 'Give the job more CPU cores', `${wait} and data-loader workers are at their limit; decoding needs more cores than the job may use.`)] : []),
        A('gpu_preprocessing', 'Move decoding and augmentation to the GPU', `${wait}; GPU-side pipelines (NVIDIA DALI, torchvision.transforms.v2 on CUDA tensors) take the work off the CPU.`),
        A('cache_dataset', 'Cache preprocessed samples', `${wait}; caching decoded, resized samples (in RAM or on local NVMe) pays the decoding cost once per dataset instead of once per epoch.`),
        A('pin_memory', 'Use pinned memory and non-blocking copies', 'pin_memory=True with .to(device, non_blocking=True) overlaps host-to-device copies with compute.'),
      ];
    case 'io_bound':
      return [
        A('faster_storage', 'Read from faster storage', `${wait} and the host is in iowait ${e.host_cpu_iowait_ratio}: the disk or network file system limits the pipeline, not the CPU.`),
        A('cache_dataset', 'Cache the dataset locally', 'Stage the dataset on local NVMe or in page cache / RAM before training; later epochs then read at memory speed.'),
        A('sequential_format', 'Use a sequential, sharded format', 'Many small random reads are slow on network storage; WebDataset tar shards, TFRecord or similar turn them into large sequential reads.'),
      ];
    case 'cpu_saturated':
      return [
        A('more_cpu', 'Give the job more CPU cores', `${wait} and the CPU is saturated (host ${e.host_cpu_utilization_ratio}, budget ${e.cpu_budget_cores} cores): more workers would only compete for the same cores.`),
        A('gpu_preprocessing', 'Move decoding and augmentation to the GPU', 'Frees CPU cores: NVIDIA DALI or GPU transforms do the decode and augmentation on the device.'),
        A('cache_dataset', 'Cache preprocessed samples', 'Decoding once and caching the result removes most per-epoch CPU work.'),
      ];
    case 'host_memory_pressure':
      return [
        A('fewer_workers', 'Use fewer data-loader workers', `Host memory available ${e.host_memory_available_ratio} with swap in use: each worker holds its own copy of what the dataset object references.`),
        A('shared_dataset_memory', 'Keep dataset metadata in shared arrays', 'Python lists and dicts in a Dataset are copied into every worker by reference counting (copy-on-read); numpy arrays or memory-mapped files are shared.'),
      ];
    case 'gpu_memory_pressure':
      return [
        A('mixed_precision', 'Train in mixed precision', `Device memory peaks at ${e.gpu_memory_ratio} of capacity; bf16/fp16 activations (torch.autocast) roughly halve activation memory and speed up tensor-core math.`),
        A('gradient_checkpointing', 'Use gradient checkpointing', 'Recomputing activations in the backward pass (torch.utils.checkpoint) trades about a third more compute for much less activation memory, leaving room for a larger batch.'),
        ...(ctx.doesNotFitAtMinBatch ? [
          A('model_parallelism', 'Shard the model across devices', 'The model does not fit even at the smallest batch: FSDP / ZeRO shard parameters, gradients and optimizer state; tensor or pipeline parallelism split the layers.'),
          A('quantization', 'Quantize weights or optimizer state', '8-bit optimizers and low-precision weights shrink the memory that does not depend on batch size.'),
          A('pruning_distillation_low_rank', 'Make the model smaller', 'Pruning, distillation into a smaller student, or low-rank factorisation (LoRA for fine-tuning) reduce parameters and their optimizer state.'),
        ] : []),
      ];
    case 'gpu_throttled': {
      const reasons = String(e.gpu_throttle_reasons ?? '');
      const thermal = /thermal|hw_slowdown/.test(reasons);
      const power = /power/.test(reasons);
      return [
        ...(thermal ? [A('cooling', 'Improve cooling', `The GPU slows its clocks for heat (${reasons}): check airflow, fan curves, inlet temperature and dust.`)] : []),
        ...(power ? [A('power_limit', 'Raise the power limit or balance power', `The GPU is held at its power limit (${reasons}): raise it if the board allows (nvidia-smi -pl), or spread load across nodes/PSUs.`)] : []),
        A('mixed_precision', 'Train in mixed precision', 'Less energy per operation: at a fixed power cap, tensor-core bf16/fp16 math does more work per watt.'),
      ];
    }
    case 'gpu_underutilized':
      return [
        ...(ctx.batchExhausted ? [A('cuda_graphs', 'Cut launch overhead', 'The batch cannot grow further and the GPU still idles between kernels: torch.compile (mode="reduce-overhead") or CUDA graphs launch many small kernels as one.')] : []),
        A('overlap_host_work', 'Move host work off the critical path', 'Logging, .item() calls and host-side metrics force synchronisation each step; do them every N steps.'),
      ];
    case 'compute_bound':
      return [
        A('mixed_precision', 'Train in mixed precision', 'The device is the bottleneck, as it should be; bf16/fp16 tensor-core math is the next multiplier.'),
        A('data_parallelism', 'Add devices with data parallelism', 'More throughput now needs more devices: DistributedDataParallel scales samples per second close to linearly while communication stays small.'),
      ];
    case 'warming_up':
      return [];
  }
}
