"""The zero-code hook's state: the loaders it has seen (by where they were built), the one that
feeds the optimizer steps, the workers the sidecar asked for and when they apply, and the one
way it turns itself off.

What it may change: a loader's num_workers (and prefetch_factor, which torch ≥ 2.0 leaves None
for a loader built without workers), when the job next starts iterating a loader built where the
training loader was, never mid-epoch. A loader over an IterableDataset (each worker would hold a
replica of the stream) and a loader without workers in a process that starts its children by
spawn or forkserver (the script may lack the __main__ guard and a picklable dataset) keep theirs.
Batch size and learning rate are the script's: a version that changes them is acknowledged with
`not_applied`, and the attach names the lines to change them at.
"""
from __future__ import annotations

import logging
import os
import sys
import traceback
import weakref
from typing import Any, Callable, Dict, Optional

from .._join import normalise_tune
from ._clock import Clock, LoaderInfo, Site
from ._link import Link
from ._loaders import set_workers, start_method_forks
from ._torch import Patches, worker_process

log = logging.getLogger("trainpilot")


def client_active() -> bool:
    """The job itself uses the trainpilot client (it reports its steps; the hook must not)."""
    return bool(getattr(sys.modules.get("trainpilot"), "_runs", None))


def distributed(torch: Any) -> "tuple[Optional[int], Optional[int]]":
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


class Hook:
    def __init__(self, torch: Any, url: str, token: Optional[str], run_id: str):
        self.on = True
        self.torch = torch
        self.pid = os.getpid()
        self.clock = Clock(lambda: self.link.applied_version, self._first_step, client_active)
        self.link = Link(url, token, run_id, "job", produced=lambda: self.clock.step)
        self.link.on_offer = self._offered
        self.loaders: "weakref.WeakKeyDictionary[Any, LoaderInfo]" = weakref.WeakKeyDictionary()
        self.sites: Dict[str, Site] = {}
        self.optimizers: "weakref.WeakKeyDictionary[Any, str]" = weakref.WeakKeyDictionary()
        self.started_with: Optional[Dict[str, Any]] = None  # the job's own config, at its first step
        self.train: Optional[Site] = None  # the site of the loader feeding the optimizer steps
        self.patches = Patches(torch, self)

    # -- seen through the patches -------------------------------------------------------------
    def loader_built(self, loader: Any, where: str) -> None:
        site = self.sites.get(where)
        if site is None:
            from torch.utils.data import IterableDataset

            if isinstance(loader.dataset, IterableDataset):
                site = Site(where, False, "an IterableDataset (each worker would hold its own copy of the stream)")
            elif loader.num_workers == 0 and not start_method_forks(loader):
                site = Site(where, False, "new workers would start by spawn, which a script may not survive")
            else:
                site = Site(where, True, "")
            self.sites[where] = site
        self.loaders[loader] = LoaderInfo(site, loader.num_workers, loader.batch_size)

    def info_of(self, loader: Any) -> LoaderInfo:
        info = self.loaders.get(loader)
        if info is None:  # built before the hook was there
            self.loader_built(loader, f"{type(loader).__name__} built before torch finished importing")
            info = self.loaders[loader]
        return info

    def optimizer_built(self, optimizer: Any, where: str) -> None:
        self.optimizers[optimizer] = where

    def before_iter(self, loader: Any) -> Optional[Callable[[], None]]:
        """The safe point. Returns how to undo what it changed, when it changed the loader."""
        site = self.info_of(loader).site
        # Left in place when taken (the poller may put a newer one there meanwhile): the applied
        # version moves past it instead.
        pending = self.link.pending
        if pending is not None and site is self.train and pending[0] > self.link.applied_version:
            self._take(pending[0], pending[1], site, loader)
        if site.tunable and site.workers is not None and loader.num_workers != site.workers:
            return set_workers(loader, site.workers)
        return None

    def epoch_end(self, info: LoaderInfo) -> None:
        site = info.site
        if site is self.train:
            site.epochs += 1
            self.link.event("epoch_end", self.clock.step, epoch=site.epochs)

    # -- the sidecar's config -----------------------------------------------------------------
    def _take(self, version: int, config: Dict[str, Any], site: Site, loader: Any) -> None:
        own = self.started_with or {}
        wanted = config.get("num_workers")
        not_applied = [k for k in ("batch_size", "learning_rate", "grad_accum_steps")
                       if k in config and k in own and config[k] != own[k]]
        if site.tunable and isinstance(wanted, int) and wanted >= 0:
            site.workers = wanted
        elif wanted is not None and wanted != loader.num_workers:
            not_applied.append("num_workers")
        self.link.applied_version = version
        in_effect = dict(own, num_workers=site.workers if site.workers is not None else loader.num_workers)
        self.link.acknowledge(version, in_effect, not_applied, self.clock.step)

    def _offered(self, version: int, config: Dict[str, Any]) -> None:
        """Poller thread. A run whose loader cannot change (or has none) acknowledges at once."""
        train = self.train
        if self.started_with is not None and (train is None or not train.tunable):
            own = self.started_with
            self.link.applied_version = version
            self.link.acknowledge(version, own, sorted(k for k in own if k in config and config[k] != own[k]),
                                  self.clock.step)

    # -- the first step -----------------------------------------------------------------------
    def _first_step(self, info: Optional[LoaderInfo], optimizer: Any) -> Optional[Any]:
        """The first optimizer step: attach and start the threads. None: this process does not
        report (a DataLoader worker, a process forked from the job)."""
        if os.getpid() != self.pid or worker_process(self.torch):
            return None
        rank, world = distributed(self.torch)
        site = info.site if info is not None else None
        self.train = site
        batch = info.batch_size if info is not None and info.batch_size else (
            max(1, round(info.samples / info.batches)) if info is not None and info.batches else 1)
        try:
            lr = float(optimizer.param_groups[0]["lr"])
        except Exception:
            lr = 0.0
        own = {"batch_size": int(batch), "learning_rate": lr if 0 < lr <= 1000 else 0.001,
               "num_workers": int(info.workers) if info is not None else 0,
               "grad_accum_steps": max(1, info.batches) if info is not None else 1}
        self.started_with = own
        knobs = ["num_workers"] if site is not None and site.tunable else []
        opt_where = self.optimizers.get(optimizer, "?")
        loader_text = (f"the DataLoader built at {site.where} (batch size {own['batch_size']}, "
                       f"{own['num_workers']} workers)") if site is not None else "no DataLoader (samples unknown)"
        reason = (f"zero-code hook: {loader_text} feeds the steps of {type(optimizer).__name__} built at {opt_where} "
                  f"(lr {lr:g}); " + ("num_workers is tuned at epoch boundaries; " if knobs else
                                      f"nothing is tuned ({site.why_not if site else 'no loader'}); ")
                  + "batch size and learning rate are advised only: change them at those lines")
        lead = rank is None or rank == 0
        self.link.start(rank=rank, world_size=world, config=own if lead else None,
                        tune=normalise_tune({"knobs": knobs}, optimizer), reason=reason)
        if lead:
            self.link.event("note", 0, message=reason, loader=site.where if site else None, optimizer=opt_where,
                            tuned=knobs, source="zero-code hook")
        return self.link.steps

    # -- off ----------------------------------------------------------------------------------
    def fail(self, error: BaseException, message: str = "") -> None:
        """Any internal error: the patches come off, one note says why, the job goes on."""
        if not self.on:
            return
        self.on = False
        self.patches.restore()
        if os.getpid() != self.pid:
            return
        tb = traceback.extract_tb(error.__traceback__)
        where = f"{os.path.basename(tb[-1].filename)}:{tb[-1].lineno}" if tb else "?"
        text = message or "the zero-code hook stopped after an internal error; the job goes on unmeasured"
        log.warning("trainpilot: %s (%s: %s at %s)", text, type(error).__name__, error, where)
        try:
            self.link.event("note", self.clock.step, message=text, error=f"{type(error).__name__}: {error}"[:300],
                            where=where, source="zero-code hook")
        except Exception:
            pass

    def forked(self) -> None:
        """In a child forked from the job (a DataLoader worker): nothing, ever."""
        self.on = False

    def at_exit(self) -> None:
        if os.getpid() == self.pid:
            self.link.flush()
