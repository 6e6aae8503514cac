"""JSON over HTTP to the sidecar (DESIGN §4), standard library only.

One `Api` per thread: it keeps one keep-alive connection and is not thread-safe.
"""
from __future__ import annotations

import http.client
import json
import socket
from typing import Any, Optional
from urllib.parse import urlsplit


class Unreachable(Exception):
    """The sidecar did not answer: refused, reset, timed out, or answered 5xx."""


class HttpError(Exception):
    """The sidecar answered 4xx with `{error, message}` (DESIGN §4)."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


# Errors that mean a reused keep-alive connection was closed by the server while idle:
# the request never reached it, so sending it once more on a fresh connection is safe
# (the same rule as urllib3's retry of a stale pooled connection).
_STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)


class Api:
    def __init__(self, url: str, token: Optional[str] = None, timeout_s: float = 5.0):
        parts = urlsplit(url if "://" in url else "http://" + url)
        if parts.scheme not in ("http", "https"):
            raise ValueError(f"TRAINPILOT_URL: unsupported scheme {parts.scheme!r} in {url!r}")
        self.url = url
        self._https = parts.scheme == "https"
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port
        self._base = parts.path.rstrip("/")
        self._headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
        self.timeout_s = timeout_s
        self._conn: Optional[http.client.HTTPConnection] = None
        self._used = False  # the connection has carried a request before

    def _connect(self, timeout_s: float) -> http.client.HTTPConnection:
        if self._conn is None:
            cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            self._conn = cls(self._host, self._port, timeout=timeout_s)
            self._used = False
        else:
            self._conn.timeout = timeout_s
            if self._conn.sock is not None:
                self._conn.sock.settimeout(timeout_s)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def request(self, method: str, path: str, body: Any = None, timeout_s: Optional[float] = None) -> Any:
        """The decoded JSON answer of a 2xx; raises Unreachable or HttpError."""
        data = None if body is None else json.dumps(body, separators=(",", ":"), allow_nan=False).encode()
        timeout = self.timeout_s if timeout_s is None else timeout_s
        for attempt in (0, 1):
            conn = self._connect(timeout)
            reused = self._used
            try:
                conn.request(method, self._base + path, body=data, headers=self._headers)
                resp = conn.getresponse()
                raw = resp.read()
                self._used = True
                if resp.will_close:
                    self.close()
                break
            except _STALE as e:
                self.close()
                if reused and attempt == 0:
                    continue
                raise Unreachable(f"{method} {path}: {e.__class__.__name__}: {e}") from None
            except (OSError, http.client.HTTPException, socket.timeout) as e:
                self.close()
                raise Unreachable(f"{method} {path}: {e.__class__.__name__}: {e}") from None
        if resp.status >= 500:
            raise Unreachable(f"{method} {path}: HTTP {resp.status}")
        try:
            answer = json.loads(raw) if raw else None
        except ValueError:
            answer = None
        if resp.status >= 400:
            err = answer if isinstance(answer, dict) else {}
            raise HttpError(resp.status, str(err.get("error", "http_error")), str(err.get("message", raw[:200])))
        return answer
