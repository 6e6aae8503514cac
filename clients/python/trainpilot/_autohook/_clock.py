"""What the zero-code hook measures: one step report per optimizer step, from the batches the
data loaders hand out and the optimizer steps torch's hooks see. No torch import here: the
patches in _torch.py call these methods with plain numbers and objects.

A step (DESIGN §4's step report) is the span between two optimizer steps:
  - duration_s: wall time since the previous step ended (the first: since its first batch);
  - data_wait_s and samples: the batches the step's loader handed out in that span, summed
    (gradient accumulation: several batches, one step);
  - loss: the last scalar passed to backward() in it, read later on the sender thread.
The loader feeding a step is the one with batches since the last step (of several: the one whose
batches a backward() followed, then the one that has fed the most steps); batches of other loaders (an eval pass) fall into no step's wait
or samples. Several optimizers stepping on the same batches (a GAN's two) make one step: with no
batch since the last step, only the optimizer that closed the first step closes another (so
without any loader it keeps the count).
"""
from __future__ import annotations

import time
from typing import Any, Callable, Deque, Optional

_now = time.time


class Site:
    """Where loaders were built (file:line): loaders rebuilt there each epoch share it, and the
    workers the sidecar asks for apply to all of them."""
    __slots__ = ("where", "steps", "epochs", "tunable", "why_not", "workers", "knobs", "last_loader")

    def __init__(self, where: str, tunable: bool, why_not: str):
        self.where = where
        self.steps = 0
        self.epochs = 0
        self.tunable = tunable
        self.why_not = why_not  # why the hook leaves its workers alone, when it does
        self.workers: Optional[int] = None  # the workers the sidecar asked for, once it has
        self.knobs: dict = {}  # the loader's other knobs the sidecar asked for (prefetch_factor, …)
        self.last_loader: Any = None  # a weak reference to the loader of its last epoch


class LoaderInfo:
    """One DataLoader's batches since the last step."""
    __slots__ = ("site", "wait", "samples", "batches", "fed", "t_first", "workers", "batch_size",
                 "t_iter", "t_epoch", "start_s", "batch_bytes", "same_loader")

    def __init__(self, site: Site, workers: int, batch_size: Optional[int]):
        self.site = site
        self.wait = 0.0
        self.samples = 0
        self.batches = 0
        self.fed = 0  # of those, batches a backward() followed (a training loader's, not an eval's)
        self.t_first = 0.0
        self.workers = workers
        self.batch_size = batch_size
        # The epoch's start (issue 22): when its iterator was asked for, until its first batch came
        # (t_iter, then 0), and what it cost; the bytes of that first batch.
        self.t_iter = 0.0
        self.t_epoch = 0.0
        self.start_s: Optional[float] = None
        self.batch_bytes: Optional[int] = None
        self.same_loader: Optional[bool] = None  # None: the first epoch at its site


def leading_dim(batch: Any) -> int:
    """The batch's leading dimension: of a tensor (or array), of the first one in a tuple, list or
    mapping (a dict, Hugging Face's BatchEncoding), or the length of a list of plain values."""
    for _ in range(4):
        if isinstance(batch, (tuple, list)):  # first: the common (inputs, labels) costs no getattr miss
            if not batch:
                return 0
            first = batch[0]
            if isinstance(first, (str, bytes, int, float)):
                return len(batch)
            batch = first
            continue
        shape = getattr(batch, "shape", None)
        if shape is not None:
            return int(shape[0]) if len(shape) else 1
        if isinstance(batch, dict) or (hasattr(batch, "values") and hasattr(batch, "keys")):
            values = iter(batch.values())
            batch = next(values, None)
            if batch is None:
                return 0
        else:
            return 0
    return 0


def _feeds(info: LoaderInfo) -> tuple:
    return info.fed > 0, info.site.steps


class Clock:
    """Called on the training thread by the patches. The hot path appends one tuple per step to
    `queue` (the Sender's deque) and touches nothing shared but that."""

    def __init__(self, version: Callable[[], int], on_first_step: Callable[[Optional[LoaderInfo], Any], Optional[Deque[tuple]]],
                 client_active: Callable[[], bool]):
        self.queue: Optional[Deque[tuple]] = None  # the Sender's, from on_first_step
        self._version = version
        self._on_first_step = on_first_step
        self._client_active = client_active
        self.step = 0
        self.last: Optional[LoaderInfo] = None  # the loader whose batch came last
        self.loaders: list = []  # every LoaderInfo with batches since the last step
        self.t_prev: Optional[float] = None
        self.primary: Any = None  # without a loader: the optimizer that keeps the count
        self.depth = 0  # optimizer steps in progress (a subclass's step calling its base's)
        self.loss: Any = None
        self.standing_down = False  # the job uses the client: it reports, we do not
        self.extra: Any = None  # fields for this step's report (the sampled gradient norms)
        self.peak: Optional[Callable[[], Optional[int]]] = None  # a CUDA job's mem_peak_bytes

    def batch(self, info: LoaderInfo, data: Any, t0: float, t1: float) -> None:
        if not info.batches:
            info.t_first = t0
            self.loaders.append(info)
        info.wait += t1 - t0
        info.samples += leading_dim(data)
        info.batches += 1
        self.last = info
        self.depth = 0  # no step is in progress while a batch is fetched (one raised before its end)

    def backward(self, loss: Any) -> None:
        self.loss = loss
        last = self.last
        if last is not None:
            last.fed += 1

    def step_begin(self) -> None:
        self.depth += 1

    def step_end(self, optimizer: Any, t: float) -> None:
        """After an optimizer step (the outermost one, when steps nest)."""
        self.depth = max(0, self.depth - 1)
        if self.depth or self.standing_down:
            return
        loaders = self.loaders
        if not loaders:
            info = None
        elif len(loaders) == 1:
            info = loaders[0]
        else:  # an eval pass too: the loader whose batches backward() followed, then the one
            info = max(reversed(loaders), key=_feeds)  # that has fed most steps, then the latest
        if info is None:
            # No batch since the last step: a second optimizer on the same batch is no new step;
            # the optimizer that closed the first step keeps the count (a job without a loader).
            if self.primary is None:
                self.primary = optimizer
            elif optimizer is not self.primary:
                return
            wait, samples = 0.0, 0
            t_start = t if self.t_prev is None else self.t_prev
        else:
            if self.primary is None:
                self.primary = optimizer
            wait, samples = info.wait, info.samples
            t_start = info.t_first if self.t_prev is None else self.t_prev
        if self.step == 0:
            # Not this process's to report (a worker, a job that uses the client): never again.
            self.queue = None if self._client_active() else self._on_first_step(info, optimizer)
            if self.queue is None:
                self.standing_down = True
                return
        elif (self.step & 63) == 0 and self._client_active():
            self.standing_down = True  # the job started the client late: it reports from now on
            return
        loss, self.loss = self.loss, None
        if loss is not None and hasattr(loss, "detach"):
            loss = loss.detach()  # no graph kept while it waits to be read
        extra, self.extra = self.extra, None
        if self.peak is not None:
            extra = dict(extra or (), mem_peak_bytes=self.peak())
        self.queue.append((self.step, t - t_start, wait, samples, loss, _now(), self._version(), extra))
        self.step += 1
        self.t_prev = t
        if info is not None:
            info.site.steps += 1
        for other in self.loaders:
            other.wait, other.samples, other.batches, other.fed = 0.0, 0, 0, 0
        self.loaders.clear()
