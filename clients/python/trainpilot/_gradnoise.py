"""The two squared gradient norms the tuner's noise-scale estimate needs (DESIGN §4:
grad_sq_norm, grad_sq_norm_small), taken on a sampled pair of consecutive optimizer steps.

Why consecutive steps: the gradient an optimizer step sees (after gradient accumulation, after
the data-parallel all-reduce) is the mean over the step's whole global batch B, and two
consecutive steps' gradients are two independent draws of it at nearly the same weights. That is
AdaptDL's estimate with one replica and no accumulation (Qiao et al., "Pollux", OSDI 2021, §3.1;
McCandlish et al. 2018, Appendix A.1), and it needs neither the job's micro-batches nor its ranks,
so one piece of code serves the client and the zero-code hook whatever the job's shape. With g1,
g2 the two steps' gradients:

    s = (|g1|² + |g2|²) / 2          an estimate of E|g_B|²  = |G|² + tr(Σ)/B
    b = |(g1 + g2) / 2|²             an estimate of E|g_2B|² = |G|² + tr(Σ)/(2B)

so |G|² = 2b − s and tr(Σ) = 2B(s − b). The tuner (tuner/goodput.ts, noiseBatchSizes) reads
grad_sq_norm as the norm over a reported step's global batch and grad_sq_norm_small as the norm
over one of max(2, world × accum) equal shares of it; we report what those would be under the
same model, for the batch B/m (m = 1 for the hook's optimizer steps; m = accum for the client's
micro-batch steps, and × the shares for the small one):

    E|g_(B/m)|² = |G|² + m·tr(Σ)/B = s + 2(m − 1)(s − b)

Both are ≥ 0 (b ≤ s always), and both are linear in (s, b), so the tuner's window average of
them is the estimate from the average pair. The gradients are only read (under no_grad): the
training is untouched.

Cost: the first step of a pair keeps a copy of the gradients; the second takes two dot products
per tensor. On the training thread that is a copy of the model's size every so often, so the
pairs are spaced by their own measured cost: after a pair that took c seconds the next one waits
c / TARGET_S steps, which keeps the amortised cost near TARGET_S per step (DESIGN §7: ≤ 20 µs)
on any model. The norms stay tensors until the sender thread reads them (no device sync here).
"""
from __future__ import annotations

import math
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

_pc = time.perf_counter

# Amortised training-thread cost the sampling aims for, half the per-step budget (DESIGN §7).
TARGET_S = 10e-6
# Steps before the first pair: the first steps of a job are warm-up (allocations, autotuning).
FIRST_AFTER = 3
# The most steps between pairs, so a very large model still reports every so often.
MAX_GAP = 20000


class _Pair:
    """The pair's three sums as one tensor, read (once) off the training thread."""
    __slots__ = ("sums", "shares", "_v")

    def __init__(self, sums: Any, shares: Tuple[int, int]):
        self.sums = sums
        self.shares = shares
        self._v: Optional[tuple] = None

    def _values(self) -> Optional[tuple]:
        if self._v is None:
            n1, n2, dot = (float(x) for x in self.sums.tolist())
            s = (n1 + n2) / 2
            b = max(0.0, min(s, (n1 + n2 + 2 * dot) / 4))
            # E|g| ² over 1/m of the step's batch: |G|² + m·tr(Σ)/B = s + 2(m − 1)(s − b)
            big, small = (s + 2 * (m - 1) * (s - b) for m in self.shares)
            self._v = (big, small) if math.isfinite(big) and math.isfinite(small) else (None, None)
        return self._v

    def big(self) -> Optional[float]:
        return self._values()[0]

    def small(self) -> Optional[float]:
        return self._values()[1]


class GradNoise:
    """at_step(optimizer) just before an optimizer step (its gradients in place): None on most
    steps; on the second step of a sampled pair, the two fields for that step's report, as
    callables the sender thread calls. shares(): (m_big, m_small), the shares of the optimizer
    step's global batch the tuner reads the two norms over (tuner/goodput.ts noiseBatchSizes):
    the hook reports optimizer steps, (1, max(2, world × accum)); the client reports micro-batch
    steps under accumulation, so its step is 1/accum of the optimizer's batch."""

    def __init__(self, torch: Any, shares: Callable[[], Tuple[int, int]]):
        self.torch = torch
        self.shares = shares
        self.countdown = FIRST_AFTER
        self.kept: Optional[List[Any]] = None  # the first step's gradients, while a pair is open
        self.optimizer: Any = None  # the one optimizer whose gradients are read
        self.pairs = 0
        self.first_s = 0.0  # the open pair's first step, in seconds
        self.cost_s = 0.0  # training-thread seconds spent here, in all

    def at_step(self, optimizer: Any) -> Optional[Dict[str, Callable[[], Optional[float]]]]:
        self.countdown -= 1
        if self.countdown > 0:
            return None
        if self.optimizer is None:
            self.optimizer = optimizer
        elif optimizer is not self.optimizer:  # a second optimizer (a GAN's): its turn never comes
            self.countdown = 1
            return None
        t0 = _pc()
        out = None
        grads = [p.grad for g in optimizer.param_groups for p in g["params"] if p.grad is not None]
        if not grads or any(g.is_sparse for g in grads):
            self.kept = None
        else:
            with self.torch.no_grad():
                if self.kept is None or len(self.kept) != len(grads):
                    self.kept = [g.detach().clone() for g in grads]
                    self.countdown = 1  # the pair's second step is the next one
                    self.first_s = _pc() - t0
                    return None
                out = self._pair(self.kept, grads)
                self.kept = None
        cost = _pc() - t0 + self.first_s  # the whole pair's, its first step's copy included
        self.first_s = 0.0
        self.cost_s += cost
        self.countdown = max(2, min(MAX_GAP, int(cost / TARGET_S) + 1))
        return out

    def _pair(self, g1: List[Any], g2: List[Any]) -> Dict[str, Callable[[], Optional[float]]]:
        torch = self.torch
        norm = torch.linalg.vector_norm
        sq1, sq2, dots = [], [], []
        for a, b in zip(g1, g2):
            a, b = a.reshape(-1).float(), b.detach().reshape(-1).float()
            sq1.append(norm(a))
            sq2.append(norm(b))
            dots.append(torch.dot(a, b))
        sums = torch.stack([torch.stack(sq1).square().sum(), torch.stack(sq2).square().sum(), torch.stack(dots).sum()])
        m_big, m_small = self.shares()
        pair = _Pair(sums, (max(1, int(m_big)), max(2, int(m_small))))
        self.pairs += 1
        return {"grad_sq_norm": pair.big, "grad_sq_norm_small": pair.small}


class DevicePeak:
    """mem_peak_bytes of each step on a CUDA job (torch.cuda.max_memory_allocated, its peak
    statistic reset after each read); on a job that has not initialised CUDA, nothing."""

    def __init__(self, torch: Any):
        cuda = getattr(torch, "cuda", None)
        try:
            self.on = bool(cuda is not None and cuda.is_available() and cuda.is_initialized())
        except Exception:
            self.on = False
        self.cuda = cuda

    def read(self) -> Optional[int]:
        if not self.on:
            return None
        peak = self.cuda.max_memory_allocated()
        self.cuda.reset_peak_memory_stats()
        return int(peak)


def shares(world: int, accum: int, micro_steps: bool) -> Tuple[int, int]:
    """(m_big, m_small) for GradNoise: the tuner reads grad_sq_norm over a reported step's
    samples × world and grad_sq_norm_small over 1/max(2, world × accum) of that."""
    step = accum if micro_steps else 1
    return step, step * max(2, world * accum)


def watch(optimizer: Any, log: Callable[..., None], shares: Callable[[], Tuple[int, int]]) -> Optional[GradNoise]:
    """The client's side (run.attach_optimizer): just before each step of this optimizer, the
    sampled norms and, on CUDA, the device-memory peak go into the current step's report through
    log (Meter.log). A failure turns them off for the run; the step itself always goes on."""
    import sys

    torch = sys.modules.get("torch")
    if torch is None or not hasattr(optimizer, "param_groups") or not callable(getattr(optimizer, "step", None)):
        return None
    noise = GradNoise(torch, shares)
    peak = DevicePeak(torch)
    state = {"on": True}

    def before(opt: Any) -> None:
        if not state["on"]:
            return
        try:
            fields = noise.at_step(opt)
            if peak.on:
                fields = dict(fields or (), mem_peak_bytes=peak.read())
            if fields:
                log(**fields)
        except Exception as e:
            state["on"] = False
            import logging

            logging.getLogger("trainpilot").warning("trainpilot: gradient norms off after an error (%s: %s)",
                                                    type(e).__name__, e)

    register = getattr(optimizer, "register_step_pre_hook", None)  # torch >= 2.0
    if register is not None:
        register(lambda opt, args, kwargs: before(opt))
    else:  # torch 1.13: the instance's own step, wrapped (its class is left alone)
        import types

        step0 = optimizer.step

        def step(self: Any, *args: Any, **kwargs: Any) -> Any:
            before(self)
            return step0(*args, **kwargs)

        # A bound method, as an LR scheduler made later expects (it wraps step.__func__).
        optimizer.step = types.MethodType(step, optimizer)
    return noise
