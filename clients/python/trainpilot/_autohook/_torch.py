"""The zero-code hook's patches on torch, at the class level, each undone by restore().

  DataLoader.__init__               notes where the loader was built (its Site)
  DataLoader.__iter__               the safe point: the sidecar's workers and other loader knobs
                                    are applied here, when the job starts iterating a loader (an
                                    epoch boundary); the epoch's start is timed from here to its
                                    first batch
  _BaseDataLoaderIter.__next__      times the wait for each batch, reads its leading dimension
                                    (torch's private class: _torch_private.py says why)
  optimizer steps                   torch ≥ 2.0: register_optimizer_step_pre/post_hook (global);
                                    torch 1.13 has none: each Optimizer class's step is wrapped
                                    once, on its first instance, as torch's own profiler does
  Tensor.backward                   keeps the scalar it was called on (the loss)
  LRScheduler.__init__              notes which optimizer a scheduler drives, and where it was
                                    built (--knobs batch_size,learning_rate: _batch.py)

Every wrapper calls the original with the job's arguments and lets the job's own exceptions
through; what the hook does around the call is guarded, and an error in it disables the hook.
"""
from __future__ import annotations

import functools
import os
import sys
import time
import weakref
from typing import Any, Callable, List, Optional, Tuple

from ._torch_private import iterator_class, scheduler_class

_pc = time.perf_counter
_HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def caller_site(torch_dir: str, kind: type) -> str:
    """file:line of the first frame outside torch and trainpilot that is not the __init__ of a
    subclass of `kind` (a DataLoader or Optimizer subclass calling its base): where the job built
    the object."""
    f = sys._getframe(2)
    while f is not None:
        name = f.f_code.co_filename
        if not (name.startswith(torch_dir) or name.startswith(_HERE)) and not (
                f.f_code.co_name == "__init__" and isinstance(f.f_locals.get("self"), kind)):
            return f"{os.path.relpath(name) if not name.startswith('<') else name}:{f.f_lineno}"
        f = f.f_back
    return "?"


class Patches:
    """hook: the object with on, fail(), loader_built(), before_iter(), after_iter(), info_of(),
    clock (batch/backward/step_begin/step_end), epoch_end(), optimizer_built()."""

    def __init__(self, torch: Any, hook: Any):
        self.torch = torch
        self.hook = hook
        self._undo: List[Callable[[], None]] = []
        self.torch_dir = os.path.dirname(os.path.abspath(torch.__file__))

    def _set(self, owner: Any, name: str, value: Any) -> None:
        old = owner.__dict__[name]
        setattr(owner, name, value)
        self._undo.append(lambda: setattr(owner, name, old) if owner.__dict__.get(name) is value else None)

    def restore(self) -> None:
        while self._undo:
            try:
                self._undo.pop()()
            except Exception:
                pass

    def install(self) -> None:
        from torch.utils.data import DataLoader

        batches = iterator_class()
        hook, clock, torch_dir = self.hook, self.hook.clock, self.torch_dir
        init0, iter0, next0 = DataLoader.__init__, DataLoader.__iter__, batches.__next__
        iters: "weakref.WeakKeyDictionary[Any, Any]" = weakref.WeakKeyDictionary()
        # The iterator seen last (a weak reference: its workers shut down when the job drops it)
        # and its LoaderInfo, so most batches skip the dictionary.
        last: List[Any] = [lambda: None, None]

        @functools.wraps(init0)
        def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
            init0(self, *args, **kwargs)
            if hook.on:
                try:
                    hook.loader_built(self, caller_site(torch_dir, DataLoader))
                except Exception as e:
                    hook.fail(e)

        @functools.wraps(iter0)
        def __iter__(self: Any) -> Any:
            undo = None
            t_iter = _pc()
            if hook.on:
                try:
                    undo = hook.before_iter(self)
                except Exception as e:
                    hook.fail(e)
            try:
                it = iter0(self)
            except Exception as e:
                if undo is None:
                    raise
                try:
                    undo()  # the workers the hook asked for did not start: the loader as built
                except Exception:
                    pass
                hook.fail(e, "the data loader did not start with the workers or loader settings the sidecar asked for")
                it = iter0(self)
            if hook.on:
                try:
                    iters[it] = hook.iter_started(self, t_iter)
                except Exception as e:
                    hook.fail(e)
            return it

        @functools.wraps(next0)
        def __next__(self: Any) -> Any:
            t0 = _pc()
            try:
                data = next0(self)
            except StopIteration:
                if hook.on:
                    try:
                        info = iters.get(self)
                        if info is not None:
                            hook.epoch_end(info, _pc())
                    except Exception as e:
                        hook.fail(e)
                raise
            t1 = _pc()
            if hook.on:
                try:
                    if last[0]() is self:
                        info = last[1]
                    else:
                        info = iters.get(self)
                        last[0], last[1] = weakref.ref(self), info
                    if info is not None:
                        if info.t_iter:  # the epoch's first batch: what its start cost
                            hook.first_batch(info, data, t1)
                        clock.batch(info, data, t0, t1)
                except Exception as e:
                    hook.fail(e)
            return data

        self._set(DataLoader, "__init__", __init__)
        self._set(DataLoader, "__iter__", __iter__)
        self._set(batches, "__next__", __next__)
        self._install_optimizer()
        self._install_backward()
        self._install_scheduler()

    def _install_scheduler(self) -> None:
        """LR schedulers: which optimizer each drives, and where it was built (_batch.py)."""
        base = scheduler_class()
        hook, torch_dir = self.hook, self.torch_dir
        init0 = base.__dict__["__init__"]

        @functools.wraps(init0)
        def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
            init0(self, *args, **kwargs)
            if hook.on:
                try:
                    hook.scheduler_built(self, caller_site(torch_dir, base))
                except Exception as e:
                    hook.fail(e)

        self._set(base, "__init__", __init__)

    def _install_optimizer(self) -> None:
        import importlib

        optim = self.torch.optim
        module = importlib.import_module("torch.optim.optimizer")
        hook, clock, torch_dir = self.hook, self.hook.clock, self.torch_dir
        Optimizer = optim.Optimizer
        init0 = Optimizer.__dict__["__init__"]
        register_pre = getattr(module, "register_optimizer_step_pre_hook", None)
        register_post = getattr(module, "register_optimizer_step_post_hook", None)
        wrapped = self._undo  # class-level step wrappers (torch 1.13) are undone with the rest

        def begin(opt: Any, *_: Any) -> None:
            if hook.on:
                try:
                    clock.step_begin()
                    if clock.depth == 1:
                        hook.before_step(opt)
                except Exception as e:
                    hook.fail(e)

        def end(opt: Any, *_: Any) -> None:
            if hook.on:
                try:
                    clock.step_end(opt, _pc())
                except Exception as e:
                    hook.fail(e)

        def wrap_step(cls: type) -> None:
            step0 = cls.step

            @functools.wraps(step0)
            def step(self: Any, *args: Any, **kwargs: Any) -> Any:
                begin(self)
                out = step0(self, *args, **kwargs)
                end(self)
                return out

            step.trainpilot_step = True  # type: ignore[attr-defined]
            setattr(cls, "step", step)
            wrapped.append(lambda: setattr(cls, "step", step0) if cls.__dict__.get("step") is step else None)

        @functools.wraps(init0)
        def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
            init0(self, *args, **kwargs)
            if not hook.on:
                return
            try:
                if register_post is None and not getattr(type(self).step, "trainpilot_step", False):
                    wrap_step(type(self))
                hook.optimizer_built(self, caller_site(torch_dir, Optimizer))
            except Exception as e:
                hook.fail(e)

        self._set(Optimizer, "__init__", __init__)
        if register_pre is not None and register_post is not None:
            handles = [register_pre(begin), register_post(end)]
            self._undo.append(lambda: [h.remove() for h in handles])

    def _install_backward(self) -> None:
        Tensor = self.torch.Tensor
        hook, clock = self.hook, self.hook.clock
        backward0 = Tensor.__dict__["backward"]

        @functools.wraps(backward0)
        def backward(self: Any, *args: Any, **kwargs: Any) -> Any:
            out = backward0(self, *args, **kwargs)
            if hook.on:
                try:
                    clock.backward(self)
                except Exception as e:
                    hook.fail(e)
            return out

        self._set(Tensor, "backward", backward)


def torch_version(torch: Any) -> Tuple[int, int]:
    try:
        major, minor = str(torch.__version__).split(".")[:2]
        return int(major), int("".join(c for c in minor if c.isdigit()) or 0)
    except Exception:
        return (0, 0)


def worker_process(torch: Any) -> Optional[bool]:
    """True inside a DataLoader worker process."""
    try:
        return torch.utils.data.get_worker_info() is not None
    except Exception:
        return None
