"""A client run that runs out of memory goes on at a smaller batch (DESIGN §6: ≤ 1 OOM per run).

The step context (_meter.py) hands its exception here. An out-of-memory error is reported (an
`oom` event with the batch size), the step's gradients and accumulated micro-batches dropped,
cached memory freed, and the batch size halved — not below `bounds.batch_size.min`; with
`keep_global_batch`, accumulation makes up the rest — so the loop goes on, the failed batch's
samples coming again (a TunedLoader reads retry_batch). At the lowest batch size, and in a
data-parallel job (one rank cannot change its batch alone: its collectives would no longer match
the others'), the error is raised.
"""
from __future__ import annotations

import logging
from typing import Callable, Optional

from ._follow import Follow
from ._link import Link
from .oom import backed_off, free_memory, is_oom

log = logging.getLogger("trainpilot")


class OomGuard:
    def __init__(self, follow: Follow, link: Link, *, step: Callable[[], int], forget: Callable[[], None],
                 world_size: Optional[int], enabled: bool):
        """step: the run's current step; forget: drops the failed step's loss and fields."""
        self._follow = follow
        self._link = link
        self._step = step
        self._forget = forget
        self._world_size = world_size
        self.enabled = enabled
        self.retry_batch = False  # the last batch ran out of memory: its samples come again

    def on_error(self, exc: BaseException) -> bool:
        """True swallows exc: an OOM the run recovered from by halving the batch size."""
        if not self.enabled or not is_oom(exc):
            return False
        follow = self._follow
        bs = int(follow.applied["batch_size"])
        self._link.event("oom", self._step(), batch_size=bs,
                         message=str(exc).strip().splitlines()[0][:300] if str(exc) else type(exc).__name__)
        follow.lr.zero_grad()
        follow.drop_accumulated()
        self._forget()
        free_memory()
        change = backed_off(bs, follow.accum_steps, follow.tune)
        if change is None or (self._world_size or 1) > 1:
            return False
        follow.back_off(bs, change)
        self.retry_batch = True
        log.warning("trainpilot: out of memory at batch size %d; going on with %d", bs, follow.applied["batch_size"])
        return True

    def take_retry(self) -> bool:
        """Whether the last batch's samples must come again (once)."""
        retry, self.retry_batch = self.retry_batch, False
        return retry
