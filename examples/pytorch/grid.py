"""Grid search over batch size × data-loader workers for the example job, measured on this machine.

    python examples/pytorch/grid.py --batch-sizes 16,32,64,128,256 --workers 0,1,2

Trains the same model on the same data as train.py, with no sidecar, for a few seconds per
configuration (the first seconds after the loader starts are left out: worker start-up and
warm caches), and prints one line per configuration, `grid: {json}` with its samples/s, then
`grid-best: {json}`. This is what the tuner is compared with: the best a person would find by
trying every configuration in turn, before training.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from data import SyntheticImages, SmallCNN  # noqa: E402


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--batch-sizes", default="16,32,64,128,256")
    p.add_argument("--workers", default="0,1,2")
    p.add_argument("--warmup-seconds", type=float, default=1.5)
    p.add_argument("--seconds", type=float, default=3.0, help="measured seconds per configuration")
    p.add_argument("--samples", type=int, default=50_000)
    p.add_argument("--transform-cost", type=int, default=30)
    p.add_argument("--width", type=int, default=3)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args()


def measure(args: argparse.Namespace, dataset: SyntheticImages, batch: int, workers: int) -> dict:
    torch.manual_seed(args.seed)
    model = SmallCNN(args.width)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    loader = DataLoader(dataset, batch_size=batch, shuffle=True, num_workers=workers,
                        persistent_workers=False, drop_last=True)
    t_start = time.monotonic()
    t_measure = None
    samples = 0
    steps = 0
    it = iter(loader)
    while True:
        try:
            x, y = next(it)
        except StopIteration:
            it = iter(loader)
            continue
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        now = time.monotonic()
        if t_measure is None:
            if now - t_start >= args.warmup_seconds:
                t_measure, samples, steps = now, 0, 0
            continue
        samples += len(y)
        steps += 1
        if now - t_measure >= args.seconds and steps >= 3:
            break
    elapsed = time.monotonic() - t_measure
    del it, loader
    return {"batch_size": batch, "num_workers": workers, "samples_per_s": round(samples / elapsed, 2),
            "steps": steps, "seconds": round(elapsed, 2)}


def main() -> int:
    args = parse_args()
    dataset = SyntheticImages(args.samples, args.transform_cost, seed=args.seed)
    rows = []
    for b in [int(x) for x in args.batch_sizes.split(",")]:
        for w in [int(x) for x in args.workers.split(",")]:
            r = measure(args, dataset, b, w)
            rows.append(r)
            print("grid: " + json.dumps(r), flush=True)
    best = max(rows, key=lambda r: r["samples_per_s"])
    print("grid-best: " + json.dumps(best), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
