"""Api: the client's one HTTP door, against a real socket peer."""
import socket
import time
import unittest

from standin import StandIn
from trainpilot._http import Api, HttpError, Unreachable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ApiTest(unittest.TestCase):
    def setUp(self):
        self.sidecar = StandIn()
        self.addCleanup(self.sidecar.stop)

    def api(self, url=None, **kw) -> Api:
        api = Api(url or self.sidecar.url, **kw)
        self.addCleanup(api.close)
        return api

    def test_json_round_trip_and_keep_alive(self):
        api = self.api()
        r = api.request("POST", "/v1/runs", {"name": "a", "config": {"batch_size": 8}, "tune": {"mode": "auto"}})
        self.assertEqual(r["name"], "a")
        conn = api._conn
        api.request("GET", f"/v1/runs/{r['id']}")
        self.assertIs(api._conn, conn, "second request reuses the connection")

    def test_4xx_raises_http_error_with_code(self):
        with self.assertRaises(HttpError) as cm:
            self.api().request("GET", "/v1/runs/nope")
        self.assertEqual((cm.exception.status, cm.exception.code), (404, "not_found"))

    def test_5xx_is_unreachable(self):
        self.sidecar.fail_status = 503
        with self.assertRaises(Unreachable):
            self.api().request("GET", "/v1/runs/x")

    def test_refused_is_unreachable(self):
        t0 = time.monotonic()
        with self.assertRaises(Unreachable):
            self.api(f"http://127.0.0.1:{free_port()}").request("GET", "/v1/runs")
        self.assertLess(time.monotonic() - t0, 1.0)

    def test_slow_answer_times_out(self):
        self.sidecar.delay_s = 2.0
        t0 = time.monotonic()
        with self.assertRaises(Unreachable):
            self.api(timeout_s=0.2).request("GET", "/v1/runs/x")
        self.assertLess(time.monotonic() - t0, 1.5)

    def test_token_is_sent_as_bearer(self):
        self.sidecar.token = "s3cret"
        with self.assertRaises(HttpError) as cm:
            self.api().request("GET", "/v1/runs/x")
        self.assertEqual(cm.exception.status, 401)
        self.sidecar.add_run("x", {"batch_size": 8})
        self.api(token="s3cret").request("GET", "/v1/runs/x")
        self.assertEqual(self.sidecar.requests[-1]["auth"], "Bearer s3cret")

    def test_connection_closed_by_server_while_idle_is_retried_once(self):
        self.sidecar.add_run("x", {"batch_size": 8})
        api = self.api()
        api.request("GET", "/v1/runs/x")
        with self.sidecar.lock:  # the server drops idle keep-alive connections
            for c in list(self.sidecar.connections):
                c.shutdown(socket.SHUT_RDWR)
        time.sleep(0.05)
        self.assertEqual(api.request("GET", "/v1/runs/x")["id"], "x")

    def test_url_with_path_prefix_and_no_scheme(self):
        api = self.api(self.sidecar.url.replace("http://", "") + "/")
        with self.assertRaises(HttpError):
            api.request("GET", "/v1/runs/none")
        self.assertEqual(self.sidecar.requests[-1]["path"], "/v1/runs/none")
        with self.assertRaises(ValueError):
            Api("ftp://x")


if __name__ == "__main__":
    unittest.main()
