"""The CUDA caching allocator's figures for the sidecar's advice (docs/gpu.md): when PyTorch
reserves far more than its tensors hold and memory runs short, the sidecar advises
PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True, with these figures.

Read with the public torch.cuda.memory_stats() (keys as PyTorch documents them:
reserved_bytes.all.current/peak, allocated_bytes.all.current/peak, num_alloc_retries, num_ooms),
on the sender thread, never on the training thread. torch is never imported here: only a job that
already uses CUDA is asked. The device is the one whose allocator reserves the most (the sender
thread's current device need not be the job's).
"""
import sys
import time
from typing import Any, Dict

# How often the figures ride on a step report: they change slowly, and each read walks the allocator.
EVERY_S = 10.0

_FIELDS = (
    ("cuda_reserved_bytes", "reserved_bytes.all.current"),
    ("cuda_allocated_bytes", "allocated_bytes.all.current"),
    ("cuda_reserved_peak_bytes", "reserved_bytes.all.peak"),
    ("cuda_allocated_peak_bytes", "allocated_bytes.all.peak"),
    ("cuda_alloc_retries", "num_alloc_retries"),
    ("cuda_ooms", "num_ooms"),
)


def read() -> Dict[str, int]:
    """The step-report fields (cuda_reserved_bytes, …) of the busiest CUDA device; {} without CUDA in use."""
    torch = sys.modules.get("torch")
    if torch is None:
        return {}
    try:
        cuda = torch.cuda
        if not cuda.is_initialized():
            return {}
        stats = [cuda.memory_stats(d) for d in range(cuda.device_count())]
    except Exception:  # a torch without CUDA, a driver gone: no figures, never an error for the job
        return {}
    stats = [s for s in stats if s]
    if not stats:
        return {}
    busiest = max(stats, key=lambda s: s.get("reserved_bytes.all.current", 0))
    return {ours: int(busiest[theirs]) for ours, theirs in _FIELDS if isinstance(busiest.get(theirs), int) and busiest[theirs] >= 0}


class Every:
    """read() at most every EVERY_S seconds; {} between."""

    def __init__(self, every_s: float = EVERY_S, clock: Any = time.monotonic) -> None:
        self._every = every_s
        self._clock = clock
        self._next = 0.0

    def __call__(self) -> Dict[str, int]:
        now = self._clock()
        if now < self._next:
            return {}
        self._next = now + self._every
        return read()
