"""Step reports and events: measured on the training thread, sent by the sender thread."""
import logging
import math
import os
import subprocess
import sys
import textwrap
import time
import unittest
from unittest import mock

import trainpilot
from standin import StandIn
from support import CONFIG, SidecarCase, free_port

HERE = os.path.dirname(os.path.abspath(__file__))
PACKAGE_ROOT = os.path.dirname(HERE)


class ReportingTest(SidecarCase):
    def test_start_registers_the_run_with_config_tune_and_pid(self):
        run = self.start(tune={"mode": "advise", "bounds": {"batch_size": {"min": 8, "max": 64}}})
        self.assertEqual((run.id, run.config_version, run.applied_version), ("r1", 1, 1))
        body = self.sidecar.requests[0]["body"]
        self.assertEqual(body["name"], "test")
        self.assertEqual(body["pid"], os.getpid())
        self.assertEqual(body["config"], {**CONFIG, "grad_accum_steps": 1})
        self.assertEqual(body["tune"]["mode"], "advise")
        self.assertEqual(body["tune"]["knobs"], ["batch_size", "learning_rate", "num_workers", "prefetch_factor", "persistent_workers", "pin_memory"])
        self.assertEqual(body["tune"]["bounds"], {"batch_size": {"min": 8, "max": 64}})

    def test_config_is_checked_before_anything_is_sent(self):
        with self.assertRaisesRegex(ValueError, "lacks num_workers"):
            trainpilot.start("x", {"batch_size": 8, "learning_rate": 0.1}, url=self.sidecar.url)
        with self.assertRaisesRegex(ValueError, "unknown keys \\['lr'\\]"):
            trainpilot.start("x", {**CONFIG, "lr": 1}, url=self.sidecar.url)
        self.assertEqual(self.sidecar.requests, [])

    def test_steps_arrive_batched_with_their_fields(self):
        run = self.start()
        for i in range(50):
            with run.step():
                run.log(loss=2.0 - i / 100, grad_sq_norm=0.5)
        self.assertTrue(run.finish())
        steps = self.sidecar.steps["r1"]
        self.assertEqual([s["step"] for s in steps], list(range(50)))
        first = steps[0]
        self.assertEqual((first["samples"], first["loss"], first["config_version"], first["grad_sq_norm"]), (8, 2.0, 1, 0.5))
        self.assertEqual(first["data_wait_s"], 0.0)
        self.assertGreater(first["duration_s"], 0)
        self.assertAlmostEqual(first["ts"], time.time(), delta=10)
        self.assertNotIn("rank", first)
        posts = [r for r in self.sidecar.requests if r["path"].endswith("/steps")]
        self.assertLess(len(posts), 50, "steps are sent in batches")
        self.assertEqual([e["kind"] for e in self.sidecar.events["r1"]], ["finished"])

    def test_data_wait_is_the_time_spent_waiting_for_the_batch(self):
        run = self.start()

        def slow():
            for i in range(3):
                time.sleep(0.03)
                yield i

        for _ in run.batches(slow()):
            with run.step(samples=5):
                time.sleep(0.01)
        run.finish()
        for s in self.sidecar.steps["r1"]:
            self.assertGreaterEqual(s["data_wait_s"], 0.025)
            self.assertGreaterEqual(s["duration_s"], s["data_wait_s"] + 0.009)
            self.assertEqual(s["samples"], 5)

    def test_loss_tensor_is_read_off_thread_and_non_finite_loss_sent_as_such(self):
        class Scalar:  # what a torch scalar tensor offers
            def __init__(self, v):
                self.v = v

            def detach(self):
                return self

            def item(self):
                return self.v

        run = self.start()
        self.steps(run, 1, loss=Scalar(1.5))
        self.steps(run, 1, loss=math.nan)
        self.steps(run, 1, loss=math.inf)
        run.finish()
        steps = self.sidecar.steps["r1"]
        self.assertEqual(steps[0]["loss"], 1.5)
        self.assertNotIn("loss_non_finite", steps[0])
        # JSON has no NaN or inf: the API's loss_non_finite flag says so, the loss left out.
        for s in steps[1:]:
            self.assertNotIn("loss", s)
            self.assertIs(s["loss_non_finite"], True)

    def test_a_slow_sidecar_never_slows_the_training_thread(self):
        run = self.start()
        self.sidecar.delay_s = 1.0
        t0 = time.perf_counter()
        self.steps(run, 3000, loss=1.0)
        self.assertLess(time.perf_counter() - t0, 0.5)
        self.sidecar.delay_s = 0
        self.wait_steps("r1", 3000)

    def test_sidecar_down_at_start_then_up_joins_late_and_counts_what_it_dropped(self):
        port = free_port()
        with self.assertLogs("trainpilot", logging.WARNING) as logs:
            t0 = time.monotonic()
            run = self.start(url=f"http://127.0.0.1:{port}", capacity=100)
            self.assertLess(time.monotonic() - t0, 2.0)
            self.assertIsNone(run.id)
            self.steps(run, 300)
            self.assertTrue(self.sidecar.wait_for(lambda _: run.stats["dropped"] == 200), run.stats)
            late = StandIn(port)
            self.addCleanup(late.stop)
            self.assertTrue(late.wait_for(lambda s: "r1" in s.steps and len(s.steps["r1"]) >= 100))
            self.assertEqual([s["step"] for s in late.steps["r1"]], list(range(200, 300)))
            self.assertTrue(late.wait_for(lambda s: any(e["kind"] == "note" for e in s.events["r1"])))
            note = [e for e in late.events["r1"] if e["kind"] == "note"][0]
            self.assertEqual(note["data"]["dropped_steps"], 200)
        self.assertEqual(run.id, "r1")
        self.assertEqual(sum("not reachable" in m for m in logs.output), 1, logs.output)

    def test_sidecar_killed_mid_run_and_back_reporting_resumes(self):
        run = self.start()
        self.steps(run, 10)
        self.wait_steps("r1", 10)
        self.sidecar.stop()
        with self.assertLogs("trainpilot", logging.WARNING) as logs:
            self.steps(run, 10)
            self.assertTrue(self.sidecar.wait_for(lambda _: logs.output), "the sender noticed")
            self.steps(run, 10)
            self.sidecar = self.sidecar.restart()
            self.wait_steps("r1", 30)
        self.assertEqual([s["step"] for s in self.sidecar.steps["r1"]], list(range(30)))
        self.assertEqual(sum("unreachable" in m for m in logs.output), 1, logs.output)

    def test_5xx_is_retried_and_4xx_dropped(self):
        run = self.start()
        self.sidecar.fail_status = 500
        self.steps(run, 5)
        time.sleep(0.2)
        self.sidecar.fail_status = 0
        self.wait_steps("r1", 5)
        self.sidecar.fail_status = 400
        with self.assertLogs("trainpilot", logging.WARNING):
            self.steps(run, 5)
            self.assertTrue(self.sidecar.wait_for(lambda s: run.stats["rejected"] >= 5))
        self.sidecar.fail_status = 0
        self.steps(run, 1)
        self.wait_steps("r1", 6)
        self.assertEqual(self.sidecar.steps["r1"][-1]["step"], 10)

    def test_token_from_the_environment(self):
        self.sidecar.token = "tok"
        os.environ["TRAINPILOT_TOKEN"] = "tok"
        run = self.start()
        self.steps(run, 2)
        self.wait_steps(run.id, 2)
        self.assertTrue(all(r["auth"] == "Bearer tok" for r in self.sidecar.requests))

    def test_finish_is_bounded_when_the_sidecar_hangs(self):
        run = self.start()
        self.sidecar.delay_s = 5
        self.steps(run, 3)
        t0 = time.monotonic()
        self.assertFalse(run.finish(timeout_s=0.5))
        self.assertLess(time.monotonic() - t0, 2.0, "not the sidecar's 5 s")
        self.sidecar.delay_s = 0

    def test_without_a_url_the_same_code_runs_and_sends_nothing(self):
        run = trainpilot.start("offline", dict(CONFIG))
        self.steps(run, 5, loss=1)
        self.assertEqual(run.step_index, 5)
        self.assertFalse(run.finish())
        self.assertEqual(self.sidecar.requests, [])

    def test_is_active_once_a_run_was_started_finished_or_not(self):
        # What the zero-code hook asks before it reports a step (it stands down when True).
        with mock.patch.object(trainpilot, "_runs", []):
            self.assertFalse(trainpilot.is_active())
            run = self.start()
            self.assertTrue(trainpilot.is_active())
            run.finish()
            self.assertTrue(trainpilot.is_active())


class ExitTest(SidecarCase):
    def run_script(self, body: str, **env: str) -> subprocess.CompletedProcess:
        script = textwrap.dedent("""
            import trainpilot
            run = trainpilot.start("script", {"batch_size": 4, "learning_rate": 0.1, "num_workers": 0})
            for _ in range(3):
                with run.step():
                    pass
        """) + textwrap.dedent(body)
        env = {**os.environ, "PYTHONPATH": PACKAGE_ROOT, "TRAINPILOT_URL": self.sidecar.url, **env}
        return subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=30)

    def test_a_script_that_never_calls_finish_is_reported_finished_at_exit(self):
        p = self.run_script("")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(len(self.sidecar.steps["r1"]), 3)
        self.assertEqual([e["kind"] for e in self.sidecar.events["r1"]], ["finished"])

    def test_an_attached_run_leaves_the_end_to_trainpilot_run_which_sees_the_exit_code(self):
        self.sidecar.add_run("job", config=None)
        p = self.run_script("import sys; sys.exit(3)", TRAINPILOT_RUN_ID="job")
        self.assertEqual(p.returncode, 3, p.stderr)
        self.assertEqual(len(self.sidecar.steps["job"]), 3)
        self.assertEqual([e["kind"] for e in self.sidecar.events["job"]], ["config_applied"])

    def test_an_uncaught_exception_is_reported_failed(self):
        p = self.run_script("raise KeyError('boom')")
        self.assertEqual(p.returncode, 1)
        self.assertIn("KeyError: 'boom'", p.stderr)
        failed = self.events("r1", "failed")
        self.assertEqual(failed[0]["data"]["error"], "KeyError: 'boom'")

    def test_the_sidecar_down_costs_the_script_nothing(self):
        self.sidecar.stop()
        t0 = time.monotonic()
        p = self.run_script("print('done')")
        self.assertEqual((p.returncode, p.stdout.strip()), (0, "done"), p.stderr)
        self.assertNotIn("Traceback", p.stderr)
        self.assertLess(time.monotonic() - t0, 10)


if __name__ == "__main__":
    unittest.main()
