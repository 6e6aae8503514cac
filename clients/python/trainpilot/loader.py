"""A torch DataLoader that follows the run's batch_size and num_workers, and the loader knobs the
run's config carries (prefetch_factor, persistent_workers, pin_memory; issue 22).

Rebuilt at a batch boundary (the safe point) when any of them changes; the epoch goes on where it
stopped — same order, no sample repeated or skipped — because the sampler resumes at the
number of samples the training loop has taken. Batches the old workers had prefetched are
dropped with them and fetched again by the new ones. What torch refuses is never passed:
prefetch_factor and persistent_workers without workers, pin_memory without CUDA. Each epoch's
start (iterator asked for → first batch) and a batch's bytes go with its epoch_end event: the
tuner weighs persistent workers by them.
"""
from __future__ import annotations

from typing import Any, Dict, Iterator, List, Optional, Protocol

import time

import torch
from torch.utils.data import DataLoader, Sampler

# The config fields passed to DataLoader as they are, when the run's config carries them.
LOADER_KNOBS = ("prefetch_factor", "persistent_workers", "pin_memory")


class LoaderRun(Protocol):
    """What a TunedLoader needs of its run (trainpilot.run.Run, which this module does not
    import: run.py imports it, lazily, in Run.data_loader)."""
    applied: Dict[str, Any]
    applied_version: int
    layout: int
    rank: Optional[int]
    world_size: Optional[int]

    def safe_point(self) -> None: ...

    def take_retry(self) -> bool: ...

    def next_batch(self, it: Iterator[Any], samples: Optional[int] = None) -> Any: ...

    def end_batches(self) -> None: ...

    def event(self, kind: str, step: Optional[int] = None, **data: Any) -> None: ...


class ResumableSampler(Sampler):
    """One epoch's order (shuffled by seed + epoch), this rank's share of it, from `offset` on.
    Ranks get equal shares (padded by repeating the start, as DistributedSampler does)."""

    def __init__(self, n: int, shuffle: bool, seed: int, rank: int, world_size: int):
        self.n, self.shuffle, self.seed, self.rank, self.world_size = n, shuffle, seed, rank, world_size
        self.order: List[int] = []
        self.offset = 0
        self.set_epoch(0)

    def set_epoch(self, epoch: int) -> None:
        if self.shuffle:
            g = torch.Generator()
            g.manual_seed(self.seed + epoch)
            order = torch.randperm(self.n, generator=g).tolist()
        else:
            order = list(range(self.n))
        if self.world_size > 1:
            pad = -len(order) % self.world_size
            order = (order + order[:pad])[self.rank::self.world_size]
        self.order, self.offset = order, 0

    def __iter__(self) -> Iterator[int]:
        return iter(self.order[self.offset:])

    def __len__(self) -> int:
        return len(self.order) - self.offset


class TunedLoader:
    """Iterate it once per epoch. Each batch's wait is timed as the step's data wait."""

    def __init__(self, run: LoaderRun, dataset: Any, *, shuffle: bool = False, seed: int = 0,
                 drop_last: bool = False, **loader_kwargs: Any):
        taken = {"batch_size", "num_workers", "sampler", "batch_sampler", "shuffle"} & set(loader_kwargs)
        if taken:
            raise TypeError(f"run.data_loader: {sorted(taken)} come from the run's config, not arguments")
        self.run = run
        self.dataset = dataset
        self.drop_last = drop_last
        self.kwargs = loader_kwargs
        self.sampler = ResumableSampler(len(dataset), shuffle, seed, run.rank or 0, run.world_size or 1)
        self.epoch = 0
        self.rebuilds = 0
        self._loader: Optional[DataLoader] = None
        self._layout = -1

    def __len__(self) -> int:
        bs = int(self.run.applied["batch_size"])
        n = len(self.sampler.order)
        return n // bs if self.drop_last else -(-n // bs)

    def _build(self, offset: int) -> DataLoader:
        bs, nw = int(self.run.applied["batch_size"]), int(self.run.applied["num_workers"])
        kw = dict(self.kwargs)
        for k in LOADER_KNOBS:  # the run's value wins over the argument given to data_loader()
            if self.run.applied.get(k) is not None:
                kw[k] = self.run.applied[k]
        if nw == 0:  # DataLoader refuses these without workers
            kw.pop("prefetch_factor", None)
            kw.pop("persistent_workers", None)
        if kw.get("pin_memory") and not torch.cuda.is_available():
            kw.pop("pin_memory")  # torch would warn and ignore it
        self.sampler.offset = offset
        self._layout = self.run.layout
        self.rebuilds += 1
        return DataLoader(self.dataset, batch_size=bs, num_workers=nw, sampler=self.sampler,
                          drop_last=self.drop_last, **kw)

    def __iter__(self) -> Iterator[Any]:
        run, sampler = self.run, self.sampler
        sampler.set_epoch(self.epoch)
        n, taken, got = len(sampler.order), 0, 0
        it = None
        t_iter, start_s, batch_bytes = time.perf_counter(), None, None
        first_loader = self._loader
        try:
            while True:
                run.safe_point()
                if run.take_retry():  # the last batch ran out of memory: its samples come again, smaller
                    taken -= got
                if it is None or self._layout != run.layout:
                    it = None  # the old iterator's workers shut down before new ones start
                    if self._loader is None or self._layout != run.layout:
                        self._loader = None
                        self._loader = self._build(taken)
                    it = iter(self._loader)
                got = min(self._loader.batch_size, n - taken)  # what the next batch holds
                try:
                    batch = run.next_batch(it, got)
                except StopIteration:
                    break
                taken += got
                if start_s is None:  # the epoch's first batch: what its start cost
                    start_s, batch_bytes = time.perf_counter() - t_iter, _bytes(batch)
                yield batch
        finally:
            it = None
            run.end_batches()
        self.epoch += 1
        extra: Dict[str, Any] = {}
        if start_s is not None:
            extra = {"loader_start_s": round(start_s, 6), "epoch_s": round(time.perf_counter() - t_iter, 6),
                     "config_version": run.applied_version}
            if first_loader is not None:  # the first epoch has nothing to compare with
                extra["same_loader"] = first_loader is self._loader
            if batch_bytes:
                extra["batch_bytes"] = batch_bytes
        run.event("epoch_end", epoch=self.epoch, **extra)


def _bytes(batch: Any) -> Optional[int]:
    """Bytes of the tensors in one batch (a tensor, or one level of tuple, list or mapping)."""
    items = batch.values() if isinstance(batch, dict) else batch if isinstance(batch, (tuple, list)) else (batch,)
    total = sum(int(x.nelement()) * int(x.element_size()) for x in list(items)[:64] if isinstance(x, torch.Tensor))
    return total or None
