"""`--nproc N`: run this script as N data-parallel ranks on this machine, as torchrun would
(Debian's torch 1.13 `torch.distributed.run` fails on Python 3.11, so the example carries its own).

Each rank is a child process with MASTER_ADDR/MASTER_PORT/RANK/LOCAL_RANK/WORLD_SIZE set; the
launcher forwards SIGINT/SIGTERM to them and exits with the first non-zero exit code.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from typing import List


def launch(nproc: int, argv: List[str]) -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "WORLD_SIZE": str(nproc)}
    ranks = [subprocess.Popen([sys.executable, *argv], env={**env, "RANK": str(r), "LOCAL_RANK": str(r)})
             for r in range(nproc)]

    def forward(signum: int, _frame: object) -> None:
        for p in ranks:
            if p.poll() is None:
                p.send_signal(signum)

    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)
    codes = [p.wait() for p in ranks]
    return next((c for c in codes if c != 0), 0)
