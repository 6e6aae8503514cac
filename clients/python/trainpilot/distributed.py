"""Data parallel: rank 0's sidecar decides; every rank changes config at the same step.

Each exchange is a collective, so every rank calls it at the same step (every `every` steps,
at the same safe point). Rank 0 broadcasts a three-number header — its newest config version,
the step at which to apply it, and whether the next exchange carries summaries — and, only when
the version is new, the config itself.

A summary exchange is an all-gather instead (DESIGN §9): each rank's row carries its summary
since the last one (steps, step time, data wait, samples, last step, its node's verdict) and
rank 0's row also the header, so rank 0 sees the whole job in the job's own collective and
forwards it to its sidecar; no sidecar talks to another. Rank 0 calls one when both
SUMMARY_S seconds and SUMMARY_STEPS steps have passed since the last, and says so in the header
before, so every rank makes the same call.
"""
from __future__ import annotations

import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

# Steps between exchanges: a gloo broadcast of 16 bytes costs ~0.1 ms on CPU, so every 10th
# step keeps the amortised cost per step well under the client's 20 µs budget (DESIGN §7),
# while a new version still lands within a second on any job doing ≥10 steps/s.
SYNC_EVERY = 10
# Summaries at most every 2 s (the forward to the sidecar goes every 2 s) and every 50 steps: an
# all-gather of 8 doubles per rank costs ~0.2 ms more than the header's broadcast with gloo on
# CPU (bench/exchange.py), so even the fastest-stepping job pays ≤ 4 µs per step (DESIGN §7: ≤ 5),
# and one doing 100 steps/s a fourth of that.
SUMMARY_S = 2.0
SUMMARY_STEPS = 50
# A summary row: version, apply step (rank 0's), steps, duration_s, data_wait_s, samples,
# last step, node verdict code.
ROW = 8


def active_group() -> Optional[Any]:
    """torch.distributed, when this process is one of several ranks; never imports torch."""
    import sys

    dist = sys.modules.get("torch.distributed")
    if dist is None or not dist.is_available() or not dist.is_initialized():
        return None
    return dist if dist.get_world_size() > 1 else None


class DistSync:
    def __init__(self, dist: Any, every: int = SYNC_EVERY, summary_s: float = SUMMARY_S, summary_steps: int = SUMMARY_STEPS):
        import torch

        self.dist = dist
        self.rank = dist.get_rank()
        self.world_size = dist.get_world_size()
        self.every = max(1, int(every))
        # NCCL only moves CUDA tensors; gloo and mpi take CPU ones.
        nccl = str(dist.get_backend()) == "nccl"
        self._device = torch.device("cuda", torch.cuda.current_device()) if nccl else torch.device("cpu")
        self._torch = torch
        self.last_version = -1
        self.summary_s, self.summary_steps = float(summary_s), int(summary_steps)
        self._gather_next = False  # this rank's copy of rank 0's call, from the last header
        self._summary_at: Tuple[float, int] = (time.monotonic(), 0)  # rank 0: when and at which step
        self.summaries = 0
        self._rows = [torch.zeros(ROW, dtype=torch.float64, device=self._device) for _ in range(self.world_size)]
        self.nodes: List[Optional[str]] = [None] * self.world_size

    def share_nodes(self, node: str) -> List[Optional[str]]:
        """At start: every rank learns every rank's node name (they do not change)."""
        nodes: List[Optional[str]] = [None] * self.world_size
        self.dist.all_gather_object(nodes, node)
        self.nodes = nodes
        return nodes

    def share(self, run_id: Optional[str], version: int, config: Dict[str, Any]) -> Tuple[Optional[str], int, Dict[str, Any]]:
        """At start: every rank gets rank 0's run id, config version and config."""
        obj = [run_id, version, config] if self.rank == 0 else [None, None, None]
        self.dist.broadcast_object_list(obj, src=0)
        self.last_version = int(obj[1])
        return obj[0], int(obj[1]), obj[2]

    def exchange(self, step: int, offer: Tuple[int, Optional[Dict[str, Any]], Optional[str]],
                 summary: Optional[Callable[[], Sequence[float]]] = None,
                 on_table: Optional[Callable[[List[List[float]]], None]] = None
                 ) -> Optional[Tuple[int, Dict[str, Any], Optional[str], int]]:
        """Collective. `offer` is rank 0's newest (version, config, run id); other ranks pass anything.
        summary: this rank's ROW - 2 numbers since its last summary (every rank passes one or none
        alike), called on summary exchanges only; on_table: rank 0's, handed every rank's row then.
        Returns (version, config, run id, apply_step) when rank 0 had a version this rank lacks."""
        version = offer[0] if self.rank == 0 else 0
        if self._gather_next:
            self._gather_next = False
            self.summaries += 1
            try:
                mine = [float(x) for x in summary()][:ROW - 2]
            except Exception:  # a summary that fails must not skip the collective the others are in
                mine = [0.0, 0.0, 0.0, 0.0, -1.0, -1.0]
            row = self._torch.tensor([version, step, *mine, *[-1.0] * (ROW - 2 - len(mine))],
                                     dtype=self._torch.float64, device=self._device)
            self.dist.all_gather(self._rows, row)
            head = self._rows[0].tolist()
            version, apply_step = int(head[0]), int(head[1])
            if on_table is not None:
                on_table([r.tolist() for r in self._rows])
            self._summary_at = (time.monotonic(), step)
        else:
            gather = 0
            if self.rank == 0 and summary is not None:
                at, at_step = self._summary_at
                gather = int(step - at_step >= self.summary_steps and time.monotonic() - at >= self.summary_s)
            header = self._torch.tensor([version, step, gather], dtype=self._torch.int64, device=self._device)
            self.dist.broadcast(header, src=0)
            version, apply_step, gather = (int(v) for v in header.tolist())
            self._gather_next = bool(gather) and summary is not None
        if version <= self.last_version:
            return None
        obj = [offer[1], offer[2]] if self.rank == 0 else [None, None]
        self.dist.broadcast_object_list(obj, src=0)
        self.last_version = version
        return version, obj[0], obj[1], apply_step
