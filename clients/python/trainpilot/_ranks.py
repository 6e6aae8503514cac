"""Data parallel across nodes (DESIGN §9): each rank and its own node's sidecar.

Every rank talks to the sidecar of its node (TRAINPILOT_URL local). This thread, one per rank,
never on the training thread:
- makes sure that sidecar holds the run under rank 0's id (a node's copy: PUT /v1/runs/:id),
- says every few seconds which rank runs here, with its pid and node, so that sidecar watches the
  rank's process tree — and a restarted sidecar learns it again — and reads back the node's verdict
  on its local ranks, which the training thread puts into the job's next summary exchange,
- on rank 0, forwards to its sidecar every rank's summary gathered in that exchange.
"""
from __future__ import annotations

import collections
import logging
import os
import re
import socket
import threading
import time
from typing import Any, Callable, Deque, Dict, List, Optional

from ._http import Api, HttpError, Unreachable

log = logging.getLogger("trainpilot")

# The tuner's bottleneck kinds (tuner/classify.ts BOTTLENECK_KINDS), by index: the collective
# carries a node's verdict as a number.
KINDS = ("input_bound", "gpu_underutilized", "gpu_memory_pressure", "host_memory_pressure",
         "cpu_saturated", "io_bound", "gpu_throttled", "compute_bound", "warming_up",
         "tensor_cores_idle")

# How often a rank says it runs here (and reads its node's verdict), and rank 0 forwards.
ANNOUNCE_S = 2.0
BACKOFF_MAX_S = 10.0
# A rank other than 0 that finds the run gone from a sidecar that held it waits this long before
# making the copy again: when rank 0 shares that sidecar (it lost its store), rank 0 makes it
# first, with the tune that decides. At the start there is no wait: rank 0 registered before it
# shared the id, so a sidecar without the run is another node's.
COPY_WAIT_S = 3.0

_NODE_BAD = re.compile(r"[^A-Za-z0-9._:@+-]")


def node_name() -> str:
    """$TRAINPILOT_NODE, else the host name (a pod's name on Kubernetes), as the API takes it."""
    raw = os.environ.get("TRAINPILOT_NODE") or socket.gethostname() or "node"
    name = _NODE_BAD.sub("-", raw)[:128]
    return name if name[:1].isalnum() else ("n" + name)[:128]


class Totals:
    """Sums of one rank's intervals not yet forwarded (rank 0 keeps one per rank)."""
    __slots__ = ("steps", "duration_s", "data_wait_s", "samples", "last_step", "verdict")

    def __init__(self) -> None:
        self.steps = 0
        self.duration_s = 0.0
        self.data_wait_s = 0.0
        self.samples = 0
        self.last_step: Optional[int] = None
        self.verdict: Optional[str] = None


class RankAgent(threading.Thread):
    def __init__(self, api: Api, run_id: Callable[[], Optional[str]], *, rank: int, world_size: int, node: str,
                 copy_body: Callable[[], Dict[str, Any]], nodes: Callable[[], List[Optional[str]]],
                 interval_s: float = ANNOUNCE_S):
        super().__init__(name="trainpilot-ranks", daemon=True)
        self.api = api
        self._run_id = run_id
        self.rank, self.world_size, self.node = rank, world_size, node
        self._copy_body = copy_body  # what a node's copy is made with: name, config, version, tune
        self._nodes = nodes
        self.interval_s = interval_s
        # The node's verdict as the collective carries it: an index into KINDS, -1 while unknown.
        self.verdict_code = -1
        self.leader: Optional[bool] = None
        self.tables: Deque[List[List[float]]] = collections.deque(maxlen=1000)  # rank 0: gathered rows
        self._totals: Dict[int, Totals] = {}
        self._missing_since: Optional[float] = None
        self._wake = threading.Event()
        self._stopping = False
        self.stats = {"announced": 0, "copies": 0, "forwarded": 0, "errors": 0}

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    # -- the sidecar holds the run -------------------------------------------------------
    def ensure_copy(self) -> bool:
        """Announces this rank, first making the node's copy of the run when the sidecar lacks it.
        True when the sidecar holds the run (or refused it for good); the sender's join step."""
        run_id = self._run_id()
        if run_id is None:
            return False
        try:
            self._announce(run_id, rejoin=False)
            return True
        except Unreachable:
            return False
        except HttpError as e:
            log.warning("trainpilot: rank %d: the sidecar refused this rank (%s)", self.rank, e)
            return True

    def _announce(self, run_id: str, rejoin: bool = True) -> None:
        body = {"world_size": self.world_size, "pid": os.getpid(), "node": self.node}
        try:
            answer = self.api.request("PUT", f"/v1/runs/{run_id}/ranks/{self.rank}", body)
        except HttpError as e:
            if e.status != 404:
                raise
            # This node's sidecar does not hold the run (a node of its own, or it lost its store).
            now = time.monotonic()
            if rejoin and self.rank and (self._missing_since is None or now - self._missing_since < COPY_WAIT_S):
                self._missing_since = self._missing_since or now
                raise Unreachable("the run is not there yet; rank 0 may make it") from None
            self._missing_since = None
            self.api.request("PUT", f"/v1/runs/{run_id}", {**self._copy_body(), "pid": os.getpid()})
            self.stats["copies"] += 1
            answer = self.api.request("PUT", f"/v1/runs/{run_id}/ranks/{self.rank}", body)
        self._missing_since = None
        self.stats["announced"] += 1
        if isinstance(answer, dict):
            self.leader = bool(answer.get("leader"))
            v = answer.get("verdict")
            kind = v.get("kind") if isinstance(v, dict) else None
            self.verdict_code = KINDS.index(kind) if kind in KINDS else -1

    # -- rank 0 forwards -------------------------------------------------------------------
    def _take_tables(self) -> None:
        while self.tables:
            for rank, row in enumerate(self.tables.popleft()):
                # row: version, step, steps, duration_s, data_wait_s, samples, last_step, verdict code
                t = self._totals.setdefault(rank, Totals())
                t.steps += int(row[2])
                t.duration_s += max(0.0, row[3])
                t.data_wait_s += min(max(0.0, row[4]), max(0.0, row[3]))
                t.samples += int(row[5])
                if row[6] >= 0:
                    t.last_step = int(row[6])
                code = int(row[7])
                t.verdict = KINDS[code] if 0 <= code < len(KINDS) else t.verdict

    def _forward(self, run_id: str) -> None:
        self._take_tables()
        if not any(t.steps for t in self._totals.values()):
            return
        nodes = self._nodes()
        ranks = []
        for rank, t in sorted(self._totals.items()):
            r: Dict[str, Any] = {"rank": rank, "steps": t.steps, "duration_s": t.duration_s,
                                 "data_wait_s": t.data_wait_s, "samples": t.samples}
            if rank < len(nodes) and nodes[rank]:
                r["node"] = nodes[rank]
            if t.last_step is not None:
                r["last_step"] = t.last_step
            if t.verdict is not None:
                r["verdict"] = t.verdict
            ranks.append(r)
        try:
            self.api.request("POST", f"/v1/runs/{run_id}/ranks", {"world_size": self.world_size, "ranks": ranks})
        except HttpError as e:
            log.debug("trainpilot: rank summaries refused: %s", e)  # a 4xx will not get better: drop them
        self.stats["forwarded"] += 1
        self._totals = {}

    def run(self) -> None:
        backoff = self.interval_s
        while not self._stopping:
            self._wake.wait(backoff)
            self._wake.clear()
            if self._stopping:
                break
            run_id = self._run_id()
            if run_id is None:
                continue
            try:
                self._announce(run_id)
                if self.rank == 0:
                    self._forward(run_id)
                backoff = self.interval_s
            except Unreachable:
                # Down: the job goes on; summaries add up here (a few numbers per rank) until it is back.
                backoff = min(backoff * 2, BACKOFF_MAX_S)
            except Exception as e:  # never let the thread die: the job must not notice us
                self.stats["errors"] += 1
                log.debug("trainpilot: rank agent: %r", e)
                backoff = BACKOFF_MAX_S
