"""The learning rate from the config, set into optimizers' param groups.

Each group keeps its ratio to the job's starting learning rate (a head at 10× stays at 10×), and
a change is ramped linearly over the config's lr_warmup_steps, so a jump that comes with a
bigger batch does not shock the optimizer (Goyal et al. 2017, "Accurate, Large Minibatch SGD",
§2.2 gradual warm-up).
"""
from __future__ import annotations

from typing import Any, List, Optional, Tuple


class LearningRate:
    def __init__(self, lr0: float):
        self._lr0 = self.now = lr0
        self._optimizers: List[Tuple[Any, List[float]]] = []
        self.ramp: Optional[Tuple[float, float, int, int]] = None  # (from, to, first step, steps)

    def attach(self, optimizer: Any) -> None:
        self._optimizers.append((optimizer, [float(g["lr"]) for g in optimizer.param_groups]))
        self._set(self.now)

    def change(self, lr: float, warmup_steps: int, step: int) -> None:
        if warmup_steps > 0 and self._optimizers:
            self.ramp = (self.now, lr, step, warmup_steps)
        else:
            self.ramp = None
            self._set(lr)

    def tick(self, step: int) -> None:
        """At each step's safe point while a ramp is on."""
        a, b, s0, n = self.ramp  # type: ignore[misc]
        k = step - s0 + 1
        if k >= n:
            self.ramp = None
            self._set(b)
        else:
            self._set(a + (b - a) * k / n)

    def zero_grad(self) -> None:
        for opt, _ in self._optimizers:
            opt.zero_grad(set_to_none=True)

    def _set(self, lr: float) -> None:
        self.now = lr
        scale = lr / self._lr0 if self._lr0 else None
        for opt, bases in self._optimizers:
            for group, base in zip(opt.param_groups, bases):
                group["lr"] = base * scale if scale is not None else lr
