"""This rank of a data-parallel job, as a client run sees it (DESIGN §9): rank 0's sidecar decides
for the job, and every rank changes config at the same step.

At start every rank takes rank 0's run id, config version and config (after rank 0 joined), and
learns every rank's node. Every `sync_every` steps, at the safe point, the ranks exchange rank 0's
newest version and the step to apply it at (distributed.py), and now and then a summary of each
rank's steps, which rank 0's RankAgent forwards to its sidecar. Each rank also talks to its own
node's sidecar on a thread of its own (_ranks.py): a rank other than 0 makes that sidecar's copy
of the run before its reports go.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, Optional, Tuple

from ._follow import Follow
from ._http import Api
from ._link import Link
from ._ranks import RankAgent, node_name
from .distributed import DistSync


class Group:
    def __init__(self, dist: DistSync, link: Link, follow: Follow, *, name: str, first_step: int,
                 summary: Callable[[int], Tuple[float, ...]], url: Optional[str], token: Optional[str],
                 timeout_s: float):
        """summary(verdict): this rank's figures since its last summary (the run's Meter)."""
        self.dist = dist
        self.rank, self.world_size = dist.rank, dist.world_size
        self._link = link
        self._follow = follow
        self._name = name
        self._summary = summary
        self._next_sync = first_step
        self._node = node_name()
        # Every rank talks to its own node's sidecar too, on a thread of its own (its own Api).
        self.agent = (RankAgent(Api(url, token, timeout_s), lambda: link.id, rank=dist.rank, world_size=dist.world_size,
                                node=self._node, copy_body=self._copy_body, nodes=lambda: dist.nodes)
                      if url else None)

    def begin(self, first_step: int, ack: bool) -> None:
        """Collective, once, after rank 0 tried to join: every rank takes rank 0's run and config."""
        link = self._link
        version, config, _ = link.newest
        shared_id, version, shared = self.dist.share(link.id, version, config)
        self.dist.share_nodes(self._node)
        link.learn(shared_id, version, shared)
        if self.agent is not None and self.rank:
            link.wait_for(self.agent.ensure_copy)  # the sender thread makes this node's copy of the run first
        self._follow.take(version, shared, apply_step=first_step, ack=ack)

    def start(self) -> None:
        if self.agent is not None:
            self.agent.start()

    def stop(self) -> None:
        if self.agent is not None:
            self.agent.stop()

    def safe_point(self, step: int) -> None:
        """Every rank at the start of each step: the exchange when it is due, then the config's."""
        if step >= self._next_sync:
            self._sync(step)
        self._follow.safe_point(step)

    def _sync(self, step: int) -> None:
        self._next_sync = step + self.dist.every
        link, agent = self._link, self.agent
        version, config, _ = link.newest
        got = self.dist.exchange(step, (version, config, link.id), self._rank_summary,
                                 agent.tables.append if agent is not None and not self.rank else None)
        if got is not None:
            version, config, run_id, apply_step = got
            link.learn(run_id, version, config)
            self._follow.schedule(version, config, apply_step)

    def _rank_summary(self) -> Tuple[float, ...]:
        return self._summary(self.agent.verdict_code if self.agent is not None else -1)

    def _copy_body(self) -> Dict[str, Any]:
        """What this node's sidecar makes its copy of the run with: rank 0's sidecar decides for the
        job, so a copy made by another rank only classifies (tune mode off)."""
        follow = self._follow
        tune = follow.tune
        body: Dict[str, Any] = {"name": self._name, "config": dict(follow.applied),
                                "tune": dict(tune, mode=tune.get("mode", "auto") if not self.rank else "off")}
        if follow.applied_version > 0:
            body["config_version"] = follow.applied_version
        return body
