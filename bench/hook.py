"""What the zero-code hook costs the training thread per step (DESIGN §7 budget: ≤ 20 µs).

    /usr/bin/python3 bench/hook.py [--steps 400] [--blocks 15] [--batch 32]

Two figures:

  A/B       a real training step — a batch from a DataLoader (no workers), forward, backward(),
            SGD step — timed per step with the hook's patches on (reporting to a stand-in sidecar
            in another process, so its sender thread competes for the GIL as it would) and off,
            in alternating blocks so machine drift hits both; the cost is the difference of the
            blocks' medians, with the spread of the per-pair differences.
  direct    the hook's own bookkeeping per step, timed around the calls themselves: the two
            clock reads of the batch wrapper, Clock.batch, Clock.backward and Clock.step_end (one
            batch per step; the loss detached there).

Prints figures; asserts nothing (bench/ never asserts timings). Needs torch.
"""
from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "clients", "python"))
sys.path.insert(0, os.path.join(ROOT, "bench"))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402

from client import stand_in  # noqa: E402  (bench/client.py's stand-in sidecar, in its own process)
from trainpilot._autohook._hook import Hook  # noqa: E402

ns = time.perf_counter_ns


def block(loader: DataLoader, model: torch.nn.Module, n: int) -> float:
    """Seconds per step over n steps (the optimizer is made here: torch 1.13's step wrapper is
    put on its class when the first instance is made with the hook on)."""
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    it = iter(loader)
    gc.collect()
    t0 = ns()
    for _ in range(n):
        x, y = next(it)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    return (ns() - t0) / n / 1e9


def direct(hook: Hook, n: int) -> float:
    """Nanoseconds per step in the hook's own code, timed around it."""
    from trainpilot._autohook._clock import LoaderInfo, Site

    info = LoaderInfo(Site("bench", True, ""), 0, 32)
    batch = (torch.zeros(32, 4), torch.zeros(32))
    clock, pc = hook.clock, time.perf_counter
    opt = object()
    loss = torch.tensor(1.0, requires_grad=True) * 2  # a scalar with a graph, as backward() sees it
    total = 0
    for _ in range(n):
        a = ns()
        t0 = pc()
        t1 = pc()
        clock.batch(info, batch, t0, t1)
        clock.backward(loss)
        clock.step_begin()
        clock.step_end(opt, pc())
        total += ns() - a
    return total / n


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=400)
    p.add_argument("--blocks", type=int, default=15)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--norm-steps", type=int, default=100_000, help="steps for the gradient-norm figure (bench/norms.py)")
    args = p.parse_args()
    torch.set_num_threads(1)
    url, proc = stand_in()
    try:
        import json
        import urllib.request

        # A run as `trainpilot run` registers it, for the hook to attach to.
        body = json.dumps({"name": "bench-hook", "config": {"batch_size": args.batch, "learning_rate": 0.01,
                                                            "num_workers": 0}, "tune": {"mode": "off"}}).encode()
        req = urllib.request.Request(url + "/v1/runs", body, {"Content-Type": "application/json"})
        run_id = json.loads(urllib.request.urlopen(req).read())["id"]
        n = args.steps * (args.blocks + 1)
        data = TensorDataset(torch.randn(n * args.batch, 4), torch.randint(0, 2, (n * args.batch,)))
        model = torch.nn.Linear(4, 2)
        hook = Hook(torch, url, None, run_id)
        on, off = [], []
        block(DataLoader(data, batch_size=args.batch), model, args.steps)  # warm-up
        for i in range(args.blocks):
            hook.patches.install()
            on.append(block(DataLoader(data, batch_size=args.batch), model, args.steps))
            hook.patches.restore()
            off.append(block(DataLoader(data, batch_size=args.batch), model, args.steps))
        hook.link.sender.flush(5.0)
        sent = hook.link.sender.stats
        hook.link.close(1.0)
        diffs = sorted((a - b) * 1e6 for a, b in zip(on, off))
        cost = (statistics.median(on) - statistics.median(off)) * 1e6
        print(f"A/B, a DataLoader batch + forward + backward + SGD step (batch {args.batch}, {args.blocks} block pairs "
              f"of {args.steps} steps): {statistics.median(off) * 1e6:.1f} µs/step without the hook, "
              f"{statistics.median(on) * 1e6:.1f} µs with it")
        print(f"  hook cost per step: {cost:.1f} µs (median of pairs {statistics.median(diffs):.1f} µs, "
              f"pairs from {diffs[0]:.1f} to {diffs[-1]:.1f} µs; fastest block with it minus fastest without "
              f"{(min(on) - min(off)) * 1e6:.1f} µs); budget 20 µs")
        print(f"  reports: {hook.clock.step} steps measured, sent {sent['sent']}, dropped {sent['dropped']}, errors {sent['errors']}")
        quiet = Hook(torch, "http://127.0.0.1:9", None, "bench")  # never started: bookkeeping only
        quiet.clock.queue = __import__("collections").deque(maxlen=10000)
        quiet.clock.step = 1  # past the first step (which attaches)
        d = [direct(quiet, 20000) for _ in range(5)]
        print(f"direct, the hook's own calls per step (2 clock reads, Clock.batch, .backward, .step_end): "
              f"{statistics.median(d) / 1000:.2f} µs (best {min(d) / 1000:.2f})")
    finally:
        proc.kill()
    from norms import report  # the sampled gradient norms on a ≥ 10 M-parameter model

    report(args.norm_steps)


if __name__ == "__main__":
    main()
