"""The zero-code hook's line to the sidecar: the client's own Sender (bounded queue, background
thread, fail-open, drops counted) and Poller (long-poll of config versions), and its attach
(PUT of the config the job was started with, on the run `trainpilot run` registered).

Nothing here runs on the training thread except start(), once, at the first step, and the
event()/offer bookkeeping (a deque append, a tuple read).
"""
from __future__ import annotations

import logging
import time
from typing import Any, Callable, Dict, Optional, Tuple

from .._http import Api, HttpError, Unreachable
from .._join import join
from .._poller import Poller
from .._sender import Sender

log = logging.getLogger("trainpilot")

CAPACITY = 10000
FLUSH_INTERVAL_S = 0.5
EXIT_FLUSH_S = 2.0


class Link:
    def __init__(self, url: str, token: Optional[str], run_id: str, name: str, produced: Any):
        self.url, self.run_id, self.name = url, run_id, name
        self._token = token
        self._produced = produced
        self.rank: Optional[int] = None
        self.world_size: Optional[int] = None
        self.sender: Optional[Sender] = None
        self.poller: Optional[Poller] = None
        self.version = 0  # newest config version known here
        self.applied_version = 0  # the version the job runs with (steps carry it)
        self.pending: Optional[Tuple[int, Dict[str, Any], str]] = None  # from the poller thread
        self._attach: Optional[Tuple[Dict[str, Any], Dict[str, Any], str]] = None  # (config, tune, reason)
        self.on_offer: Callable[[int, Dict[str, Any]], None] = lambda version, config: None
        self.started = False

    # -- training thread, once ----------------------------------------------------------------
    def start(self, *, rank: Optional[int], world_size: Optional[int], config: Optional[Dict[str, Any]],
              tune: Dict[str, Any], reason: str) -> None:
        """Starts the threads. config: what to attach with (rank 0 or a lone process); None on
        the other ranks, which only report."""
        if self.started:
            return
        self.started = True
        self.rank, self.world_size = rank, world_size
        if self.sender is None:
            self.sender = self._sender(rank, world_size)
        if config is not None:
            self._attach = (config, tune, reason)
        self.poller = Poller(Api(self.url, self._token, 3.0), lambda: self.run_id, lambda: self.version, self._offer)
        if self.sender.ident is None:
            self.sender.start()
        if config is None:
            self.poller.start()  # rank 0's poller starts once attached (its version is then known)

    def _sender(self, rank: Optional[int], world_size: Optional[int]) -> Sender:
        return Sender(Api(self.url, self._token, 3.0), lambda: self.run_id, capacity=CAPACITY,
                      interval_s=FLUSH_INTERVAL_S, rank=rank, world_size=world_size, produced=self._produced,
                      on_version_hint=self._hint, before_cycle=self._before_cycle)

    @property
    def steps(self) -> Any:
        return self.sender.steps

    def event(self, kind: str, step: int, **data: Any) -> None:
        """Queued for the sender (started now for an event that comes before any step)."""
        if self.sender is None:
            self.sender = self._sender(None, None)
        if self.sender.ident is None:
            self.sender.start()
        if self.world_size is not None:
            data.setdefault("rank", self.rank)
        self.sender.events.append({"kind": kind, "step": step, "ts": time.time(), "data": data})

    def flush(self, timeout_s: float = EXIT_FLUSH_S) -> bool:
        if self.sender is None:
            return True
        ok = self.sender.flush(timeout_s) if self.sender.is_alive() else False
        self.sender.stop()
        if self.poller is not None:
            self.poller.stop()
        return ok

    # -- background threads -------------------------------------------------------------------
    def _before_cycle(self) -> None:
        if self._attach is None:
            return
        config, tune, reason = self._attach
        try:
            j = join(self.sender.api, run_id=self.run_id, name=self.name, config=config, tune=tune, reason=reason)
        except Unreachable:
            return  # tried again next cycle
        except HttpError as e:
            log.warning("trainpilot: the sidecar refused the zero-code hook's config (%s); steps are still reported", e)
            self._attach = None
            if self.poller is not None and not self.poller.is_alive():
                self.poller.start()
            return
        self._attach = None
        self.version = j.version
        if all(config.get(k) == j.config.get(k) for k in ("batch_size", "num_workers", "learning_rate")):
            self.applied_version = j.version
            self.acknowledge(j.version, config, [])
        else:  # the run was configured already (this job restarted): its workers apply at the next epoch
            self.pending = (j.version, j.config, "the run's config")
        if self.poller is not None and not self.poller.is_alive():
            self.poller.start()

    def _hint(self, version: int) -> None:
        if version > self.version and self.poller is not None:
            self.poller.hint()

    def _offer(self, version: int, config: Dict[str, Any], reason: str) -> None:
        self.version = version
        self.pending = (version, config, reason)
        self.on_offer(version, config)

    def acknowledge(self, version: int, in_effect: Dict[str, Any], not_applied: list, step: int = 0) -> None:
        """config_applied, as the client sends it, with what is really in effect."""
        data = {"version": version, **{k: in_effect[k] for k in ("batch_size", "num_workers", "learning_rate",
                                                                 "grad_accum_steps") if k in in_effect}}
        if not_applied:
            data["not_applied"] = not_applied
        self.event("config_applied", step, **data)
