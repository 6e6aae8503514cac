"""What the sampled gradient norms (clients/python/trainpilot/_gradnoise.py) cost the training
thread per step, amortised, on a model of ≥ 10 M parameters (DESIGN §7 budget: ≤ 20 µs per step,
everything the client or hook does included). bench/hook.py and bench/client.py print it; alone:

    /usr/bin/python3 bench/norms.py [--steps 20000] [--width 2048]

The model's gradients are set once; each step then runs only what trainpilot adds before an
optimizer step — the hook's Hook.before_step, or the client's wrapper on the attached optimizer's
step (its body a no-op here) and Meter.log — so the figure is the norms' cost alone, pairs and
the steps between them together. Prints figures; asserts nothing.
"""
from __future__ import annotations

import argparse
import collections
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "clients", "python"))

import torch  # noqa: E402

ns = time.perf_counter_ns


class Model:
    """An optimizer's view of a ≥ 10 M-parameter MLP (3 square layers) with its gradients set."""

    def __init__(self, width: int):
        layers = [torch.nn.Linear(width, width) for _ in range(3)]
        self.params = [p for layer in layers for p in layer.parameters()]
        for p in self.params:
            p.grad = torch.randn_like(p)
        self.param_groups = [{"params": self.params, "lr": 0.01}]
        self.n = sum(p.numel() for p in self.params)

    def step(self) -> None:  # the optimizer's own step: not what is measured
        pass


def hook_cost(width: int, steps: int) -> tuple:
    """ns per step in Hook.before_step, amortised, and the GradNoise for its pair figures."""
    from trainpilot._autohook._hook import Hook
    from trainpilot._gradnoise import GradNoise

    m = Model(width)
    hook = Hook(torch, "http://127.0.0.1:9", None, "bench")  # never started: bookkeeping only
    hook.noise = GradNoise(torch, lambda: (1, 2))
    before = hook.before_step
    t0 = ns()
    for _ in range(steps):
        before(m)
        hook.clock.extra = None
    return (ns() - t0) / steps, hook.noise, m.n


def client_cost(width: int, steps: int) -> float:
    """ns per step that watch() adds to an attached optimizer's step, amortised."""
    from trainpilot._gradnoise import watch
    from trainpilot._meter import Meter

    class Applied:
        applied = {"batch_size": 32}
        applied_version = 0

    m = Model(width)
    bare = Model.step.__get__(m)
    t0 = ns()
    for _ in range(steps):
        bare()
    base = (ns() - t0) / steps
    meter = Meter(collections.deque(maxlen=10), Applied(), first_step=0, safe_point=lambda s: None,
                  on_error=lambda e: False)
    watch(m, meter.log, lambda: (1, 2))
    step = m.step
    t0 = ns()
    for _ in range(steps):
        step()
        meter._extra = None  # the step's report would take it; nothing else is measured here
    return (ns() - t0) / steps - base


def report(steps: int, width: int = 2048) -> None:
    torch.set_num_threads(1)
    hook_ns, noise, n = hook_cost(width, steps)
    print(f"gradient norms, {n / 1e6:.1f} M parameters, {steps} steps: hook {hook_ns / 1000:.2f} µs/step amortised "
          f"({noise.pairs} pairs, {noise.cost_s / max(1, noise.pairs) * 1000:.1f} ms per pair, "
          f"one pair every {steps / max(1, noise.pairs):.0f} steps)")
    print(f"gradient norms, client (attached optimizer): {client_cost(width, steps) / 1000:.2f} µs/step amortised; "
          f"budget 20 µs per step with everything else")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=20000)
    p.add_argument("--width", type=int, default=2048, help="3 layers of width² weights (2048: 12.6 M parameters)")
    a = p.parse_args()
    report(a.steps, a.width)
