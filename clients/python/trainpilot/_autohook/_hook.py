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
import re
import traceback
import weakref
from typing import Any, Callable, Dict, Optional

from .._http import HttpError
from .._join import Joined, normalise_tune
from .._link import JoinRequest, Link, Offer
from .._gradnoise import DevicePeak, GradNoise, shares
from ._batch import refusal, requested, scale_lr, set_batch
from ._clock import Clock, LoaderInfo, Site
from ._job import attach_reason, client_active, distributed, started_with
from ._loaders import LOADER_KNOBS, batch_bytes, loader_knobs, refused as knob_refused, set_loader_knobs, set_workers, start_method_forks
from ._own_run import OwnRun
from ._torch import Patches, worker_process

log = logging.getLogger("trainpilot")

EXIT_FLUSH_S = 2.0


def cuda_initialised(torch: Any) -> bool:
    """The job has put work on a GPU by its first step (pinned memory would speed its copies)."""
    try:
        return bool(torch.cuda.is_available() and torch.cuda.is_initialized())
    except Exception:
        return False


_SIZE_UNITS = {"": 1, "b": 1, "kb": 10 ** 3, "mb": 10 ** 6, "gb": 10 ** 9, "tb": 10 ** 12,
               "kib": 2 ** 10, "mib": 2 ** 20, "gib": 2 ** 30, "tib": 2 ** 40,
               "ki": 2 ** 10, "mi": 2 ** 20, "gi": 2 ** 30, "ti": 2 ** 40}


def parse_size(text: str) -> Optional[int]:
    """"6GiB", "512MiB", "8GB", "6Gi" or bytes → bytes, as `trainpilot run --host-memory-budget`
    reads them (cli/flags.ts parseSize); None for anything else (a bare 6G is ambiguous)."""
    m = re.match(r"^(\d+(?:\.\d+)?)\s*([A-Za-z]*)$", text.strip())
    factor = _SIZE_UNITS.get(m.group(2).lower()) if m else None
    if factor is None:
        return None
    n = round(float(m.group(1)) * factor)
    return n if 2 ** 20 <= n <= 2 ** 53 else None


def budget_env() -> Dict[str, Any]:
    """TRAINPILOT_HOST_MEMORY_BUDGET (a size; `trainpilot run --host-memory-budget` passes bytes)
    as the tune field of a run the hook registers itself; an unreadable value is ignored, said once."""
    raw = os.environ.get("TRAINPILOT_HOST_MEMORY_BUDGET", "").strip()
    if not raw:
        return {}
    n = parse_size(raw)
    if n is not None:
        return {"host_memory_budget_bytes": n}
    log.warning("trainpilot: TRAINPILOT_HOST_MEMORY_BUDGET %r is not a size (6GiB, 512MiB, 8GB or bytes); ignored", raw)
    return {}


# What a loader has when the job never said: torch's defaults.
_TORCH_DEFAULT = {"prefetch_factor": 2, "persistent_workers": False, "pin_memory": False}

# The config keys whose values tell whether the run's config is the one the job started with.
_SAME_CONFIG = ("batch_size", "num_workers", "learning_rate")


class Hook:
    def __init__(self, torch: Any, url: str, token: Optional[str], run_id: Optional[str],
                 own: Optional[OwnRun] = None):
        """run_id: the run `trainpilot run` registered; None with own, the run the hook registers
        itself (_own_run.py: no launcher of ours around the job)."""
        self.on = True
        self.url, self.token, self.own = url, token, own
        self.torch = torch
        self.pid = os.getpid()
        self.run_id = run_id
        self.applied_version = 0  # the config version the job runs with (steps carry it)
        self.clock = Clock(lambda: self.applied_version, self._first_step, client_active)
        self.link = Link(url, token, run_id=run_id, produced=lambda: self.clock.step, on_offer=self._offered)
        self.loaders: "weakref.WeakKeyDictionary[Any, LoaderInfo]" = weakref.WeakKeyDictionary()
        self.sites: Dict[str, Site] = {}
        self.optimizers: "weakref.WeakKeyDictionary[Any, str]" = weakref.WeakKeyDictionary()
        self.started_with: Optional[Dict[str, Any]] = None  # the job's own config, at its first step
        self.train: Optional[Site] = None  # the site of the loader feeding the optimizer steps
        self.patches = Patches(torch, self)
        self.noise: Optional[GradNoise] = None  # the sampled gradient norms, from the first step on
        self.schedulers: "weakref.WeakKeyDictionary[Any, str]" = weakref.WeakKeyDictionary()
        self.knobs = requested()  # what the user allowed (--knobs); narrowed at the first step
        self.optimizer: Any = None  # the one whose learning rate --knobs learning_rate scales
        self.batch_size: Optional[int] = None  # the training loader's batch, once the sidecar set it
        self.lr_now: Optional[float] = None  # the learning rate in effect (the config's)
        self.cuda = False  # the job had initialised CUDA by its first step (pin_memory is offered)

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

    def scheduler_built(self, scheduler: Any, where: str) -> None:
        self.schedulers[scheduler] = where

    def before_step(self, optimizer: Any) -> None:
        """Just before an optimizer step, its gradients in place: on a sampled step, the two
        squared norms for the step's report. A failure here turns the norms off, not the hook."""
        noise = self.noise
        if noise is None or self.clock.standing_down:
            return
        try:
            fields = noise.at_step(optimizer)
        except Exception as e:
            self.noise = None
            log.warning("trainpilot: gradient norms off after an error (%s: %s); steps are still reported",
                        type(e).__name__, e)
            self.link.event("note", self.clock.step, message="gradient norms off after an internal error",
                            error=f"{type(e).__name__}: {e}"[:300], source="zero-code hook")
            return
        if fields is not None:
            self.clock.extra = fields

    def before_iter(self, loader: Any) -> Optional[Callable[[], None]]:
        """The safe point. Returns how to undo what it changed, when it changed the loader."""
        site = self.info_of(loader).site
        newest = self.link.newest  # the poller may put a newer one there meanwhile: read it once
        if newest.version > self.applied_version and site is self.train:
            self._take(newest.version, newest.config, site, loader)
        if site is self.train and self.batch_size is not None:
            set_batch(loader, self.batch_size)  # a loader rebuilt at the same line: the same batch
        undo = []
        if site.tunable and site.workers is not None and loader.num_workers != site.workers:
            undo.append(set_workers(loader, site.workers))
        if site.tunable and site.knobs:
            u = set_loader_knobs(loader, site.knobs, self.cuda)
            if u is not None:
                undo.append(u)
        if not undo:
            return None
        return lambda: [u() for u in reversed(undo)]

    def iter_started(self, loader: Any, t: float) -> LoaderInfo:
        """The job asked a loader for its iterator at `t` (perf_counter): the epoch's start is timed
        to its first batch (first_batch), and whether the site's loader is the one of its last epoch."""
        info = self.info_of(loader)
        site = info.site
        # None on the site's first epoch (nothing to compare with); a dead reference is another loader.
        info.same_loader = None if site.last_loader is None else site.last_loader() is loader
        site.last_loader = weakref.ref(loader)
        info.t_iter = info.t_epoch = t
        info.start_s = None
        return info

    def first_batch(self, info: LoaderInfo, data: Any, t: float) -> None:
        """The epoch's first batch came at `t`: its start cost, and the bytes of a batch."""
        info.start_s = t - info.t_iter
        info.t_iter = 0.0
        try:
            info.batch_bytes = batch_bytes(data)
        except Exception:
            info.batch_bytes = None

    def epoch_end(self, info: LoaderInfo, t: Optional[float] = None) -> None:
        site = info.site
        if site is self.train:
            site.epochs += 1
            extra: Dict[str, Any] = {}
            if t is not None and info.start_s is not None and info.t_epoch:
                # What the tuner weighs persistent workers by (tuner/loader-knobs.ts).
                extra = {"loader_start_s": round(info.start_s, 6), "epoch_s": round(t - info.t_epoch, 6),
                         "config_version": self.applied_version}
                if info.same_loader is not None:
                    extra["same_loader"] = info.same_loader
                if info.batch_bytes:
                    extra["batch_bytes"] = info.batch_bytes
            self.link.event("epoch_end", self.clock.step, epoch=site.epochs, **extra)

    # -- the sidecar's config -----------------------------------------------------------------
    def _take(self, version: int, config: Dict[str, Any], site: Site, loader: Any) -> None:
        own = self.started_with or {}
        wanted = config.get("num_workers")
        batch_lr = self._take_batch_lr(config, loader)
        not_applied = [k for k in ("batch_size", "learning_rate", "grad_accum_steps")
                       if k in config and k in own and config[k] != batch_lr.get(k, own[k])]
        if site.tunable and isinstance(wanted, int) and wanted >= 0:
            site.workers = wanted
        elif wanted is not None and wanted != loader.num_workers:
            not_applied.append("num_workers")
        workers = site.workers if site.workers is not None else loader.num_workers
        for k in LOADER_KNOBS:  # the loader's other knobs: those it offered, as torch allows them
            if k not in config:
                continue
            v, was = config[k], own.get(k, _TORCH_DEFAULT[k])
            if v == was and k not in site.knobs:
                continue  # as the job built it, and never changed
            if k in own and site.tunable and k in self.knobs and knob_refused(k, v, workers, self.cuda) is None:
                site.knobs[k] = v
            elif v != was:
                not_applied.append(k)  # not offered (pin_memory on a CPU job), or refused by torch
        self.applied_version = version
        in_effect = dict(own, num_workers=workers, **batch_lr)
        in_effect.update({k: v for k, v in site.knobs.items() if k in own})
        self.link.acknowledge(version, in_effect, self.clock.step, not_applied)

    def _take_batch_lr(self, config: Dict[str, Any], loader: Any) -> Dict[str, Any]:
        """--knobs batch_size,learning_rate: the new batch for the loader's next epoch and the
        learning rate scaled to the config's (the tuner applied the optimizer's rule); what is now
        in effect of the two."""
        out: Dict[str, Any] = {}
        bs = config.get("batch_size")
        if "batch_size" in self.knobs and isinstance(bs, int) and bs > 0:
            set_batch(loader, bs)
            self.batch_size = out["batch_size"] = bs
        lr = config.get("learning_rate")
        if "learning_rate" in self.knobs and isinstance(lr, (int, float)) and lr > 0 and self.optimizer is not None:
            if self.lr_now and lr != self.lr_now:
                scale_lr(self.optimizer, self.schedulers, lr / self.lr_now)
            self.lr_now = out["learning_rate"] = lr
        return out

    def _offered(self, offer: Offer) -> None:
        """Poller thread. A run whose loader cannot change (or has none) acknowledges at once."""
        train = self.train
        if self.started_with is not None and (train is None or not train.tunable):
            own, config = self.started_with, offer.config
            self.applied_version = offer.version
            self.link.acknowledge(offer.version, own, self.clock.step,
                                  sorted(k for k in own if k in config and config[k] != own[k]))

    def _joined(self, j: Joined) -> None:
        """The sender thread, once attached. A run configured already (this job restarted) has
        its workers applied at the next epoch, like any newer version."""
        own = self.started_with or {}
        if all(own.get(k) == j.config.get(k) for k in _SAME_CONFIG):
            self.applied_version = j.version
            self.link.acknowledge(j.version, own, 0)

    def _refused(self, e: HttpError) -> None:
        log.warning("trainpilot: the sidecar refused the zero-code hook's config (%s); steps are still reported", e)

    # -- the first step -----------------------------------------------------------------------
    def _first_step(self, info: Optional[LoaderInfo], optimizer: Any) -> Optional[Any]:
        """The first optimizer step: attach and start the threads. None: this process does not
        report (a DataLoader worker, a process forked from the job)."""
        if os.getpid() != self.pid or worker_process(self.torch):
            return None
        rank, world = distributed(self.torch)
        site = info.site if info is not None else None
        self.train = site
        self.started_with = own = started_with(info, optimizer)
        knobs = ["num_workers"] if site is not None and site.tunable and "num_workers" in self.knobs else []
        self.cuda = cuda_initialised(self.torch)
        loader = next((ld for ld, i in list(self.loaders.items()) if i is info), None)
        if site is not None and site.tunable and loader is not None:
            # The loader's other knobs (issue 22) the user allowed: offered in the config it attaches
            # with (a field the tuner sees is one the job can apply); pin_memory on a CUDA job only.
            offered = {k: v for k, v in loader_knobs(loader, self.cuda).items() if k in self.knobs}
            own.update(offered)
            knobs += [k for k in LOADER_KNOBS if k in offered]
        opt_where = self.optimizers.get(optimizer, "?")
        refused = None
        if "batch_size" in self.knobs or "learning_rate" in self.knobs:
            refused = refusal(loader, optimizer, dict(self.schedulers), site.where if site else "?")
            if refused is None:
                knobs += [k for k in ("batch_size", "learning_rate") if k in self.knobs]
                self.optimizer, self.lr_now = optimizer, own["learning_rate"]
            else:
                log.warning("trainpilot: batch size and learning rate left as the script set them: %s", refused)
        self.knobs = knobs
        reason = attach_reason(site, own, optimizer, opt_where, knobs)
        if refused:
            reason += f"; --knobs batch_size,learning_rate refused: {refused}"

        lead = rank is None or rank == 0
        link = self.link
        accum = int(own.get("grad_accum_steps") or 1)
        self.noise = GradNoise(self.torch, lambda: shares(world or 1, accum, micro_steps=False))
        peak = DevicePeak(self.torch)
        if peak.on:
            self.clock.peak = peak.read
        link.open(rank, world)
        if self.own is not None:  # no `trainpilot run` around the job: the hook registers its run
            name, tune = self.own.name, normalise_tune({"mode": self.own.mode, "knobs": knobs, **budget_env()}, optimizer)
            request = JoinRequest(name, own, tune, reason)
            self.own.begin(link, self.torch, lambda: request, rank=rank, world_size=world, url=self.url,
                           token=self.token, on_joined=self._joined, on_refused=self._refused)
        elif lead:  # the other ranks only report
            request = JoinRequest("job", own, normalise_tune({"knobs": knobs}, optimizer), reason)
            link.join(lambda: request, attach_to=self.run_id, now=False, on_joined=self._joined,
                      on_refused=self._refused)
        link.start()
        if lead:
            link.event("note", 0, message=reason, loader=site.where if site else None, optimizer=opt_where,
                       tuned=knobs, source="zero-code hook")
        return link.steps

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
            self.link.start(poll=False)  # before the first step nothing else has started it
        except Exception:
            pass

    def forked(self) -> None:
        """In a child forked from the job (a DataLoader worker): nothing, ever."""
        self.on = False

    def at_exit(self) -> None:
        if os.getpid() == self.pid:
            if self.own is not None and self.started_with is not None:
                self.own.end(self.link, self.clock.step, self.link.rank)
            self.link.close(EXIT_FLUSH_S)
