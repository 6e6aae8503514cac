"""The handle a training job holds (trainpilot.start), made of one object per concern:

  Link      _link.py       the line to the sidecar: join, reports, config versions, acknowledgements
  Meter     _meter.py      the step context and the data wait, on the training thread
  Follow    _follow.py     the config in effect, applied at safe points
  OomGuard  _oom_guard.py  out of memory: report, back off, go on
  Group     _group.py      data parallel: the ranks' exchange and each rank's own sidecar

Nothing here touches the network on the training thread except the first try to join, bounded by
timeout_s; a step costs two perf_counter reads, a time.time, a tuple and a deque append (Meter).
"""
from __future__ import annotations

import logging
from typing import Any, Dict, Optional

from ._follow import Follow
from ._gradnoise import shares, watch
from ._group import Group
from ._link import JoinRequest, Link
from ._lr import LearningRate
from ._meter import Meter
from ._oom_guard import OomGuard
from .distributed import SYNC_EVERY, DistSync, active_group

log = logging.getLogger("trainpilot")


class Run:
    @classmethod
    def open(cls, name: str, config: Dict[str, Any], tune: Dict[str, Any], url: Optional[str], *,
             token: Optional[str] = None, run_id: Optional[str] = None, optimizer: Any = None, first_step: int = 0,
             capacity: int = 10000, flush_interval_s: float = 0.5, oom_guard: bool = True,
             sync_every: int = SYNC_EVERY, timeout_s: float = 3.0) -> "Run":
        """The one way a Run is made (trainpilot.start calls it with checked arguments): registers
        or attaches (or leaves that to the sender thread while the sidecar does not answer), shares
        the config across ranks and starts the threads."""
        group = active_group()
        run = cls(name, config, tune, url, token=token, run_id=run_id, first_step=first_step, capacity=capacity,
                  flush_interval_s=flush_interval_s, oom_guard=oom_guard, timeout_s=timeout_s,
                  dist=DistSync(group, sync_every) if group is not None else None)
        if optimizer is not None:
            run.attach_optimizer(optimizer)
        run._begin()
        return run

    def __init__(self, name: str, config: Dict[str, Any], tune: Dict[str, Any], url: Optional[str], *,
                 token: Optional[str] = None, run_id: Optional[str] = None, dist: Optional[DistSync] = None,
                 first_step: int = 0, oom_guard: bool = True, capacity: int = 10000, flush_interval_s: float = 0.5,
                 timeout_s: float = 3.0):
        """Use Run.open (trainpilot.start). url: the sidecar's, None without one; run_id: the run to
        attach to, None to register one; dist: the ranks' DistSync when data parallel. Touches no
        network and starts no thread."""
        self.name = name
        self.rank = dist.rank if dist is not None else None
        self.world_size = dist.world_size if dist is not None else None
        self.attached = run_id is not None  # attached to a run registered by `trainpilot run`
        self.finished = False
        self._run_id = run_id
        self._first_step = first_step
        # Rank 0 with a sidecar learns the id when it joins; the others have it now or from rank 0.
        self._link = link = Link(url, token, run_id=None if url and not self.rank else run_id, config=dict(config),
                                 produced=lambda: self._meter.step - first_step, follow=not self.rank,
                                 on_offer=lambda offer: self._follow.offered(offer),
                                 capacity=capacity, interval_s=flush_interval_s, timeout_s=timeout_s)
        link.open(self.rank, self.world_size)
        step = lambda: self._meter.step  # noqa: E731 - the run's current step, for what happens off the step
        self._follow = follow = Follow(config, tune, link, step=step, distributed=dist is not None)
        self._guard = OomGuard(follow, link, step=step, forget=lambda: self._meter.forget(),
                               world_size=self.world_size, enabled=oom_guard)
        self._group = (Group(dist, link, follow, name=name, first_step=first_step, url=url, token=token,
                             timeout_s=timeout_s, summary=lambda verdict: self._meter.summary(verdict))
                       if dist is not None else None)
        self._safe_point = self._group.safe_point if self._group is not None else follow.safe_point
        self._meter = meter = Meter(link.steps, follow, first_step=first_step, safe_point=self._safe_point,
                                    on_error=self._guard.on_error)
        # The calls a training loop makes every step are the Meter's and Follow's own methods, so a
        # step costs no call more than before the split (bench/client.py).
        self.batches = meter.batches
        self.next_batch = meter.next_batch
        self.end_batches = meter.end_batches
        self.log = meter.log
        self.should_step = follow.should_step

    def _begin(self) -> None:
        """Joins the sidecar (rank 0), takes the shared config (every rank), starts the threads."""
        link, follow = self._link, self._follow
        if link.api is not None and not self.rank:
            link.join(lambda: JoinRequest(self.name, follow.applied, follow.tune), attach_to=self._run_id, now=True,
                      on_joined=lambda j: follow.joined(j, ack=self.attached),
                      on_refused=lambda e: log.warning("trainpilot: the sidecar refused this run (%s); the job goes "
                                                       "on without it", e))
        if self._group is not None:
            self._group.begin(self._first_step, ack=self.attached)
        link.start()
        if self._group is not None:
            self._group.start()

    # -- what the sidecar and the job hold -------------------------------------------------
    @property
    def id(self) -> Optional[str]:
        return self._link.id

    @property
    def config(self) -> Dict[str, Any]:
        """The newest config the sidecar has (kept current by the poller); `applied` is in effect."""
        return self._link.newest.config

    @property
    def config_version(self) -> int:
        return self._link.newest.version

    @property
    def reason(self) -> str:
        return self._link.newest.reason

    @property
    def tune(self) -> Dict[str, Any]:
        return self._follow.tune

    @property
    def applied(self) -> Dict[str, Any]:
        return self._follow.applied

    @property
    def applied_version(self) -> int:
        return self._follow.applied_version

    @property
    def layout(self) -> int:
        """Bumped when batch_size, num_workers or a loader knob changes: loaders rebuild on it."""
        return self._follow.layout

    @property
    def lr(self) -> LearningRate:
        return self._follow.lr

    @property
    def accum_steps(self) -> int:
        return self._follow.accum_steps

    @property
    def step_index(self) -> int:
        return self._meter.step

    @property
    def stats(self) -> Dict[str, int]:
        """sent, dropped, rejected, events_sent, errors: what became of the reports."""
        return self._link.stats

    # -- measuring (batches, next_batch, end_batches, log: the Meter's, bound in __init__) --
    def step(self, samples: Optional[int] = None) -> Meter:
        """`with run.step():` around one training step. samples: this step's batch size,
        when it differs from what the loader handed out."""
        ctx = self._meter
        ctx.samples = samples
        return ctx

    def event(self, kind: str, step: Optional[int] = None, **data: Any) -> None:
        """Queues an event (oom, epoch_end, checkpoint, note, …) for the sender."""
        self._link.event(kind, self._meter.step if step is None else step, **data)

    # -- applying config (should_step: Follow's, bound in __init__) -------------------------
    def attach_optimizer(self, optimizer: Any) -> None:
        """The run sets this optimizer's learning rate from now on, keeping the ratios between
        its param groups (each group's lr scales with config.learning_rate)."""
        self._follow.lr.attach(optimizer)
        # The sampled gradient norms (and a CUDA job's memory peak) for this optimizer's steps.
        watch(optimizer, self._meter.log, lambda: shares(self.world_size or 1, self._follow.accum_steps, micro_steps=True))

    def safe_point(self) -> None:
        """Applies a new config version when one is due (a step's start does this too)."""
        self._safe_point(self._meter.step)

    def take_retry(self) -> bool:
        """True once after an OOM the run recovered from: the failed batch's samples come again."""
        return self._guard.take_retry()

    def data_loader(self, dataset: Any, **kwargs: Any) -> Any:
        """A torch DataLoader that follows config.batch_size and num_workers (see loader.py)."""
        from .loader import TunedLoader

        return TunedLoader(self, dataset, **kwargs)

    # -- ending -----------------------------------------------------------------------------
    def finish(self, status: Optional[str] = "finished", timeout_s: float = 3.0, **data: Any) -> bool:
        """Reports the end (status "finished" or "failed"; None reports nothing) and sends what
        is queued, waiting at most timeout_s. True when everything reached the sidecar.
        Safe to call twice."""
        if self.finished:
            return True
        self.finished = True
        if status is not None and (status != "finished" or not self.rank):
            self.event(status, **data)  # rank 0 ends the run; any rank may report a failure
        ok = self._link.close(timeout_s)
        if self._group is not None:
            self._group.stop()
        return ok

    def __enter__(self) -> "Run":
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> bool:
        if exc_type is None:
            self.finish()
        else:
            self.finish("failed", error=f"{exc_type.__name__}: {exc}"[:300])
        return False
