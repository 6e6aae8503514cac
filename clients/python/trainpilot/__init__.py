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
import os
import sys
from typing import Any, Dict, List, Optional

from ._join import check_name, normalise_config, normalise_tune
from .distributed import SYNC_EVERY
from .oom import free_memory, is_oom
from .run import Run

__all__ = ["start", "is_active", "Run", "is_oom", "free_memory"]
__version__ = "0.1.0"

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
    run = Run.open(name, config, tune, url, token=token, run_id=run_id, optimizer=optimizer, first_step=first_step,
                   capacity=capacity, flush_interval_s=flush_interval_s, oom_guard=oom_guard,
                   sync_every=sync_every, timeout_s=timeout_s)
    _runs.append(run)
    _install_exit_hooks()
    return run


def is_active() -> bool:
    """True once this process has started a run with start() (finished or not): the job reports
    its own steps, and the zero-code hook of `trainpilot run` stands down."""
    return bool(_runs)


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
