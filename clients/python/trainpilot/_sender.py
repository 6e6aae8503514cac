"""The background thread that sends step reports and events (DESIGN §8: fail open).

The training thread only appends tuples to `steps` (a deque) and dicts to `events`;
everything else — building JSON, HTTP, retries, counting drops — happens here.
"""
from __future__ import annotations

import collections
import logging
import math
import threading
import time
from typing import Any, Callable, Deque, Dict, List, Optional

from ._cuda_memory import Every as _CudaMemoryEvery
from ._http import Api, HttpError, Unreachable

log = logging.getLogger("trainpilot")

# The server takes 1–5000 step reports per POST (DESIGN §4).
MAX_BATCH = 5000
# Events are few (config_applied, oom, epoch_end); keep the newest this many while down.
EVENTS_KEPT = 1000
# Retry delays while the sidecar is down: quick first, then at most every 5 s.
BACKOFF_START_S = 0.25
BACKOFF_MAX_S = 5.0

# A step report as the training thread queues it (a tuple is the cheapest thing to build):
# (step, duration_s, data_wait_s, samples, loss, ts, config_version, extra-dict-or-None)
StepTuple = tuple


def _loss_fields(x: Any) -> Dict[str, Any]:
    """A loss as the API takes it: a JSON number, or {"loss_non_finite": true} for NaN/inf (JSON has
    neither; the tuner rolls back a change after which the loss turns non-finite). Tensors are read
    here, off the training thread; something that is no number at all is left out."""
    try:
        v = float(x.item()) if hasattr(x, "item") else float(x)
    except (TypeError, ValueError, RuntimeError):
        return {}
    return {"loss": v} if math.isfinite(v) else {"loss_non_finite": True}


class Sender(threading.Thread):
    def __init__(self, api: Optional[Api], run_id: Callable[[], Optional[str]], *, capacity: int, interval_s: float,
                 rank: Optional[int], world_size: Optional[int], produced: Callable[[], int],
                 on_version_hint: Callable[[int], None], before_cycle: Callable[[], None]):
        super().__init__(name="trainpilot-sender", daemon=True)
        self.api = api
        self._run_id = run_id
        self.capacity = capacity
        self.interval_s = interval_s
        self._rank_fields = {} if world_size is None else {"rank": rank, "world_size": world_size}
        self._on_hint = on_version_hint
        self._before_cycle = before_cycle
        # deque(maxlen) drops its oldest on append when full, with no lock on the training thread.
        self.steps: Deque[StepTuple] = collections.deque(maxlen=capacity)
        self.events: Deque[Dict[str, Any]] = collections.deque(maxlen=EVENTS_KEPT)
        self._produced = produced  # how many steps the training thread has appended so far
        self._taken = 0
        self._evicted = 0
        self._trimmed = 0
        self._unsent: List[Dict[str, Any]] = []
        self._unsent_events: List[Dict[str, Any]] = []
        self.stats = {"sent": 0, "dropped": 0, "rejected": 0, "events_sent": 0, "errors": 0}
        self._noted_drops = 0
        self._wake = threading.Event()
        self._cycle_done = threading.Condition()
        self._cycles = 0
        self._stopping = False
        self._next_try = 0.0
        self._backoff = BACKOFF_START_S
        self._down_since: Optional[float] = None
        self._warned: set = set()
        self._cuda_memory = _CudaMemoryEvery()

    # -- called from other threads ------------------------------------------------------
    def flush(self, timeout_s: float) -> bool:
        """Runs send cycles now until one that started after this call ends, at most timeout_s.
        True when nothing is left unsent."""
        deadline = time.monotonic() + timeout_s
        with self._cycle_done:
            target = self._cycles + 2  # the cycle in progress (if any) plus one full cycle
            self._next_try = 0.0
            self._wake.set()
            while self._cycles < target:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cycle_done.wait(left)
                self._next_try = 0.0
                self._wake.set()
        return not (self.steps or self._unsent or self.events or self._unsent_events)

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    # -- the thread ---------------------------------------------------------------------
    def run(self) -> None:
        while not self._stopping:
            self._wake.wait(self.interval_s)
            self._wake.clear()
            try:
                self._before_cycle()
                self._cycle()
            except Exception as e:  # never let the thread die: the job must not notice us
                self.stats["errors"] += 1
                log.debug("trainpilot: send cycle failed: %r", e)
            with self._cycle_done:
                self._cycles += 1
                self._cycle_done.notify_all()

    def _take_steps(self) -> None:
        produced = self._produced()  # read before len(): a race can only under-count drops
        q = self.steps
        raw = []
        while q:
            raw.append(q.popleft())
        self._taken += len(raw)
        # What deque(maxlen) pushed out on the training thread, derived so that thread counts nothing.
        self._evicted = max(self._evicted, produced - self._taken - len(q))
        over = len(self._unsent) + len(raw) - self.capacity
        if over > 0:  # still down: keep the newest, count the rest, build JSON only for what is kept
            self._trimmed += over
            cut = min(over, len(self._unsent))
            del self._unsent[:cut]
            del raw[:over - cut]
        self.stats["dropped"] = self._evicted + self._trimmed
        self._unsent.extend(self._report(t) for t in raw)
        if raw:
            # torch.cuda.memory_stats() now and then, on the newest step (docs/gpu.md), off the training thread.
            self._unsent[-1].update(self._cuda_memory())
        while self.events:
            self._unsent_events.append(self.events.popleft())
        del self._unsent_events[:-EVENTS_KEPT]

    def _report(self, t: StepTuple) -> Dict[str, Any]:
        step, dur, wait, samples, loss, ts, version, more = t
        s: Dict[str, Any] = {"step": step, "duration_s": dur, "data_wait_s": wait, "samples": samples, "ts": ts}
        if loss is not None:
            s.update(_loss_fields(loss))
        if version:
            s["config_version"] = version
        if self._rank_fields:
            s.update(self._rank_fields)
        if more:
            for k, v in more.items():
                if callable(v):  # read here, off the training thread (the sampled gradient norms)
                    try:
                        v = v()
                    except Exception as e:
                        log.debug("trainpilot: %s not read: %r", k, e)
                        v = None
                    if v is None:
                        continue
                s[k] = v
        return s

    def _cycle(self) -> None:
        self._take_steps()
        run_id = self._run_id()
        if run_id is None or time.monotonic() < self._next_try:
            return
        try:
            self._send_steps(run_id)
            self._send_events(run_id)
            if self.stats["dropped"] > self._noted_drops:
                self._noted_drops = self.stats["dropped"]
                self.events.append({"kind": "note", "ts": time.time(),
                                    "data": {"message": "client dropped step reports", "dropped_steps": self._noted_drops}})
        except Unreachable as e:
            if self._down_since is None:
                self._down_since = time.monotonic()
                log.warning("trainpilot: sidecar unreachable (%s); training goes on, reports are buffered", e)
            self._next_try = time.monotonic() + self._backoff
            self._backoff = min(self._backoff * 2, BACKOFF_MAX_S)
            return
        if self._down_since is not None:
            log.warning("trainpilot: sidecar back after %.1f s", time.monotonic() - self._down_since)
            self._down_since = None
        self._backoff = BACKOFF_START_S

    def _send_steps(self, run_id: str) -> None:
        path = f"/v1/runs/{run_id}/steps"
        while self._unsent:
            batch = self._unsent[:MAX_BATCH]
            try:
                answer = self.api.request("POST", path, {"steps": batch})
            except HttpError as e:
                # A 4xx will not get better by resending; drop the batch and say why once.
                self.stats["rejected"] += len(batch)
                self._warn_rejected(e)
            else:
                self.stats["sent"] += len(batch)
                hint = answer.get("config_version") if isinstance(answer, dict) else None
                if isinstance(hint, int):
                    self._on_hint(hint)
            del self._unsent[:len(batch)]

    def _send_events(self, run_id: str) -> None:
        path = f"/v1/runs/{run_id}/events"
        while self._unsent_events:
            try:
                self.api.request("POST", path, self._unsent_events[0])
                self.stats["events_sent"] += 1
            except HttpError as e:
                self.stats["rejected"] += 1
                self._warn_rejected(e)
            del self._unsent_events[0]

    def _warn_rejected(self, e: HttpError) -> None:
        if e.code not in self._warned:
            self._warned.add(e.code)
            log.warning("trainpilot: sidecar rejected a report: %s", e)
