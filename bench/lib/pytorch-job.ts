// The real PyTorch job the tuner is judged on (examples/pytorch/train.py) by bench/tuner-pytorch.ts
// and test/e2e-tuner-pytorch.test.ts: a CPU CNN with a costly per-sample transform, so batch size
// and data-loader workers both matter on a 2-core machine.
export const JOB = ['--transform-cost', '40', '--width', '3', '--max-batch-size', '256'];
