"""A real PyTorch training job tuned by trainpilot while it runs.

    trainpilot run --tune auto -- python examples/pytorch/train.py

It starts with deliberately poor settings (batch 8, no data-loader workers) on a task whose
per-sample transform costs real CPU, so the sidecar has something to find. The same script
runs on CUDA when there is a GPU, under torchrun (one process per rank), and without a
sidecar (TRAINPILOT_URL unset: it measures, nothing is sent). `--nproc 2` runs it as two
data-parallel ranks (torch.distributed, gloo on CPU) on this machine.

SIGINT or SIGTERM stops it cleanly (exit 0). At the end it prints one line, `trainpilot-example: {json}`, with what it measured itself.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from typing import Any, Dict, List, Tuple

import torch
import torch.distributed as dist
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from data import SyntheticImages, SmallCNN  # noqa: E402

try:
    import trainpilot
except ImportError:  # running from a checkout without `pip install ./clients/python`
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "clients", "python"))
    import trainpilot


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--name", default="pytorch-example")
    p.add_argument("--max-seconds", type=float, default=60.0, help="stop after this long (default 60)")
    p.add_argument("--max-steps", type=int, default=0, help="stop after this many steps (0: no limit)")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--workers", type=int, default=0)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--grad-accum", type=int, default=1)
    p.add_argument("--lr-warmup-steps", type=int, default=20)
    p.add_argument("--samples", type=int, default=50_000, help="dataset size (one epoch)")
    p.add_argument("--transform-cost", type=int, default=30, help="blur passes per sample (CPU per sample)")
    p.add_argument("--width", type=int, default=3, help="model width: channels 16·W and 32·W (compute per sample)")
    p.add_argument("--step-wait-ms", type=float, default=0.0,
                   help="each step also waits this long (a synchronous logging or metrics call): a cost per step that does not grow with the batch")
    p.add_argument("--tune", choices=["auto", "advise", "off"], default="auto")
    p.add_argument("--max-batch-size", type=int, default=256)
    p.add_argument("--max-workers", type=int, default=0, help="tune.bounds.num_workers.max (0: the CPU count)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--nproc", type=int, default=1, help="data-parallel ranks to launch on this machine (gloo on CPU)")
    return p.parse_args()


def setup_device(arg: str) -> Tuple[torch.device, int, int]:
    """Device, rank and world size; joins the process group when launched by torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    cuda = torch.cuda.is_available() and arg != "cpu"
    if world > 1:
        dist.init_process_group("nccl" if cuda else "gloo")
    rank = dist.get_rank() if world > 1 else 0
    if arg not in ("auto", "cpu", "cuda"):
        return torch.device(arg), rank, world
    if cuda:
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        return torch.device("cuda", local), rank, world
    return torch.device("cpu"), rank, world


def quarter_rates(marks: List[Tuple[float, int]], t0: float) -> Tuple[float, float]:
    """Samples per second over the first and the last quarter of the run's wall time."""
    if not marks:
        return 0.0, 0.0
    span = marks[-1][0] - t0
    q = span / 4

    def rate(lo: float, hi: float) -> float:
        return sum(n for t, n in marks if lo < t <= hi) / q if q > 0 else 0.0

    return rate(t0, t0 + q), rate(t0 + 3 * q, t0 + span)


class Stop:
    """Time's up, steps are done, or SIGINT/SIGTERM asked to stop: the job then finishes cleanly
    (reports sent, summary printed, exit 0). Ranks decide together (every 10th step), or one
    would wait forever in an all-reduce for a rank that had stopped."""

    def __init__(self, args: argparse.Namespace, world: int):
        self.args, self.world, self.asked = args, world, False
        signal.signal(signal.SIGINT, self._ask)
        signal.signal(signal.SIGTERM, self._ask)

    def _ask(self, signum: int, _frame: Any) -> None:
        self.asked = True

    def __call__(self, steps: int, elapsed_s: float) -> bool:
        a = self.args
        local = self.asked or elapsed_s >= a.max_seconds or bool(a.max_steps and steps >= a.max_steps)
        if self.world == 1:
            return local
        if steps % 10:
            return False
        flag = torch.tensor([1.0 if local else 0.0])
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        return flag.item() > 0


def main() -> int:
    args = parse_args()
    if args.nproc > 1 and "WORLD_SIZE" not in os.environ:
        from launch import launch

        return launch(args.nproc, sys.argv)
    torch.manual_seed(args.seed)
    device, rank, world = setup_device(args.device)
    model: Any = SmallCNN(args.width).to(device)
    if world > 1:
        model = torch.nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    run = trainpilot.start(
        args.name,
        config={"batch_size": args.batch_size, "learning_rate": args.lr, "num_workers": args.workers,
                "grad_accum_steps": args.grad_accum, "lr_warmup_steps": args.lr_warmup_steps},
        tune={"mode": args.tune, "bounds": {"batch_size": {"min": 8, "max": args.max_batch_size},
                                            "num_workers": {"min": 0, "max": max(args.workers, args.max_workers or os.cpu_count() or 1)}}},
        optimizer=opt,
    )
    dataset = SyntheticImages(args.samples, args.transform_cost, seed=args.seed)
    loader = run.data_loader(dataset, shuffle=True, seed=args.seed, pin_memory=device.type == "cuda")

    should_stop = Stop(args, world)
    t0 = time.monotonic()
    marks: List[Tuple[float, int]] = []
    losses: List[torch.Tensor] = []
    done = False
    while not done:
        for x, y in loader:
            with run.step():
                x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
                loss = F.cross_entropy(model(x), y)
                (loss / run.accum_steps).backward()
                if run.should_step():
                    opt.step()
                    opt.zero_grad(set_to_none=True)
                if args.step_wait_ms > 0:
                    time.sleep(args.step_wait_ms / 1000)
                if device.type == "cuda":  # the step's device-memory peak: batch-size headroom
                    run.log(loss=loss, mem_peak_bytes=torch.cuda.max_memory_allocated(device))
                    torch.cuda.reset_peak_memory_stats(device)
                else:
                    run.log(loss=loss)
            marks.append((time.monotonic(), len(y)))
            losses.append(loss.detach())
            if should_stop(run.step_index, time.monotonic() - t0):
                done = True
                break
    sent_all = run.finish()

    first, last = quarter_rates(marks, t0)
    k = max(1, len(losses) // 4)
    loss_values = torch.stack(losses).float().cpu() if losses else torch.zeros(1)
    summary: Dict[str, Any] = {
        "run": run.id, "rank": rank, "world_size": world, "device": str(device), "steps": run.step_index,
        "samples": sum(n for _, n in marks), "seconds": round(time.monotonic() - t0, 2),
        "samples_per_s_first_quarter": round(first, 1), "samples_per_s_last_quarter": round(last, 1),
        "loss_first_quarter": round(loss_values[:k].mean().item(), 4),
        "loss_last_quarter": round(loss_values[-k:].mean().item(), 4),
        "config": run.applied, "config_version": run.applied_version, "reports": run.stats, "sent_all": sent_all,
    }
    # One write(2) of the whole line: data-parallel ranks share stdout, and print() may hand the text
    # and its newline to the pipe apart, so another rank's line could land between them. A pipe
    # keeps a write of up to PIPE_BUF (4096) bytes whole.
    sys.stdout.flush()
    os.write(sys.stdout.fileno(), ("trainpilot-example: " + json.dumps(summary) + "\n").encode())
    if world > 1:
        dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
