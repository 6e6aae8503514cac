"""The config in effect in a client run, and how it follows the sidecar's.

A new version — from the poll, the join, or rank 0's broadcast to every rank — waits for the next
safe point: the start of a step, at the accumulation boundary, and in a data-parallel job the step
rank 0 named, so that every rank changes at the same one. Then it is applied (the learning rate
into the optimizers, ramped; a new loader layout for batch size and workers) and acknowledged
with a `config_applied` event. After an out-of-memory error, later versions stay below the batch
size that failed.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, Optional, Tuple

from ._join import KNOBS, Joined
from ._link import Link, Offer
from ._lr import LearningRate
from .oom import backed_off, lowest_batch

# What a data loader is built with: a change rebuilds it (loader.py) at the next batch boundary.
_LAYOUT = ("batch_size", "num_workers", "prefetch_factor", "persistent_workers", "pin_memory")


class Follow:
    def __init__(self, config: Dict[str, Any], tune: Dict[str, Any], link: Link, *, step: Callable[[], int],
                 distributed: bool):
        """step: the run's current step. distributed: versions come through rank 0's broadcast,
        which names the step to apply them at (schedule()), never straight from the poll."""
        self.tune = tune
        self.applied: Dict[str, Any] = dict(config)
        self.applied_version = 0
        self.layout = 0  # bumped when batch_size, num_workers or a loader knob changes: loaders rebuild on it
        self.lr = LearningRate(float(config["learning_rate"]))
        self._link = link
        self._current_step = step
        self._distributed = distributed
        self._incoming: Optional[Tuple[int, Dict[str, Any], int]] = None  # (version, config, apply_step)
        self._accum_i = 0
        self._ceiling: Optional[int] = None  # the smallest batch size that ran out of memory

    # -- gradient accumulation --------------------------------------------------------------
    @property
    def accum_steps(self) -> int:
        return int(self.applied.get("grad_accum_steps", 1))

    def should_step(self) -> bool:
        """run.should_step(): call once per micro-batch after backward; True when the optimizer
        should step now (every accum_steps micro-batches). Config changes wait for this boundary."""
        self._accum_i += 1
        if self._accum_i >= self.accum_steps:
            self._accum_i = 0
            return True
        return False

    def drop_accumulated(self) -> None:
        """The micro-batches since the last optimizer step are lost (their gradients dropped)."""
        self._accum_i = 0

    # -- versions arrive ----------------------------------------------------------------------
    def joined(self, j: Joined, ack: bool) -> None:
        """The sidecar's run at the join (ack: acknowledge a version that equals the job's own,
        which is not in effect on the sidecar until the job says so: an attach)."""
        self.tune = j.tune
        if not self._distributed:  # data parallel: the next exchange hands it to every rank together
            self.take(j.version, j.config, apply_step=0, ack=ack)

    def offered(self, offer: Offer) -> None:
        """A newer version from the poll (the poller's thread)."""
        if not self._distributed:
            self._incoming = (offer.version, offer.config, 0)

    def take(self, version: int, config: Dict[str, Any], apply_step: int, ack: bool) -> None:
        """The sidecar's config at start: in effect already when it equals the job's (acknowledged
        when ack), else applied and acknowledged at the first safe point."""
        if all(self.applied.get(k) == v for k, v in config.items() if k in self.applied):
            self.applied_version = version
            if ack and version > 0:  # 0: no sidecar yet (the late join acknowledges)
                self.acknowledge()
        else:
            self._incoming = (version, config, apply_step)

    def schedule(self, version: int, config: Dict[str, Any], apply_step: int) -> None:
        """Rank 0's version, applied at apply_step on every rank."""
        self._incoming = (version, config, apply_step)

    # -- the safe point -----------------------------------------------------------------------
    def safe_point(self, step: int) -> None:
        inc = self._incoming
        if inc is not None and inc[0] > self.applied_version and step >= inc[2] and self._accum_i == 0:
            self.apply(inc[0], inc[1], ack=True)
        if self.lr.ramp is not None:
            self.lr.tick(step)

    def apply(self, version: int, config: Dict[str, Any], ack: bool) -> None:
        old, new = self.applied, dict(self.applied)
        new.update((k, config[k]) for k in KNOBS if k in config)
        if self._ceiling is not None and new["batch_size"] >= self._ceiling:
            # The sidecar's version arrived before it heard of the OOM: stay below the ceiling.
            new.update(backed_off(self._ceiling, new["grad_accum_steps"], self.tune)
                       or {"batch_size": lowest_batch(self.tune)})
        if new["learning_rate"] != old["learning_rate"]:
            self.lr.change(float(new["learning_rate"]), int(new.get("lr_warmup_steps") or 0), self._current_step())
        if any(new.get(k) != old.get(k) for k in _LAYOUT):
            self.layout += 1
        self.applied, self.applied_version = new, version
        if ack:
            self.acknowledge()

    def back_off(self, failed_batch: int, change: Dict[str, int]) -> None:
        """Out of memory at failed_batch: go on with change (same version, no acknowledgement),
        and keep later versions below failed_batch."""
        self._ceiling = failed_batch if self._ceiling is None else min(self._ceiling, failed_batch)
        self.apply(self.applied_version, change, ack=False)

    def acknowledge(self) -> None:
        self._link.acknowledge(self.applied_version, self.applied, self._current_step())
