"""Out of memory: recognising the errors (without importing torch), freeing what can be
freed, and the smaller config to go on with."""
from __future__ import annotations

import gc
import sys
from typing import Any, Dict, Optional

# Substrings of the RuntimeError messages PyTorch raises when an allocation fails:
#   CUDA:  "CUDA out of memory. Tried to allocate ..." (torch < 1.13; later a subclass, below)
#   MPS:   "MPS backend out of memory ..."; HIP: "HIP out of memory ..."
#   CPU:   "[enforce fail at alloc_cpu.cpp:...] . DefaultCPUAllocator: can't allocate memory: you tried
#           to allocate N bytes" (Linux) / "DefaultCPUAllocator: not enough memory" (Windows)
#   cuBLAS/cuDNN workspaces: "CUBLAS_STATUS_ALLOC_FAILED", "CUDNN_STATUS_ALLOC_FAILED"
_MESSAGES = ("out of memory", "can't allocate memory", "not enough memory", "_ALLOC_FAILED")


def is_oom(exc: BaseException) -> bool:
    """True for a CPU or accelerator out-of-memory error."""
    if isinstance(exc, MemoryError):
        return True
    # torch.cuda.OutOfMemoryError (torch >= 1.13) and torch.OutOfMemoryError (2.5+), by name so
    # that this module never imports torch.
    if type(exc).__name__ == "OutOfMemoryError":
        return True
    if isinstance(exc, RuntimeError):
        msg = str(exc)
        return any(m in msg for m in _MESSAGES)
    return False


def free_memory() -> None:
    """Collects garbage (the failed step's tensors) and returns cached accelerator memory."""
    gc.collect()
    torch = sys.modules.get("torch")
    if torch is None:
        return
    cuda = getattr(torch, "cuda", None)
    if cuda is not None and cuda.is_available() and cuda.is_initialized():
        cuda.empty_cache()
    mps = getattr(torch, "mps", None)
    if mps is not None and hasattr(mps, "empty_cache") and getattr(torch.backends, "mps", None) is not None \
            and torch.backends.mps.is_available():
        mps.empty_cache()


def lowest_batch(tune: Dict[str, Any]) -> int:
    return int(((tune.get("bounds") or {}).get("batch_size") or {}).get("min", 1))


def backed_off(batch_size: int, accum_steps: int, tune: Dict[str, Any]) -> Optional[Dict[str, int]]:
    """The change after running out of memory at batch_size: half the batch, not below the
    lowest bound; with keep_global_batch, more accumulation steps to keep the global batch.
    None when there is nothing left to give."""
    lowest = lowest_batch(tune)
    if batch_size <= lowest:
        return None
    change = {"batch_size": max(lowest, batch_size // 2)}
    if tune.get("keep_global_batch"):
        change["grad_accum_steps"] = -(-batch_size * accum_steps // change["batch_size"])
    return change
