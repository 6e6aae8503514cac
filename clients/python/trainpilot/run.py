"""The handle a training job holds: measures steps, applies config at safe points, reports.

Everything here runs on the training thread and touches no network: a step costs two
perf_counter reads, a time.time, a tuple and a deque append. The sender and poller threads
(in _sender.py, _poller.py) do the rest.
"""
from __future__ import annotations

import logging
import time
from typing import Any, Callable, Dict, Iterable, Iterator, Optional, Tuple

from ._http import Api, HttpError, Unreachable
from ._join import join
from ._lr import LearningRate
from ._poller import Poller
from ._ranks import RankAgent, node_name
from ._sender import Sender
from .distributed import SYNC_EVERY, DistSync, active_group
from .oom import backed_off, free_memory, is_oom, lowest_batch

log = logging.getLogger("trainpilot")
_pc = time.perf_counter
_now = time.time


class _Step:
    """The `with run.step():` context; one object reused for every step."""
    __slots__ = ("run", "samples")

    def __init__(self, run: "Run"):
        self.run = run
        self.samples: Optional[int] = None

    def __enter__(self) -> "_Step":
        run = self.run
        run._safe_point()
        run._t0 = _pc()
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> bool:
        t1 = _pc()
        run = self.run
        if exc_type is not None:
            run._fetch_t0 = None
            return run._on_error(exc)
        t0 = run._fetch_t0
        if t0 is None:
            t0, wait = run._t0, 0.0
        else:
            wait = run._wait
            run._fetch_t0 = None
        samples = self.samples or run._batch_samples or run.applied["batch_size"]
        run._sum_dur += t1 - t0  # this rank's summary for the job's next exchange (distributed.py)
        run._sum_wait += wait
        run._sum_samples += samples
        run._q.append((run._step, t1 - t0, wait, samples, run._loss, _now(), run.applied_version, run._extra))
        run._loss = run._extra = None
        run._step += 1
        return False


class Run:
    @classmethod
    def open(cls, name: str, config: Dict[str, Any], tune: Dict[str, Any], url: Optional[str], *,
             token: Optional[str] = None, run_id: Optional[str] = None, optimizer: Any = None, first_step: int = 0,
             capacity: int = 10000, flush_interval_s: float = 0.5, oom_guard: bool = True,
             sync_every: int = SYNC_EVERY, timeout_s: float = 3.0) -> "Run":
        """The one way a Run is made (trainpilot.start calls it with checked arguments): builds
        its collaborators, registers or attaches (or leaves that to the sender thread while the
        sidecar does not answer), shares the config across ranks and starts the threads."""
        group = active_group()
        dist = DistSync(group, sync_every) if group is not None else None
        api = Api(url, token, timeout_s) if url else None
        leader = dist is None or not dist.rank
        # One Api per thread: the sender's (it also joins) and the poller's.
        poll_api = Api(url, token, timeout_s) if url and leader else None
        # Data parallel: every rank talks to its own node's sidecar too (DESIGN §9), on a thread of its own.
        rank_api = Api(url, token, timeout_s) if url and dist is not None else None
        run = cls(name, config, tune, api, poll_api=poll_api, run_id=run_id, dist=dist, first_step=first_step,
                  oom_guard=oom_guard, capacity=capacity, flush_interval_s=flush_interval_s, rank_api=rank_api)
        if optimizer is not None:
            run.attach_optimizer(optimizer)
        run._begin()
        return run

    def __init__(self, name: str, config: Dict[str, Any], tune: Dict[str, Any], api: Optional[Api], *,
                 poll_api: Optional[Api] = None, run_id: Optional[str] = None, dist: Optional[DistSync] = None,
                 first_step: int = 0, oom_guard: bool = True, capacity: int = 10000, flush_interval_s: float = 0.5,
                 rank_api: Optional[Api] = None):
        """Use Run.open (trainpilot.start). api: the sidecar's, None without one; poll_api: the
        poller's (rank 0 only); run_id: the run to attach to, None to register one; dist: the
        ranks' DistSync when data parallel. Touches no network and starts no thread."""
        rank = dist.rank if dist is not None else None
        world_size = dist.world_size if dist is not None else None
        self.name = name
        self.rank, self.world_size = rank, world_size
        self._api = api
        self._run_id = run_id
        self.attached = run_id is not None  # attached to a run registered by `trainpilot run`
        # Rank 0 with a sidecar learns the id when it joins; the others have it now or from rank 0.
        self.id: Optional[str] = None if api is not None and not rank else run_id
        self.tune = tune
        # Newest config the sidecar has (kept current by the poller) and the one in effect here.
        self.config: Dict[str, Any] = dict(config)
        self.config_version = 0
        self.reason = ""
        self.applied: Dict[str, Any] = dict(config)
        self.applied_version = 0
        self._incoming: Optional[Tuple[int, Dict[str, Any], int]] = None  # (version, config, apply_step)
        self._step = self._first_step = first_step
        self._join: Optional[Callable[[], bool]] = None  # set by _begin() while not yet registered
        self._join_tries = 0
        # Without a sidecar nothing is ever sent: keep no backlog (and give the GC nothing to walk).
        # Steps wait for the join (rank 0's registration, another rank's node copy), so none is refused.
        self._sender = Sender(api, lambda: self.id if self._join is None else None, capacity=capacity if api else 1, interval_s=flush_interval_s,
                              rank=rank, world_size=world_size, produced=lambda: self._step - self._first_step,
                              on_version_hint=self._hint, before_cycle=self._before_send)
        self._q = self._sender.steps
        self._t0 = 0.0
        self._fetch_t0: Optional[float] = None
        self._wait = 0.0
        self._batch_samples: Optional[int] = None
        self._loss: Any = None
        self._extra: Optional[Dict[str, Any]] = None
        self._ctx = _Step(self)
        self.lr = LearningRate(float(config["learning_rate"]))
        self._accum_i = 0
        self.layout = 0  # bumped when batch_size or num_workers change: loaders rebuild on it
        self._oom_guard = oom_guard
        self._oom_ceiling: Optional[int] = None
        self.retry_batch = False
        self._dist = dist
        self._next_sync = first_step
        self._sum_dur = self._sum_wait = 0.0
        self._sum_samples = 0
        self._sum_from = first_step
        self._node = node_name() if dist is not None else None
        self._agent = (RankAgent(rank_api, lambda: self.id, rank=dist.rank, world_size=dist.world_size, node=self._node,
                                 copy_body=self._copy_body, nodes=lambda: dist.nodes)
                       if rank_api is not None and dist is not None else None)
        self._poller = (Poller(poll_api, lambda: self.id, lambda: self.config_version, self._offer)
                        if poll_api is not None else None)
        self.finished = False

    def _begin(self) -> None:
        """Joins the sidecar (rank 0), takes the shared config (every rank), starts the threads."""
        if self._api is not None and not self.rank:
            if not self._register():
                self._join = self._register  # the sender thread retries until the sidecar answers
        dist = self._dist
        if dist is not None:
            shared_id, version, shared = dist.share(self.id, self.config_version, self.config)
            dist.share_nodes(self._node)
            self.id = self.id or shared_id
            if self._agent is not None and self.rank:
                self._join = self._join_node  # the sender thread makes this node's copy of the run first
            self.config, self.config_version = shared, version
            self._take(version, shared, apply_step=self._first_step, ack=self.attached)
        if self._api is not None:
            self._sender.start()
            if self._poller is not None:
                self._poller.start()
        if self._agent is not None:
            self._agent.start()

    def _register(self) -> bool:
        """Registers or attaches once; True when done (or given up on a 4xx)."""
        api = self._api
        self._join_tries += 1
        try:
            j = join(api, run_id=self._run_id, name=self.name, config=self.applied, tune=self.tune)
        except Unreachable as e:
            if self._join_tries == 1:
                log.warning("trainpilot: sidecar at %s not reachable (%s); training goes on, the run "
                            "is registered when it answers", api.url, e)
            return False
        except HttpError as e:
            log.warning("trainpilot: the sidecar refused this run (%s); the job goes on without it", e)
            self._join = None
            return True
        self.tune = j.tune
        self.config, self.config_version = j.config, j.version
        if self._dist is None:  # data parallel: the next exchange hands it to every rank together
            self._take(j.version, j.config, apply_step=0, ack=self.attached)
        self.id = j.run_id
        self._join = None
        return True

    def _join_node(self) -> bool:
        if self._agent.ensure_copy():
            self._join = None
        return True

    def _copy_body(self) -> Dict[str, Any]:
        """What this node's sidecar makes its copy of the run with: rank 0's sidecar decides for the
        job, so a copy made by another rank only classifies (tune mode off)."""
        body: Dict[str, Any] = {"name": self.name, "config": dict(self.applied),
                                "tune": dict(self.tune, mode=self.tune.get("mode", "auto") if not self.rank else "off")}
        if self.applied_version > 0:
            body["config_version"] = self.applied_version
        return body

    def _summary(self) -> Tuple[float, ...]:
        """This rank's figures since its last summary (and its node's verdict), for the exchange."""
        out = (self._step - self._sum_from, self._sum_dur, self._sum_wait, self._sum_samples, self._step - 1,
               self._agent.verdict_code if self._agent is not None else -1)
        self._sum_dur = self._sum_wait = 0.0
        self._sum_samples = 0
        self._sum_from = self._step
        return out

    def _take(self, version: int, config: Dict[str, Any], apply_step: int, ack: bool) -> None:
        """The sidecar's config at start: in effect already when it equals the job's (acknowledged
        when ack: a version made by attaching is not applied until the job says so), else applied
        and acknowledged at the first safe point."""
        if all(self.applied.get(k) == v for k, v in config.items() if k in self.applied):
            self.applied_version = version
            if ack and version > 0:  # 0: no sidecar yet (the late join acknowledges)
                self._acknowledge()
        else:
            self._incoming = (version, config, apply_step)

    # -- measuring ------------------------------------------------------------------------
    def step(self, samples: Optional[int] = None) -> _Step:
        """`with run.step():` around one training step. samples: this step's batch size,
        when it differs from what the loader handed out."""
        ctx = self._ctx
        ctx.samples = samples
        return ctx

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

    def event(self, kind: str, step: Optional[int] = None, **data: Any) -> None:
        """Queues an event (oom, epoch_end, checkpoint, note, …) for the sender."""
        if self.world_size is not None:
            data.setdefault("rank", self.rank)
        self._sender.events.append({"kind": kind, "step": self._step if step is None else step, "ts": _now(), "data": data})

    @property
    def step_index(self) -> int:
        return self._step

    @property
    def stats(self) -> Dict[str, int]:
        """sent, dropped, rejected, events_sent, errors: what became of the reports."""
        return dict(self._sender.stats)

    # -- applying config ------------------------------------------------------------------
    def attach_optimizer(self, optimizer: Any) -> None:
        """The run sets this optimizer's learning rate from now on, keeping the ratios between
        its param groups (each group's lr scales with config.learning_rate)."""
        self.lr.attach(optimizer)

    @property
    def accum_steps(self) -> int:
        return int(self.applied.get("grad_accum_steps", 1))

    def should_step(self) -> bool:
        """Call once per micro-batch after backward: True when the optimizer should step now
        (every accum_steps micro-batches). Config changes wait for this boundary."""
        self._accum_i += 1
        if self._accum_i >= self.accum_steps:
            self._accum_i = 0
            return True
        return False

    def data_loader(self, dataset: Any, **kwargs: Any) -> Any:
        """A torch DataLoader that follows config.batch_size and num_workers (see loader.py)."""
        from .loader import TunedLoader

        return TunedLoader(self, dataset, **kwargs)

    def _hint(self, version: int) -> None:
        if version > self.config_version and self._poller is not None:
            self._poller.hint()

    def _before_send(self) -> None:
        if self._join is not None:
            self._join()

    def _offer(self, version: int, config: Dict[str, Any], reason: str) -> None:
        """A newer version from the sidecar (poller thread, or the start)."""
        self.config, self.config_version, self.reason = config, version, reason
        if self._dist is None:
            self._incoming = (version, config, 0)

    def _safe_point(self) -> None:
        if self._dist is not None and self._step >= self._next_sync:
            self._sync()
        inc = self._incoming
        if inc is not None and inc[0] > self.applied_version and self._step >= inc[2] and self._accum_i == 0:
            self._apply(inc[0], inc[1], ack=True)
        if self.lr.ramp is not None:
            self.lr.tick(self._step)

    def _sync(self) -> None:
        self._next_sync = self._step + self._dist.every
        agent = self._agent
        got = self._dist.exchange(self._step, (self.config_version, self.config, self.id), self._summary,
                                  agent.tables.append if agent is not None and not self.rank else None)
        if got is not None:
            version, config, run_id, apply_step = got
            if self.id is None:
                self.id = run_id
            self.config, self.config_version = config, version
            self._incoming = (version, config, apply_step)

    def _apply(self, version: int, config: Dict[str, Any], ack: bool) -> None:
        old, new = self.applied, dict(self.applied)
        new.update((k, config[k]) for k in ("batch_size", "learning_rate", "num_workers", "grad_accum_steps",
                                             "lr_warmup_steps") if k in config)
        if self._oom_ceiling is not None and new["batch_size"] >= self._oom_ceiling:
            # The sidecar's version arrived before it heard of the OOM: stay below the ceiling.
            new.update(backed_off(self._oom_ceiling, new["grad_accum_steps"], self.tune)
                       or {"batch_size": lowest_batch(self.tune)})
        if new["learning_rate"] != old["learning_rate"]:
            self.lr.change(float(new["learning_rate"]), int(new.get("lr_warmup_steps") or 0), self._step)
        if (new["batch_size"], new["num_workers"]) != (old["batch_size"], old["num_workers"]):
            self.layout += 1
        self.applied, self.applied_version = new, version
        if ack:
            self._acknowledge()

    def _acknowledge(self) -> None:
        a = self.applied
        self.event("config_applied", version=self.applied_version, batch_size=a["batch_size"],
                   num_workers=a["num_workers"], learning_rate=a["learning_rate"], grad_accum_steps=a["grad_accum_steps"])

    # -- out of memory --------------------------------------------------------------------
    def _on_error(self, exc: BaseException) -> bool:
        """True swallows exc: an OOM the run recovered from by halving the batch size."""
        if not self._oom_guard or not is_oom(exc):
            return False
        bs = int(self.applied["batch_size"])
        self.event("oom", batch_size=bs, message=str(exc).strip().splitlines()[0][:300] if str(exc) else type(exc).__name__)
        self.lr.zero_grad()
        self._accum_i = 0
        self._loss = self._extra = None
        free_memory()
        change = backed_off(bs, self.accum_steps, self.tune)
        if change is None or (self.world_size or 1) > 1:
            # Nothing left to back off to; or data parallel, where one rank cannot change its
            # batch alone (its collectives would no longer match the others'): let it raise.
            return False
        self._oom_ceiling = bs if self._oom_ceiling is None else min(self._oom_ceiling, bs)
        self._apply(self.applied_version, change, ack=False)
        self.retry_batch = True  # a TunedLoader hands the failed batch's samples out again
        log.warning("trainpilot: out of memory at batch size %d; going on with %d", bs, self.applied["batch_size"])
        return True

    # -- ending ---------------------------------------------------------------------------
    def finish(self, status: Optional[str] = "finished", timeout_s: float = 3.0, **data: Any) -> bool:
        """Reports the end (status "finished" or "failed"; None reports nothing) and sends what
        is queued, waiting at most timeout_s. True when everything reached the sidecar.
        Safe to call twice."""
        if self.finished:
            return True
        self.finished = True
        if status is not None and (status != "finished" or not self.rank):
            self.event(status, **data)  # rank 0 ends the run; any rank may report a failure
        ok = self._sender.flush(timeout_s) if self._sender.is_alive() else False
        self._sender.stop()
        if self._poller is not None:
            self._poller.stop()
        if self._agent is not None:
            self._agent.stop()
        return ok

    def __enter__(self) -> "Run":
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> bool:
        if exc_type is None:
            self.finish()
        else:
            self.finish("failed", error=f"{exc_type.__name__}: {exc}"[:300])
        return False
