"""The same training job without the trainpilot client: what `trainpilot run` can still watch.

    trainpilot run -- python examples/pytorch/plain.py --max-seconds 20

No reports come from the job; the sidecar sees its process tree (the data-loader workers too)
and classifies and advises from that alone.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from data import SyntheticImages, SmallCNN  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--max-seconds", type=float, default=20.0)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--workers", type=int, default=1)
    args = p.parse_args()
    torch.manual_seed(0)
    model = SmallCNN()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    loader = DataLoader(SyntheticImages(50_000, cost=4), batch_size=args.batch_size, shuffle=True,
                        num_workers=args.workers)
    t0, steps = time.monotonic(), 0
    while time.monotonic() - t0 < args.max_seconds:
        for x, y in loader:
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            steps += 1
            if time.monotonic() - t0 >= args.max_seconds:
                break
    print(f"plain: {steps} steps in {time.monotonic() - t0:.1f} s, last loss {loss.item():.3f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
