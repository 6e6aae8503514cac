"""What the zero-code hook may change on a built DataLoader, and when it may: num_workers (and
prefetch_factor, which torch ≥ 2.0 leaves None for a loader built without workers), and the
loader's other knobs — prefetch_factor, persistent_workers, pin_memory (issue 22) — set before the
loader's next iterator is made. Nothing here decides anything (_hook.py does).

What torch refuses is never set: prefetch_factor and persistent_workers without workers (its
DataLoader raises on both), pin_memory where CUDA is not available (torch warns and ignores it).
Workers kept by persistent_workers hold the old prefetch_factor and pin_memory (their iterator
reads both once, when it is made): those changes shut them down first, as a workers change does."""
from __future__ import annotations

import sys
from typing import Any, Callable, Dict, Optional

from ._torch_private import drop_persistent_workers, set_persistent_workers

LOADER_KNOBS = ("prefetch_factor", "persistent_workers", "pin_memory")


def start_method_forks(loader: Any) -> bool:
    """Whether new workers of this loader would start by fork (what an unguarded script survives),
    read without fixing the process's start method as multiprocessing.get_start_method() would."""
    ctx = getattr(loader, "multiprocessing_context", None)
    if ctx is not None:
        return ctx.get_start_method() == "fork"
    import multiprocessing

    method = multiprocessing.get_start_method(allow_none=True)
    if method is not None:
        return method == "fork"
    return sys.platform.startswith("linux") and sys.version_info < (3, 14)


def set_workers(loader: Any, workers: int) -> Callable[[], None]:
    """num_workers on a built loader, before its next iterator is made; returns the undo."""
    before = loader.num_workers, getattr(loader, "prefetch_factor", None)
    drop_persistent_workers(loader)  # they outlive the epoch: the next iterator starts the new count
    loader.num_workers = workers
    if workers > 0 and before[1] is None and hasattr(loader, "prefetch_factor"):
        loader.prefetch_factor = 2  # torch ≥ 2.0 leaves it None without workers; 2 is its default

    def undo() -> None:
        loader.num_workers = before[0]
        if hasattr(loader, "prefetch_factor"):
            loader.prefetch_factor = before[1]

    return undo


def loader_knobs(loader: Any, cuda: bool) -> Dict[str, Any]:
    """The loader's knobs as the job built it, for the config it attaches with: prefetch_factor and
    persistent_workers always (torch's 2 where it leaves prefetch_factor None), pin_memory on a CUDA
    job only."""
    out: Dict[str, Any] = {"prefetch_factor": int(getattr(loader, "prefetch_factor", None) or 2),
                           "persistent_workers": bool(getattr(loader, "persistent_workers", False))}
    if cuda:
        out["pin_memory"] = bool(getattr(loader, "pin_memory", False))
    return out


def refused(knob: str, value: Any, workers: int, cuda: bool) -> Optional[str]:
    """Why torch would refuse this knob on this loader, or None: it may be set."""
    if knob in ("prefetch_factor", "persistent_workers") and workers == 0 and value not in (2, False, None):
        return f"{knob} needs workers (torch raises without them)"
    if knob == "prefetch_factor" and not (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
        return f"prefetch_factor {value!r} is not a whole number ≥ 1"
    if knob in ("persistent_workers", "pin_memory") and not isinstance(value, bool):
        return f"{knob} {value!r} is not true or false"
    if knob == "pin_memory" and value and not cuda:
        return "pin_memory on a job without CUDA (torch ignores it)"
    return None


def set_loader_knobs(loader: Any, wanted: Dict[str, Any], cuda: bool) -> Optional[Callable[[], None]]:
    """The loader's other knobs as the sidecar asked, before its next iterator; returns the undo,
    or None when nothing changed. With no workers, prefetch_factor and persistent_workers wait
    (torch refuses them then)."""
    workers = loader.num_workers
    todo = {k: v for k, v in wanted.items() if k in LOADER_KNOBS and getattr(loader, k, None) != v
            and refused(k, v, workers, cuda) is None}
    if workers == 0:
        todo.pop("prefetch_factor", None)
        todo.pop("persistent_workers", None)
    if not todo:
        return None
    before = {k: getattr(loader, k, None) for k in todo}
    if "prefetch_factor" in todo or "pin_memory" in todo:
        drop_persistent_workers(loader)  # kept workers read both once, when their iterator was made
    for k, v in todo.items():
        if k == "persistent_workers":
            set_persistent_workers(loader, v)
        else:
            setattr(loader, k, v)

    def undo() -> None:
        for k, v in before.items():
            if k == "persistent_workers":
                set_persistent_workers(loader, bool(v))
            else:
                setattr(loader, k, v)

    return undo


def batch_bytes(batch: Any) -> Optional[int]:
    """Bytes of the tensors in one batch (a tensor, or one level of tuple, list or mapping); None
    when it holds none (the budget then counts workers alone)."""
    items = batch.values() if isinstance(batch, dict) else batch if isinstance(batch, (tuple, list)) else (batch,)
    total = 0
    for x in list(items)[:64]:
        n = getattr(x, "nelement", None)
        size = getattr(x, "element_size", None)
        if n is not None and size is not None:
            total += int(n()) * int(size())
    return total or None
