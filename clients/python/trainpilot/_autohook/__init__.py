"""The zero-code hook (DESIGN §10): measures and tunes a PyTorch job that never imports trainpilot.

`trainpilot run` puts clients/python/hook on a Python job's PYTHONPATH; its sitecustomize calls
activate() once torch has been imported. From then on, through torch's own classes (_torch.py),
every optimizer step becomes one step report (_clock.py), sent through the client's own Link to
the sidecar (../_link.py: background sender, config poll), and the data-loader workers the sidecar
asks for are applied when the job next starts iterating its training loader (_hook.py). torch's
private names are touched in _torch_private.py alone. Any error inside the hook takes its patches off
and sends one `note` event; the job goes on as it would without trainpilot.
"""
from __future__ import annotations

import atexit
import os
from typing import Optional

from ._hook import Hook
from ._own_run import OwnRun, wanted

_active: Optional[Hook] = None


def activate() -> Optional[Hook]:
    """Installs the hook once per process (torch must be imported). Returns it, or None when
    there is nothing to report to (no TRAINPILOT_URL) or it is off. Without TRAINPILOT_RUN_ID
    (no `trainpilot run` around the job) it registers a run of its own (_own_run.py)."""
    global _active
    if _active is not None:
        return _active
    env = os.environ
    url, run_id = env.get("TRAINPILOT_URL"), env.get("TRAINPILOT_RUN_ID")
    if not url or env.get("TRAINPILOT_INJECT", "1").strip().lower() in ("0", "false", "no", "off"):
        return None
    import sys

    import torch

    # No run registered for the job (no `trainpilot run` around it): the hook registers its own.
    own = OwnRun(dict(env), list(sys.argv)) if wanted(env) else None
    hook = Hook(torch, url, env.get("TRAINPILOT_TOKEN") or None, run_id or None, own)
    try:
        hook.patches.install()
    except Exception as e:
        hook.fail(e, "the zero-code hook could not patch this torch; the job goes on unmeasured")
        return None
    _active = hook
    if own is not None:
        own.watch_exit()
    atexit.register(hook.at_exit)
    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=hook.forked)
    return hook
