"""What a step costs, measured on the training thread: the `with run.step():` context (one object,
reused for every step), the wait for each batch, and this rank's sums for the next summary
exchange of a data-parallel job (distributed.py).

The hot path is the whole point of this file: a step costs two perf_counter reads, a time.time, a
tuple and a deque append (DESIGN §7: ≤ 20 µs; bench/client.py). Everything else — JSON, HTTP —
is the sender thread's.
"""
from __future__ import annotations

import time
from typing import Any, Callable, Deque, Dict, Iterable, Iterator, Optional, Tuple

_pc = time.perf_counter
_now = time.time


class Meter:
    """safe_point(step): called as each step starts (where config changes are applied).
    on_error(exc): an exception left the step; True swallows it (an OOM recovered from).
    applied: the object whose `applied` config and `applied_version` the steps report."""
    __slots__ = ("samples", "step", "_q", "_safe_point", "_on_error", "_applied", "_t0", "_fetch_t0", "_wait",
                 "_batch_samples", "_loss", "_extra", "_sum_dur", "_sum_wait", "_sum_samples", "_sum_from")

    def __init__(self, queue: Deque[tuple], applied: Any, *, first_step: int,
                 safe_point: Callable[[int], None], on_error: Callable[[BaseException], bool]):
        self.samples: Optional[int] = None  # this step's own batch size (run.step(samples=…))
        self.step = first_step
        self._q = queue
        self._applied = applied
        self._safe_point = safe_point
        self._on_error = on_error
        self._t0 = 0.0
        self._fetch_t0: Optional[float] = None
        self._wait = 0.0
        self._batch_samples: Optional[int] = None
        self._loss: Any = None
        self._extra: Optional[Dict[str, Any]] = None
        self._sum_dur = self._sum_wait = 0.0
        self._sum_samples = 0
        self._sum_from = first_step

    def __enter__(self) -> "Meter":
        self._safe_point(self.step)
        self._t0 = _pc()
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> bool:
        t1 = _pc()
        if exc_type is not None:
            self._fetch_t0 = None
            return self._on_error(exc)
        t0 = self._fetch_t0
        if t0 is None:
            t0, wait = self._t0, 0.0
        else:
            wait = self._wait
            self._fetch_t0 = None
        a = self._applied
        samples = self.samples or self._batch_samples or a.applied["batch_size"]
        self._sum_dur += t1 - t0  # this rank's summary for the job's next exchange (distributed.py)
        self._sum_wait += wait
        self._sum_samples += samples
        self._q.append((self.step, t1 - t0, wait, samples, self._loss, _now(), a.applied_version, self._extra))
        self._loss = self._extra = None
        self.step += 1
        return False

    # Run binds these as its own (run.batches, run.next_batch, …, run.log): no extra call per step.
    def batches(self, iterable: Iterable[Any]) -> Iterator[Any]:
        """Yields from iterable, timing the wait for each item (the step's data wait)."""
        it = iter(iterable)
        fetch = self.next_batch
        while True:
            try:
                item = fetch(it)
            except StopIteration:
                return
            yield item

    def next_batch(self, it: Iterator[Any], samples: Optional[int] = None) -> Any:
        """next(it), its wait timed as the data wait of the step that follows (which then also
        counts from the fetch's start); StopIteration passes through and records nothing.
        samples: the batch's size when the caller knows it (run.data_loader does: an epoch's
        last batch may be short); steps report it until end_batches(). None leaves it as it is."""
        t0 = _pc()
        item = next(it)
        self._wait = _pc() - t0
        self._fetch_t0 = t0
        if samples is not None:
            self._batch_samples = samples
        return item

    def end_batches(self) -> None:
        """The batches given sizes by next_batch() have ended: steps report their own `samples`,
        else config.batch_size, again."""
        self._batch_samples = None

    def log(self, loss: Any = None, **fields: Any) -> None:
        """Values for the current step: loss (a float or a tensor, read off the training thread),
        and any of mem_peak_bytes, grad_sq_norm, grad_sq_norm_small."""
        if loss is not None:
            # A tensor is kept detached (no graph held) and read on the sender thread, so a CUDA
            # loss costs the training thread no device sync.
            self._loss = loss if loss.__class__ is float else (loss.detach() if hasattr(loss, "detach") else loss)
        if fields:
            self._extra = fields if self._extra is None else {**self._extra, **fields}

    def forget(self) -> None:
        """The step failed: its loss and fields are not reported."""
        self._loss = self._extra = None

    def summary(self, verdict: int) -> Tuple[float, ...]:
        """This rank's figures since its last summary, and its node's verdict, for the exchange."""
        step = self.step
        out = (step - self._sum_from, self._sum_dur, self._sum_wait, self._sum_samples, step - 1, verdict)
        self._sum_dur = self._sum_wait = 0.0
        self._sum_samples = 0
        self._sum_from = step
        return out
