"""What the zero-code hook reads of the job itself, at its first optimizer step: whether it uses
the client (then the hook stands down), its rank, the config it started with — read from the
loader that feeds the steps and from the optimizer — and the line that tells the sidecar (and
the person reading its log) what the hook tunes and where the rest is changed.
"""
from __future__ import annotations

import os
import sys
from typing import Any, Dict, List, Optional, Tuple

from ._clock import LoaderInfo, Site


def client_active() -> bool:
    """The job itself uses the trainpilot client (it reports its steps; the hook must not): the
    job's `trainpilot`, not the private copy the hook runs from (hook/sitecustomize.py)."""
    is_active = getattr(sys.modules.get("trainpilot"), "is_active", None)
    return bool(is_active is not None and is_active())


def distributed(torch: Any) -> Tuple[Optional[int], Optional[int]]:
    """(rank, world_size) of a data-parallel job, from torch.distributed or the environment."""
    try:
        d = torch.distributed
        if d.is_available() and d.is_initialized() and d.get_world_size() > 1:
            return d.get_rank(), d.get_world_size()
    except Exception:
        pass
    try:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world > 1:
            return int(os.environ.get("RANK", "0")), world
    except ValueError:
        pass
    return None, None


def learning_rate(optimizer: Any) -> float:
    try:
        return float(optimizer.param_groups[0]["lr"])
    except Exception:
        return 0.0


def started_with(info: Optional[LoaderInfo], optimizer: Any) -> Dict[str, Any]:
    """The job's own config: the batches of its first step (several: gradient accumulation)."""
    batch = info.batch_size if info is not None and info.batch_size else (
        max(1, round(info.samples / info.batches)) if info is not None and info.batches else 1)
    lr = learning_rate(optimizer)
    return {"batch_size": int(batch), "learning_rate": lr if 0 < lr <= 1000 else 0.001,
            "num_workers": int(info.workers) if info is not None else 0,
            "grad_accum_steps": max(1, info.batches) if info is not None else 1}


def attach_reason(site: Optional[Site], own: Dict[str, Any], optimizer: Any, opt_where: str, knobs: List[str]) -> str:
    loader_text = (f"the DataLoader built at {site.where} (batch size {own['batch_size']}, "
                   f"{own['num_workers']} workers)") if site is not None else "no DataLoader (samples unknown)"
    return (f"zero-code hook: {loader_text} feeds the steps of {type(optimizer).__name__} built at {opt_where} "
            f"(lr {learning_rate(optimizer):g}); " + (f"{', '.join(knobs)} tuned at epoch boundaries; " if knobs else
                                                     f"nothing is tuned ({site.why_not if site else 'no loader'}); ")
            + ("the learning rate follows the batch by the optimizer's rule" if "batch_size" in knobs else
               "batch size and learning rate are advised only: change them at those lines"))
