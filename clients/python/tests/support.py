"""Shared pieces of the client's tests."""
import os
import socket
import unittest
from typing import Any, Dict
from unittest import mock

import trainpilot
from standin import StandIn

CONFIG: Dict[str, Any] = {"batch_size": 8, "learning_rate": 0.1, "num_workers": 0}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SidecarCase(unittest.TestCase):
    """Each test gets a fresh stand-in sidecar and a clean TRAINPILOT_* environment."""

    def setUp(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TRAINPILOT_")}
        patcher = mock.patch.dict(os.environ, env, clear=True)
        patcher.start()
        self.addCleanup(patcher.stop)
        self.sidecar = StandIn()
        self.addCleanup(lambda: self.sidecar.stop())

    def start(self, config: Dict[str, Any] = CONFIG, **kw: Any) -> trainpilot.Run:
        kw.setdefault("url", self.sidecar.url)
        kw.setdefault("flush_interval_s", 0.05)
        run = trainpilot.start("test", dict(config), **kw)
        self.addCleanup(run.finish, timeout_s=0.5)
        return run

    def steps(self, run: trainpilot.Run, n: int = 1, **log: Any) -> None:
        for _ in range(n):
            with run.step():
                if log:
                    run.log(**log)

    def wait_steps(self, run_id: str, n: int, timeout_s: float = 10.0) -> list:
        self.assertTrue(self.sidecar.wait_for(lambda s: len(s.steps[run_id]) >= n, timeout_s),
                        f"sidecar got {len(self.sidecar.steps[run_id])} of {n} steps")
        return self.sidecar.steps[run_id]

    def events(self, run_id: str, kind: str) -> list:
        with self.sidecar.lock:
            return [e for e in self.sidecar.events[run_id] if e["kind"] == kind]

    def wait_event(self, run_id: str, kind: str, timeout_s: float = 10.0) -> list:
        self.assertTrue(self.sidecar.wait_for(lambda s: any(e["kind"] == kind for e in s.events[run_id]), timeout_s),
                        f"no {kind} event; got {[e['kind'] for e in self.sidecar.events[run_id]]}")
        return self.events(run_id, kind)


def require_torch():
    """torch, or this test module skipped — except in CI (CI=true), where a missing torch fails."""
    try:
        import torch
    except ImportError:
        if os.environ.get("CI") == "true":
            raise
        raise unittest.SkipTest("torch is not installed (under CI=true this fails instead)")
    return torch
