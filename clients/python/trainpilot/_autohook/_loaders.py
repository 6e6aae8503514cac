"""What the zero-code hook may change on a built DataLoader, and when it may: num_workers (and
prefetch_factor, which torch ≥ 2.0 leaves None for a loader built without workers), set before
the loader's next iterator is made. Nothing here decides anything (_hook.py does)."""
from __future__ import annotations

import sys
from typing import Any, Callable

from ._torch_private import drop_persistent_workers


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
