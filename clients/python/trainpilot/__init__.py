"""trainpilot client: report a training job's steps to the sidecar and follow its config.

    run = trainpilot.start("resnet-a", config={"batch_size": 64, "learning_rate": 1e-3, "num_workers": 2})
    run.attach_optimizer(opt)
    for epoch in range(epochs):
        for x, y in run.data_loader(dataset, shuffle=True):   # rebuilt when batch size/workers change
            with run.step():
                loss = loss_fn(model(x), y) / run.accum_steps
                loss.backward()
                if run.should_step():
                    opt.step(); opt.zero_grad()
                run.log(loss=loss)
    run.finish()

Standard library only. The training thread never waits on the network (DESIGN §8).
"""
from __future__ import annotations

import atexit
import logging
import os
import sys
from typing import Any, Dict, List, Optional

from ._http import Api, HttpError, Unreachable
from ._join import check_name, join, normalise_config, normalise_tune
from ._poller import Poller
from .distributed import SYNC_EVERY, DistSync, active_group
from .oom import free_memory, is_oom
from .run import Run

__all__ = ["start", "Run", "is_oom", "free_memory"]
__version__ = "0.1.0"

log = logging.getLogger("trainpilot")
_runs: List[Run] = []
_uncaught: List[BaseException] = []


def start(name: str, config: Dict[str, Any], tune: Optional[Dict[str, Any]] = None, url: Optional[str] = None, *,
          token: Optional[str] = None, run_id: Optional[str] = None, optimizer: Any = None, first_step: int = 0,
          capacity: int = 10000, flush_interval_s: float = 0.5, oom_guard: bool = True,
          sync_every: int = SYNC_EVERY, timeout_s: float = 3.0) -> Run:
    """Registers the run with the sidecar at url (default $TRAINPILOT_URL), or attaches to
    $TRAINPILOT_RUN_ID, and returns its handle. Without a url the handle measures and applies
    nothing new, but the same code runs. A sidecar that does not answer within timeout_s is
    joined later, in the background.

    Data parallel (torch.distributed initialised): call on every rank; rank 0 talks to the
    sidecar and every rank reports its own steps."""
    check_name(name)
    config = normalise_config(config)
    tune = normalise_tune(tune, optimizer)
    url = url or os.environ.get("TRAINPILOT_URL") or None
    token = token or os.environ.get("TRAINPILOT_TOKEN") or None
    run_id = run_id or os.environ.get("TRAINPILOT_RUN_ID") or None
    group = active_group()
    sync = DistSync(group, sync_every) if group is not None else None
    rank = sync.rank if sync else None
    world = sync.world_size if sync else None

    api = Api(url, token, timeout_s) if url else None
    run = Run(name, config, tune, api, first_step=first_step, rank=rank, world_size=world,
              oom_guard=oom_guard, capacity=capacity, flush_interval_s=flush_interval_s)
    run.attached = run_id is not None
    if optimizer is not None:
        run.attach_optimizer(optimizer)
    leader = not rank
    if api is not None and leader:
        joiner = _Joiner(run, api, run_id, data_parallel=sync is not None)
        if not joiner():
            run._join = joiner  # the sender thread retries until the sidecar answers
        run._poller = Poller(Api(url, token, timeout_s), lambda: run.id, lambda: run.config_version, run._offer)
    elif run_id is not None:
        run.id = run_id
    if sync is not None:
        run._dist = sync
        shared_id, version, shared = sync.share(run.id, run.config_version, run.config)
        run.id = run.id or shared_id
        run.config, run.config_version = shared, version
        _take(run, version, shared, apply_step=first_step, ack=run_id is not None)
    if api is not None:
        run._sender.start()
        if run._poller is not None:
            run._poller.start()
    _runs.append(run)
    _install_exit_hooks()
    return run


def _take(run: Run, version: int, config: Dict[str, Any], apply_step: int, ack: bool) -> None:
    """The sidecar's config at start: in effect already when it equals the job's (acknowledged
    when ack: a version made by attaching is not applied until the job says so), else applied
    and acknowledged at the first safe point."""
    if all(run.applied.get(k) == v for k, v in config.items() if k in run.applied):
        run.applied_version = version
        if ack and version > 0:  # 0: no sidecar yet (the late join acknowledges)
            run._acknowledge()
    else:
        run._incoming = (version, config, apply_step)


class _Joiner:
    """Registers or attaches once; True when done (or given up on a 4xx)."""

    def __init__(self, run: Run, api: Api, run_id: Optional[str], data_parallel: bool):
        self.run, self.api, self.run_id, self.dp = run, api, run_id, data_parallel
        self.tries = 0

    def __call__(self) -> bool:
        run = self.run
        self.tries += 1
        try:
            j = join(self.api, run_id=self.run_id, name=run.name, config=run.applied, tune=run.tune)
        except Unreachable as e:
            if self.tries == 1:
                log.warning("trainpilot: sidecar at %s not reachable (%s); training goes on, the run "
                            "is registered when it answers", self.api.url, e)
            return False
        except HttpError as e:
            log.warning("trainpilot: the sidecar refused this run (%s); the job goes on without it", e)
            run._join = None
            return True
        run.tune = j.tune
        run.config, run.config_version = j.config, j.version
        if not self.dp:  # data parallel: the next exchange hands it to every rank together
            _take(run, j.version, j.config, apply_step=0, ack=self.run_id is not None)
        run.id = j.run_id
        run._join = None
        return True


def _install_exit_hooks() -> None:
    if getattr(_install_exit_hooks, "done", False):
        return
    _install_exit_hooks.done = True  # type: ignore[attr-defined]
    previous = sys.excepthook

    def hook(exc_type: Any, exc: BaseException, tb: Any) -> None:
        _uncaught.append(exc)
        previous(exc_type, exc, tb)

    sys.excepthook = hook
    atexit.register(_at_exit)


def _at_exit() -> None:
    """Runs that the script did not finish: report how it ended, send what is left (bounded).
    A clean exit of an attached run is left for `trainpilot run` to report: it sees the exit
    code (a sys.exit(1) reaches no hook here)."""
    for run in _runs:
        if run.finished:
            continue
        if _uncaught:
            e = _uncaught[-1]
            run.finish("failed", error=f"{type(e).__name__}: {e}"[:300])
        else:
            run.finish(None if run.attached else "finished")
