"""One process's line to the sidecar for one run (DESIGN §4, §8), used by the client's Run and by
the zero-code hook: it joins the run — registers one, or attaches to the one `trainpilot run`
registered ($TRAINPILOT_RUN_ID) — sends what the training thread queues (Sender: steps, events),
follows the config (Poller: the newest version, handed to the owner's on_offer) and says what is
applied (a `config_applied` event).

The training thread only appends to `steps` and `events`; the join is tried once on the caller's
thread when asked (join(now=True)) and otherwise before each of the sender's cycles until it is
done. Steps, events and polls wait for it, so a run's reports never reach the sidecar before the
config they were measured with. Without a url nothing is ever sent and the same code runs.
"""
from __future__ import annotations

import logging
import time
from typing import Any, Callable, Deque, Dict, Iterable, NamedTuple, Optional

from ._http import Api, HttpError, Unreachable
from ._join import Joined, join
from ._poller import Poller
from ._sender import Sender

log = logging.getLogger("trainpilot")

CAPACITY = 10000
FLUSH_INTERVAL_S = 0.5
TIMEOUT_S = 3.0
# What a config_applied event says is in effect (DESIGN §4), besides its version.
APPLIED_KEYS = ("batch_size", "num_workers", "learning_rate", "grad_accum_steps", "prefetch_factor", "persistent_workers", "pin_memory")


class Offer(NamedTuple):
    """A config version from the sidecar: the newest one this process knows of."""
    version: int
    config: Optional[Dict[str, Any]]
    reason: str


class JoinRequest(NamedTuple):
    """What a run is registered or attached with (read again at each try: it may change meanwhile)."""
    name: str
    config: Dict[str, Any]
    tune: Dict[str, Any]
    reason: str = "the job attached with its config"


class Link:
    def __init__(self, url: Optional[str], token: Optional[str], *, run_id: Optional[str], produced: Callable[[], int],
                 config: Optional[Dict[str, Any]] = None, follow: bool = True,
                 on_offer: Callable[[Offer], None] = lambda offer: None, capacity: int = CAPACITY,
                 interval_s: float = FLUSH_INTERVAL_S, timeout_s: float = TIMEOUT_S):
        """run_id: the run this process reports to when it knows it before any join (None: learned
        when join() registers or attaches). config: the job's own, version 0 until the sidecar's
        comes (None: not known yet). produced: how many steps the training thread has queued
        (the sender counts drops from it). follow: poll the config (the process that decides for the
        job); on_offer gets each newer version the poll brings, on the poller's thread."""
        # One Api per thread: the sender's (it also joins) and the poller's.
        self.api = Api(url, token, timeout_s) if url else None
        self._poll_api = Api(url, token, timeout_s) if url and follow else None
        self.id = run_id
        self.newest = Offer(0, config, "")
        self.sender: Optional[Sender] = None
        self.poller: Optional[Poller] = None
        self.rank: Optional[int] = None
        self.world_size: Optional[int] = None
        self._produced = produced
        self._on_offer = on_offer
        # Without a sidecar nothing is ever sent: keep no backlog (and give the GC nothing to walk).
        self._capacity = capacity if url else 1
        self._interval_s = interval_s
        self._pending: Optional[Callable[[], bool]] = None  # what must be done before reports go
        self._tries = 0

    @property
    def version(self) -> int:
        return self.newest.version

    @property
    def steps(self) -> Deque[tuple]:
        """The sender's queue: the training thread appends one tuple per step (_sender.StepTuple)."""
        return self.open().steps

    def open(self, rank: Optional[int] = None, world_size: Optional[int] = None) -> Sender:
        """The sender, made once; rank and world_size go into every report (data parallel)."""
        if self.sender is None:
            self.rank, self.world_size = rank, world_size
            self.sender = Sender(self.api, self._report_to, capacity=self._capacity, interval_s=self._interval_s,
                                 rank=rank, world_size=world_size, produced=self._produced,
                                 on_version_hint=self._hint, before_cycle=self._before_cycle)
        return self.sender

    def start(self, poll: bool = True) -> None:
        """Starts the sender and (when following, unless poll is False) the poller; none without a
        sidecar. Safe to call again."""
        sender = self.open()
        if self.api is None:
            return
        if sender.ident is None:
            sender.start()
        if poll and self._poll_api is not None and self.poller is None:
            self.poller = Poller(self._poll_api, self._report_to, lambda: self.newest.version, self.offer)
            self.poller.start()

    # -- joining ----------------------------------------------------------------------------
    def join(self, request: Callable[[], JoinRequest], *, attach_to: Optional[str], now: bool,
             on_joined: Callable[[Joined], None], on_refused: Callable[[HttpError], None]) -> None:
        """Registers a run (attach_to None) or attaches to attach_to. now: one try on this thread
        first (bounded by the Api's timeout); then, until the sidecar answers, the sender thread
        tries before each cycle. on_joined gets the sidecar's run before its id and version are
        taken here (so nothing is polled or sent before the owner has seen it); on_refused a 4xx,
        after which it is not tried again."""

        def attempt() -> bool:
            self._tries += 1
            r = request()
            try:
                j = join(self.api, run_id=attach_to, name=r.name, config=r.config, tune=r.tune, reason=r.reason)
            except Unreachable as e:
                if self._tries == 1:
                    log.warning("trainpilot: sidecar at %s not reachable (%s); training goes on, the run is %s "
                                "when it answers", self.api.url, e, "registered" if attach_to is None else "attached")
                return False
            except HttpError as e:
                on_refused(e)
                return True
            on_joined(j)
            self.newest = Offer(j.version, j.config, "")
            self.id = j.run_id
            return True

        self.wait_for(attempt)
        if now:
            self._before_cycle()

    def wait_for(self, step: Callable[[], bool]) -> None:
        """Reports wait until step() returns True: it runs before each of the sender's cycles (a
        data-parallel rank's copy of the run on its node's sidecar, DESIGN §9)."""
        self._pending = step

    def learn(self, run_id: Optional[str], version: int, config: Dict[str, Any]) -> None:
        """The run's id (when not known yet) and the newest version, learned from elsewhere: rank
        0's broadcast to the other ranks. Not handed to on_offer: the caller applies it."""
        if self.id is None:
            self.id = run_id
        self.newest = Offer(version, config, self.newest.reason)

    # -- the config -------------------------------------------------------------------------
    def offer(self, version: int, config: Dict[str, Any], reason: str) -> None:
        """A newer version (the poller's thread)."""
        self.newest = offer = Offer(version, config, reason)
        self._on_offer(offer)

    def acknowledge(self, version: int, in_effect: Dict[str, Any], step: int, not_applied: Iterable[str] = ()) -> None:
        """config_applied: this version is in effect, with what really is (not_applied: the keys of
        the version the job keeps its own values of)."""
        data: Dict[str, Any] = {"version": version, **{k: in_effect[k] for k in APPLIED_KEYS if k in in_effect}}
        not_applied = list(not_applied)
        if not_applied:
            data["not_applied"] = not_applied
        self.event("config_applied", step, **data)

    # -- reports ----------------------------------------------------------------------------
    def event(self, kind: str, step: int, **data: Any) -> None:
        """Queued for the sender, which sends it once started (start())."""
        sender = self.open()
        if self.world_size is not None:
            data.setdefault("rank", self.rank)
        sender.events.append({"kind": kind, "step": step, "ts": time.time(), "data": data})

    @property
    def stats(self) -> Dict[str, int]:
        return dict(self.sender.stats) if self.sender is not None else {}

    def close(self, timeout_s: float) -> bool:
        """Sends what is queued, waiting at most timeout_s, and stops the threads. True when
        everything reached the sidecar (also when nothing was ever queued)."""
        sender = self.sender
        if sender is None:
            return True
        ok = sender.flush(timeout_s) if sender.is_alive() else False
        sender.stop()
        if self.poller is not None:
            self.poller.stop()
        return ok

    # -- the sender's and poller's threads ----------------------------------------------------
    def _report_to(self) -> Optional[str]:
        return self.id if self._pending is None else None

    def _before_cycle(self) -> None:
        step = self._pending
        if step is not None and step():
            self._pending = None
            if self.poller is not None:
                self.poller.hint()  # it waited for the join: poll now, not at its next second

    def _hint(self, version: int) -> None:
        if version > self.newest.version and self.poller is not None:
            self.poller.hint()
