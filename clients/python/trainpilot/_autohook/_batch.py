"""Batch size and learning rate on an unmodified script, when the user names them in `trainpilot
run --knobs` (TRAINPILOT_KNOBS; DESIGN §10). Nothing here decides when (_hook.py does: at an epoch
start of the training loader, like the workers).

The batch: a DataLoader built with batch_size has torch's own BatchSampler, whose batch_size is a
plain attribute read each time its __iter__ starts; setting it before the loader's next iterator
is made changes the epoch's batches (and len(loader)) without a new loader, for workers and
persistent workers too (their iterator's reset asks the same sampler). The learning rate: each
param group's lr (and initial_lr) scaled by the ratio of the sidecar's learning_rate to the one in
effect — the tuner already applied the optimizer's rule, linear for SGD, square root for Adam
(tuner/lr.ts) — and every scheduler on that optimizer gets its base_lrs scaled the same, so
StepLR, MultiStepLR, ExponentialLR, CosineAnnealingLR, LambdaLR… go on from the scaled values.

Refused, said once with the line: a scheduler keyed to a total step count (OneCycleLR, CyclicLR:
more samples per step would run the schedule out early, or off its cycle), an IterableDataset
(the stream decides its batches), a custom batch sampler (its own idea of a batch).
"""
from __future__ import annotations

import os
from typing import Any, Dict, List, Optional

# What --knobs may name; the loader's knobs are the default (pin_memory only ever on a CUDA job).
KNOWN = ("batch_size", "learning_rate", "num_workers", "prefetch_factor", "persistent_workers", "pin_memory")
DEFAULT = ["num_workers", "prefetch_factor", "persistent_workers", "pin_memory"]
# Schedulers whose schedule counts optimizer steps to a fixed total or cycle.
STEP_KEYED = ("OneCycleLR", "CyclicLR")


def requested(env: Optional[Dict[str, str]] = None) -> List[str]:
    """The knobs the user allowed (TRAINPILOT_KNOBS, from --knobs), known names only."""
    raw = (env if env is not None else os.environ).get("TRAINPILOT_KNOBS", "")
    names = [k.strip() for k in raw.split(",") if k.strip() in KNOWN]
    return names or list(DEFAULT)


def refusal(loader: Any, optimizer: Any, schedulers: Dict[Any, str], loader_where: str) -> Optional[str]:
    """Why the batch (and with it the learning rate) must stay as the script set it; None: it may change."""
    from torch.utils.data import BatchSampler, IterableDataset

    if loader is None:
        return "no DataLoader feeds the steps"
    if isinstance(loader.dataset, IterableDataset):
        return f"the DataLoader built at {loader_where} reads an IterableDataset (the stream decides its batches)"
    if loader.batch_size is None or type(loader.batch_sampler) is not BatchSampler:
        return f"the DataLoader built at {loader_where} has a custom batch sampler (its own idea of a batch)"
    for sched, where in list(schedulers.items()):
        if getattr(sched, "optimizer", None) is optimizer and type(sched).__name__ in STEP_KEYED:
            return (f"the {type(sched).__name__} built at {where} is keyed to a total number of steps "
                    "(a bigger batch would run its schedule out early)")
    return None


def set_batch(loader: Any, batch_size: int) -> None:
    """The loader's next epoch in batches of batch_size (its BatchSampler's, read at each __iter__);
    a loader with a sampler of its own (rebuilt differently at the same line) keeps its batches."""
    from torch.utils.data import BatchSampler

    if type(loader.batch_sampler) is BatchSampler:
        loader.batch_sampler.batch_size = int(batch_size)


def scale_lr(optimizer: Any, schedulers: Dict[Any, str], factor: float) -> None:
    """Every param group's lr (and initial_lr), and the base_lrs of every scheduler on it, × factor."""
    if not factor > 0 or factor == 1.0:
        return
    for g in optimizer.param_groups:
        g["lr"] = g["lr"] * factor
        if "initial_lr" in g:
            g["initial_lr"] = g["initial_lr"] * factor
    for sched in list(schedulers):
        if getattr(sched, "optimizer", None) is optimizer and isinstance(getattr(sched, "base_lrs", None), list):
            sched.base_lrs = [b * factor for b in sched.base_lrs]
