"""The one module of trainpilot that touches torch's private names: where, and why.

torch has no public way to see each batch a DataLoader hands out, nor to make a loader with
persistent workers start new ones with another count, and the zero-code hook needs both (DESIGN
§10). So it reaches into torch here, and only here: tests/test_structure.py lets this module,
and no other, write another object's private attribute.

  torch.utils.data.dataloader._BaseDataLoaderIter
      the base class of both loader iterators (in-process and multi-process, torch 1.13 to 2.x):
      its __next__ hands out every batch, so the wrapper that times the wait for each batch is
      put there (_torch.py, through iterator_class()).
  DataLoader._iterator and _MultiProcessingDataLoaderIter._shutdown_workers()
      a loader with persistent_workers keeps its iterator, workers and all, in `_iterator`
      between epochs, and DataLoader.__iter__ makes a new one only when that is None. To start
      the next epoch with another number of workers, drop_persistent_workers() shuts the old
      ones down and clears it (_loaders.py).

  DataLoader.__dict__["persistent_workers"]
      DataLoader.__setattr__ refuses persistent_workers once the loader is built (with
      batch_size, sampler…), though __iter__ reads it afresh each time: set_persistent_workers()
      writes it past that guard, after drop_persistent_workers() when it goes off (_loaders.py).

  torch.optim.lr_scheduler._LRScheduler
      torch 1.13's name for the base class of the LR schedulers (2.x: LRScheduler, public, with
      _LRScheduler kept as an alias): its __init__ is where the hook learns which scheduler
      drives which optimizer, to scale its base_lrs with the learning rate (_batch.py).

A torch without these names fails here, inside the hook's guard: the hook turns itself off and
the job runs as it would without trainpilot.
"""
from __future__ import annotations

from typing import Any


def iterator_class() -> type:
    """The class whose __next__ every DataLoader iterator uses to hand out a batch."""
    from torch.utils.data.dataloader import _BaseDataLoaderIter

    return _BaseDataLoaderIter


def drop_persistent_workers(loader: Any) -> None:
    """The workers a persistent_workers loader kept from its last epoch, shut down, so that its
    next iterator is a new one (DataLoader.__iter__ makes one when _iterator is None)."""
    it = getattr(loader, "_iterator", None)
    if loader.persistent_workers and it is not None:
        it._shutdown_workers()
        loader._iterator = None


def set_persistent_workers(loader: Any, on: bool) -> None:
    """persistent_workers on a built loader, read by its next __iter__ (workers > 0 only: the
    caller checks). Going off, the kept workers are shut down first."""
    if not on:
        drop_persistent_workers(loader)
    loader.__dict__["persistent_workers"] = bool(on)


def scheduler_class() -> type:
    """The base class every LR scheduler but ReduceLROnPlateau derives from (torch 1.13 to 2.x)."""
    from torch.optim import lr_scheduler

    return getattr(lr_scheduler, "LRScheduler", None) or lr_scheduler._LRScheduler
