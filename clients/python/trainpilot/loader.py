"""A torch DataLoader that follows the run's batch_size and num_workers.

Rebuilt at a batch boundary (the safe point) when either changes; the epoch goes on where it
stopped — same order, no sample repeated or skipped — because the sampler resumes at the
number of samples the training loop has taken. Batches the old workers had prefetched are
dropped with them and fetched again by the new ones.
"""
from __future__ import annotations

from typing import Any, Dict, Iterator, List, Optional, Protocol

import torch
from torch.utils.data import DataLoader, Sampler


class LoaderRun(Protocol):
    """What a TunedLoader needs of its run (trainpilot.run.Run, which this module does not
    import: run.py imports it, lazily, in Run.data_loader)."""
    applied: Dict[str, Any]
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
        if nw == 0:  # DataLoader refuses these without workers
            kw.pop("prefetch_factor", None)
            kw.pop("persistent_workers", None)
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
                yield batch
        finally:
            it = None
            run.end_batches()
        self.epoch += 1
        run.event("epoch_end", epoch=self.epoch)
