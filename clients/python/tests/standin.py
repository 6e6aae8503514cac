"""A stand-in sidecar for the client's tests: the network peer, speaking DESIGN §4's API.

It keeps runs in memory, records every request, and can be told to misbehave: answer slowly,
answer 5xx, demand a token, or stop listening. `new_version()` plays the tuner.
"""
from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List, Optional
from urllib.parse import parse_qs, urlsplit


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the real server
    server: "StandIn"

    def log_message(self, *args: Any) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        with self.server.lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.lock:
            self.server.connections.discard(self.connection)
        super().finish()

    def _send(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _handle(self, method: str) -> None:
        s = self.server
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else None
        with s.lock:
            s.requests.append({"method": method, "path": url.path, "query": parse_qs(url.query), "body": body,
                               "auth": self.headers.get("Authorization")})
            delay, status = s.delay_s, s.fail_status
        if delay:
            time.sleep(delay)
        if status:
            return self._send(status, {"error": "internal", "message": "stand-in told to fail"})
        if s.token and self.headers.get("Authorization") != f"Bearer {s.token}":
            return self._send(401, {"error": "unauthorized", "message": "missing or wrong token"})
        status, answer = s.route(method, url.path, parse_qs(url.query), body)
        self._send(status, answer)

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")


class StandIn(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int = 0):
        super().__init__(("127.0.0.1", port), Handler)
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)
        self.requests: List[Dict[str, Any]] = []
        self.runs: Dict[str, Dict[str, Any]] = {}
        self.steps: Dict[str, List[Dict[str, Any]]] = {}
        self.events: Dict[str, List[Dict[str, Any]]] = {}
        self.delay_s = 0.0
        self.fail_status = 0
        self.token: Optional[str] = None
        self.connections: set = set()
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hung up (timeouts in the tests) is no error here

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def stop(self) -> None:
        """Like a killed sidecar: stops listening and drops every open connection."""
        self.shutdown()
        self.server_close()
        with self.changed:
            for c in list(self.connections):
                try:
                    c.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self.changed.notify_all()

    # -- playing the sidecar --------------------------------------------------------------
    def add_run(self, run_id: str, config: Optional[Dict[str, Any]] = None, mode: str = "auto") -> None:
        """A run as `trainpilot run` registers it: a pid, no config yet (unless given)."""
        with self.lock:
            self.runs[run_id] = {"id": run_id, "name": run_id, "config": config, "config_version": 1 if config else 0,
                                 "tune": {"mode": mode}, "state": "running", "reason": "registered"}
            self.steps[run_id], self.events[run_id] = [], []

    def new_version(self, run_id: str, reason: str = "tuner", **changes: Any) -> int:
        with self.changed:
            run = self.runs[run_id]
            run["config"] = {**run["config"], **changes}
            run["config_version"] += 1
            run["reason"] = reason
            self.changed.notify_all()
            return run["config_version"]

    def wait_for(self, predicate: Any, timeout_s: float = 10.0) -> bool:
        """Waits until predicate(self) is true (checked whenever a request is handled or 50 ms pass)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self.lock:
                if predicate(self):
                    return True
            time.sleep(0.02)
        with self.lock:
            return bool(predicate(self))

    @staticmethod
    def config_view(run: Dict[str, Any]) -> Dict[str, Any]:
        return {"run_id": run["id"], "config_version": run["config_version"], "config": run["config"],
                "reason": run["reason"], "state": run["state"]}

    def route(self, method: str, path: str, query: Dict[str, List[str]], body: Any) -> Any:
        parts = path.strip("/").split("/")
        if method == "POST" and parts == ["v1", "runs"]:
            run_id = f"r{len(self.runs) + 1}"
            self.add_run(run_id)
            with self.lock:
                run = self.runs[run_id]
                run.update(name=body["name"], config=body["config"], config_version=1, tune=body["tune"], pid=body.get("pid"),
                           cpu_budget=body.get("cpu_budget"))
                return 201, dict(run)
        if len(parts) < 3 or parts[:2] != ["v1", "runs"] or parts[2] not in self.runs:
            return 404, {"error": "not_found", "message": f"no route or run for {path}"}
        run_id, rest = parts[2], parts[3:]
        with self.lock:
            run = self.runs[run_id]
            if method == "GET" and rest == []:
                return 200, dict(run)
            if method == "PUT" and rest == ["config"]:
                expected = body.get("expected_version")
                if expected is not None and expected != run["config_version"]:
                    return 409, {"error": "stale_config_version", "message": f"run is at {run['config_version']}"}
                run.update(config=body["config"], tune=body.get("tune") or run["tune"])
                run["config_version"] += 1
                return 200, self.config_view(run)
            if method == "POST" and rest == ["steps"]:
                steps = body["steps"]
                if not 1 <= len(steps) <= 5000:
                    return 400, {"error": "schema", "message": "steps: 1 to 5000 items"}
                self.steps[run_id].extend(steps)
                return 202, {"accepted": len(steps), "config_version": run["config_version"]}
            if method == "POST" and rest == ["events"]:
                self.events[run_id].append(body)
                return 202, {"ok": True}
        if method == "GET" and rest == ["config"]:
            after = int(query.get("after", ["0"])[0])
            wait_s = float(query.get("wait_s", ["0"])[0])
            deadline = time.monotonic() + wait_s
            with self.changed:
                while run["config_version"] <= after and time.monotonic() < deadline:
                    self.changed.wait(max(0.0, min(0.2, deadline - time.monotonic())))
                return 200, self.config_view(run)
        return 404, {"error": "not_found", "message": f"no route {method} {path}"}

    def restart(self) -> "StandIn":
        """A new stand-in on the same port with the same runs: the sidecar coming back."""
        port = self.server_address[1]
        again = StandIn(port)
        with self.lock:
            again.runs, again.steps, again.events = self.runs, self.steps, self.events
        return again
