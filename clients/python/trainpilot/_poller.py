"""The background thread that long-polls GET /v1/runs/:id/config and hands new versions over."""
from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable, Dict, Optional

from ._http import Api, HttpError, Unreachable

log = logging.getLogger("trainpilot")

# Server-side wait per poll (DESIGN §4 allows 0–60 s); the socket waits this much longer.
POLL_WAIT_S = 25
POLL_SLACK_S = 10
# An answer with nothing new that came back early (a run that ended, a restarting server)
# is not repeated sooner than this, so the poll can never spin.
MIN_INTERVAL_S = 1.0
BACKOFF_MAX_S = 10.0


class Poller(threading.Thread):
    def __init__(self, api: Api, run_id: Callable[[], Optional[str]], version: Callable[[], int],
                 offer: Callable[[int, Dict[str, Any], str], None], wait_s: float = POLL_WAIT_S):
        super().__init__(name="trainpilot-config", daemon=True)
        self.api = api
        self._run_id = run_id
        self._version = version
        self._offer = offer
        self.wait_s = wait_s
        self._wake = threading.Event()
        self._stopping = False
        self.polls = 0

    def hint(self) -> None:
        """A step POST said a newer version exists: poll now instead of after a back-off."""
        self._wake.set()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    def _sleep(self, s: float) -> None:
        self._wake.wait(s)
        self._wake.clear()

    def run(self) -> None:
        backoff = 0.5
        while not self._stopping:
            run_id = self._run_id()
            if run_id is None:
                self._sleep(1.0)
                continue
            after = self._version()
            started = time.monotonic()
            try:
                self.polls += 1
                answer = self.api.request(
                    "GET", f"/v1/runs/{run_id}/config?after={after}&wait_s={self.wait_s:g}",
                    timeout_s=self.wait_s + POLL_SLACK_S)
                backoff = 0.5
            except (Unreachable, HttpError) as e:
                log.debug("trainpilot: config poll failed: %s", e)
                self._sleep(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX_S)
                continue
            except Exception as e:  # never let the thread die
                log.debug("trainpilot: config poll error: %r", e)
                self._sleep(BACKOFF_MAX_S)
                continue
            if not isinstance(answer, dict):
                self._sleep(BACKOFF_MAX_S)
                continue
            version, config = answer.get("config_version"), answer.get("config")
            if isinstance(version, int) and version > after and isinstance(config, dict):
                self._offer(version, config, str(answer.get("reason") or ""))
            if answer.get("state", "running") != "running":
                return  # the run has ended (the job finished it, or `trainpilot run` saw it exit)
            if time.monotonic() - started < MIN_INTERVAL_S:
                self._sleep(MIN_INTERVAL_S)
