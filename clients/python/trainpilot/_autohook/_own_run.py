"""A run of the hook's own (DESIGN §10, issue 25): where `trainpilot run` cannot wrap the job (a
pod's trainer container, a DaemonSet's node, a launcher of its own), the hook on PYTHONPATH
(`trainpilot hook-path`) with TRAINPILOT_URL set and no TRAINPILOT_RUN_ID does what
`trainpilot run` would have done around it:
  - registers the run at the job's first optimizer step (its config is known then), named for the
    script ($TRAINPILOT_NAME, else the script's file name, as `trainpilot run` names it), with
    this process's pid and the tune mode and knobs of $TRAINPILOT_TUNE and $TRAINPILOT_KNOBS
    (`trainpilot run --tune` and `--knobs` set the same variables; the knobs are read by _batch.py);
  - in a data-parallel job, rank 0 registers and every rank takes its run id through the job's
    own torch.distributed, once, at the first step (DESIGN §9: one run per job; each rank tells
    its own node's sidecar, which makes its copy of the run where it lacks it, _ranks.py);
  - when the job ends records `finished` (exit code 0) or `failed` with the exit code it can see:
    sys.exit's argument, 1 for an uncaught exception (sys.excepthook), 130 for an uncaught
    KeyboardInterrupt. A job that leaves by os._exit or a signal records nothing here; the
    sidecar sees its pid gone.
Everything in it is fail-open: what cannot be read from the environment falls back to what
`trainpilot run` would use, with one line on stderr.
"""
from __future__ import annotations

import logging
import os
import re
import sys
import threading
from typing import Any, Callable, Dict, List, Optional, Tuple

from .._http import Api, HttpError
from .._join import NAME, Joined
from .._link import TIMEOUT_S, JoinRequest, Link
from .._ranks import RankAgent, node_name

log = logging.getLogger("trainpilot")

TUNE_MODES = ("auto", "advise", "off")  # domain/config.ts TUNE_MODES, as `trainpilot run --tune`
_INTERPRETER = re.compile(r"^python(\d+(\.\d+)*)?$")
_NOT_IN_NAME = re.compile(r"[^A-Za-z0-9._:@+-]")


def wanted(env: Dict[str, str]) -> bool:
    """The hook registers a run of its own: a sidecar named, and no run registered for the job."""
    return bool(env.get("TRAINPILOT_URL")) and not env.get("TRAINPILOT_RUN_ID")


def script_name(argv: List[str]) -> str:
    """`python train.py` → train.py; `python -m pkg.mod` → pkg.mod (argv[0] is its path then);
    made to fit the API's name pattern, as `trainpilot run` does (cli/run.ts defaultName)."""
    base = os.path.basename(argv[0]) if argv and argv[0] not in ("", "-c", "-") else "python"
    clean = _NOT_IN_NAME.sub("-", base).lstrip("-._:@+")[:128]
    return clean if clean and not _INTERPRETER.match(clean) else "python"


class OwnRun:
    """What the hook registers its run with, and how the job ended."""

    def __init__(self, env: Dict[str, str], argv: List[str]):
        name = env.get("TRAINPILOT_NAME", "").strip()
        if name and not NAME.match(name):
            log.warning("trainpilot: TRAINPILOT_NAME %r is not a run name; using the script's", name)
            name = ""
        self.name = name or script_name(argv)
        mode = env.get("TRAINPILOT_TUNE", "").strip().lower() or "auto"
        if mode not in TUNE_MODES:
            log.warning("trainpilot: TRAINPILOT_TUNE %r is not one of %s; tuning auto", mode, ", ".join(TUNE_MODES))
            mode = "auto"
        self.mode = mode
        self.exit_code: Optional[int] = None  # from sys.exit on the main thread
        self.error: Optional[str] = None  # an uncaught exception, from sys.excepthook
        self.interrupted = False
        self.agent: Optional[RankAgent] = None  # data parallel: this rank's line to its node's sidecar

    # -- the first step ----------------------------------------------------------------------
    def begin(self, link: Link, torch: Any, request: Callable[[], JoinRequest], *, rank: Optional[int],
              world_size: Optional[int], url: str, token: Optional[str], on_joined: Callable[[Joined], None],
              on_refused: Callable[[HttpError], None]) -> None:
        """Rank 0 (or a job of one process) registers the run; data parallel, it tries once now
        (bounded by the Api's timeout), so the other ranks get its id in the collective that
        follows, and each rank tells its own node's sidecar that it runs there."""
        lead = rank is None or rank == 0
        if lead:
            link.join(request, attach_to=None, now=rank is not None, on_joined=on_joined, on_refused=on_refused)
        if rank is None or world_size is None:
            return
        run_id = share_run_id(torch, link.id)
        if not lead and run_id is not None:
            link.learn(run_id, link.newest.version, link.newest.config)
        if run_id is None:
            return  # rank 0's sidecar did not answer in time: the other ranks go unreported

        def copy_body() -> Dict[str, Any]:
            # A copy made by another rank's node only classifies: rank 0's sidecar decides (§9).
            r = request()
            return {"name": r.name, "config": dict(r.config), "tune": dict(r.tune, mode="off")}

        self.agent = RankAgent(Api(url, token, TIMEOUT_S), lambda: link.id, rank=rank, world_size=world_size,
                               node=node_name(), copy_body=copy_body, nodes=lambda: [])
        if not lead:
            link.wait_for(self.agent.ensure_copy)  # reports wait for this node's copy of the run
        self.agent.start()

    def end(self, link: Link, step: int, rank: Optional[int]) -> None:
        """At exit, before the link's last flush: rank 0 ends the run; any rank reports a failure."""
        kind, data = self.outcome()
        if kind == "failed" or not rank:
            link.event(kind, step, **data)
        if self.agent is not None:
            self.agent.stop()

    # -- how the job ends ---------------------------------------------------------------------
    def watch_exit(self) -> None:
        """Wraps sys.exit and chains sys.excepthook to see the exit code; both behave as before."""
        real_exit, real_hook = sys.exit, sys.excepthook

        def exit(status: Any = None) -> None:
            if threading.current_thread() is threading.main_thread():
                self.exit_code = exit_code_of(status)
            real_exit(status)

        def excepthook(kind: Any, value: Any, tb: Any) -> None:
            try:
                self.interrupted = isinstance(kind, type) and issubclass(kind, KeyboardInterrupt)
                self.error = f"{getattr(kind, '__name__', kind)}: {value}"[:300]
            except Exception:
                pass
            real_hook(kind, value, tb)

        exit.__doc__, exit.__wrapped__ = real_exit.__doc__, real_exit  # type: ignore[attr-defined]
        sys.exit, sys.excepthook = exit, excepthook

    def outcome(self) -> Tuple[str, Dict[str, Any]]:
        """The run's last event: (`finished` | `failed`, its data), as `trainpilot run` sends it."""
        if self.error is not None:
            code = 130 if self.interrupted else 1
            data: Dict[str, Any] = {"exit_code": code, "error": self.error}
            if self.interrupted:
                data["signal"] = "SIGINT"
        else:
            code = self.exit_code if self.exit_code is not None else 0
            data = {"exit_code": code}
        data["by"] = "zero-code hook"
        return ("finished" if code == 0 else "failed"), data


def exit_code_of(status: Any) -> int:
    """Python's own rule (sys.exit): None is 0, an int is itself, anything else is printed and 1."""
    if status is None:
        return 0
    if isinstance(status, int) and not isinstance(status, bool):
        return status & 0xFF
    return 1 if not isinstance(status, bool) else int(status)


def share_run_id(torch: Any, run_id: Optional[str]) -> Optional[str]:
    """Collective, every rank at its first step: rank 0's run id (DESIGN §9), through the job's own
    process group; the run id as it is when there is no group (a rank other than 0 has none)."""
    try:
        d = torch.distributed
        if not (d.is_available() and d.is_initialized() and d.get_world_size() > 1):
            return run_id
        obj = [run_id if d.get_rank() == 0 else None]
        d.broadcast_object_list(obj, src=0)  # on NCCL through the rank's current CUDA device
        return obj[0]
    except Exception as e:  # the job's collective must not fail for us; this rank goes unreported
        log.warning("trainpilot: could not share the run id across ranks (%s: %s)", type(e).__name__, e)
        return run_id

