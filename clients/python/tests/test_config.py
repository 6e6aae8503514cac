"""Config: the poller keeps run.config current; the run applies it at safe points and says so."""
import os
import time
import unittest

from standin import StandIn
from support import CONFIG, SidecarCase, free_port


class Optimizer:
    """The part of a torch optimizer the run touches: param_groups (torch's own in test_torch)."""

    def __init__(self, *lrs):
        self.param_groups = [{"lr": lr} for lr in lrs]

    def zero_grad(self, set_to_none=True):
        pass


class ConfigTest(SidecarCase):
    def wait_config(self, run, version):
        self.assertTrue(self.sidecar.wait_for(lambda s: run.config_version >= version),
                        f"run.config_version stayed {run.config_version}")

    def test_new_version_is_polled_applied_at_the_next_step_and_acknowledged(self):
        run = self.start()
        self.steps(run, 3)
        self.sidecar.new_version("r1", reason="input bound", num_workers=2, batch_size=16)
        self.wait_config(run, 2)
        self.assertEqual((run.config["num_workers"], run.reason), (2, "input bound"))
        self.assertEqual(run.applied["num_workers"], 0, "not before a safe point")
        layout = run.layout
        self.steps(run, 2)
        self.assertEqual((run.applied_version, run.applied["batch_size"], run.layout), (2, 16, layout + 1))
        applied = self.wait_event("r1", "config_applied")
        self.assertEqual(len(applied), 1)
        self.assertEqual((applied[0]["step"], applied[0]["data"]["version"], applied[0]["data"]["batch_size"]), (3, 2, 16))
        steps = self.wait_steps("r1", 5)
        self.assertEqual([s["config_version"] for s in steps], [1, 1, 1, 2, 2])
        self.assertEqual([s["samples"] for s in steps], [8, 8, 8, 16, 16])
        polls = [r for r in self.sidecar.requests if r["path"].endswith("/config")]
        self.assertEqual(polls[0]["query"]["after"], ["1"])

    def test_learning_rate_goes_into_param_groups_keeping_their_ratio_with_a_ramp(self):
        opt = Optimizer(0.1, 0.01)
        run = self.start(optimizer=opt)
        self.sidecar.new_version("r1", learning_rate=0.2, lr_warmup_steps=4)
        self.wait_config(run, 2)
        seen = []
        for _ in range(6):
            with run.step():
                seen.append([round(g["lr"], 6) for g in opt.param_groups])
        self.assertEqual(seen, [[0.125, 0.0125], [0.15, 0.015], [0.175, 0.0175], [0.2, 0.02], [0.2, 0.02], [0.2, 0.02]])
        self.assertEqual(self.wait_event("r1", "config_applied")[0]["data"]["learning_rate"], 0.2)

    def test_learning_rate_without_warm_up_is_set_at_once(self):
        opt = Optimizer(0.1)
        run = self.start()
        run.attach_optimizer(opt)
        self.sidecar.new_version("r1", learning_rate=0.05)
        self.wait_config(run, 2)
        self.steps(run, 1)
        self.assertEqual(opt.param_groups[0]["lr"], 0.05)

    def test_optimizer_family_is_told_to_the_tuner(self):
        class AdamW(Optimizer):
            pass

        self.start(optimizer=AdamW(0.1))
        self.assertEqual(self.sidecar.requests[0]["body"]["tune"]["optimizer"], "adamw")

    def test_grad_accumulation_count_changes_only_at_a_boundary(self):
        run = self.start({**CONFIG, "grad_accum_steps": 2})
        pattern = []

        def micro():
            with run.step():
                pattern.append((run.accum_steps, run.should_step()))

        micro()  # 1 of 2
        self.sidecar.new_version("r1", grad_accum_steps=3)
        self.wait_config(run, 2)
        for _ in range(7):
            micro()
        self.assertEqual(pattern, [(2, False), (2, True), (3, False), (3, False), (3, True), (3, False), (3, False), (3, True)])

    def test_attach_gives_a_run_registered_by_trainpilot_run_its_config(self):
        self.sidecar.add_run("job1", config=None, mode="advise")
        os.environ["TRAINPILOT_RUN_ID"] = "job1"
        run = self.start(tune={"mode": "auto", "optimizer": "sgd"})
        self.assertEqual((run.id, run.config_version, run.applied_version), ("job1", 1, 1))
        put = [r for r in self.sidecar.requests if r["method"] == "PUT"][0]
        self.assertEqual(put["path"], "/v1/runs/job1/config")
        self.assertEqual(put["body"]["config"]["batch_size"], 8)
        self.assertEqual(put["body"]["tune"]["mode"], "advise", "the command line's --tune wins")
        self.assertEqual(put["body"]["tune"]["optimizer"], "sgd")
        self.assertFalse(any(r["method"] == "POST" and r["path"] == "/v1/runs" for r in self.sidecar.requests))
        self.steps(run, 2)
        self.assertEqual(self.wait_steps("job1", 2)[0]["config_version"], 1)
        ack = self.wait_event("job1", "config_applied")
        self.assertEqual((ack[0]["step"], ack[0]["data"]["version"]), (0, 1), "the attached config is in effect")

    def test_attach_when_the_sidecar_answers_only_later(self):
        port = free_port()
        with self.assertLogs("trainpilot"):
            run = self.start(url=f"http://127.0.0.1:{port}", run_id="late")
        self.steps(run, 3)
        late = StandIn(port)
        self.addCleanup(late.stop)
        late.add_run("late", config=None)
        self.assertTrue(late.wait_for(lambda s: any(e["kind"] == "config_applied" for e in s.events["late"])))
        self.assertEqual(late.runs["late"]["config"]["batch_size"], 8)
        self.assertEqual([e["data"]["version"] for e in late.events["late"]], [1])
        self.assertTrue(late.wait_for(lambda s: len(s.steps["late"]) == 3))

    def test_attach_to_a_configured_run_adopts_its_config(self):
        self.sidecar.add_run("job2", config={**CONFIG, "grad_accum_steps": 1})
        self.sidecar.new_version("job2", batch_size=32)
        run = self.start(run_id="job2")
        self.assertEqual((run.applied_version, run.applied["batch_size"]), (0, 8))
        self.steps(run, 1)
        self.assertEqual((run.applied_version, run.applied["batch_size"]), (2, 32))
        self.assertEqual(self.wait_event("job2", "config_applied")[0]["data"]["version"], 2)
        self.assertFalse(any(r["method"] == "PUT" for r in self.sidecar.requests))

    def test_poll_survives_the_sidecar_going_away(self):
        run = self.start()
        self.sidecar.stop()
        time.sleep(0.3)
        self.sidecar = self.sidecar.restart()
        self.sidecar.new_version("r1", num_workers=1)
        self.wait_config(run, 2)
        self.steps(run, 1)
        self.assertEqual(run.applied["num_workers"], 1)


if __name__ == "__main__":
    unittest.main()
