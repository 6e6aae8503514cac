"""The zero-code hook's run of its own (_autohook/_own_run.py, issue 25): an unmodified script in a
real child interpreter with only PYTHONPATH (the hook) and TRAINPILOT_URL set, as a pod's trainer
container or a launcher of its own starts it — no `trainpilot run`, no TRAINPILOT_RUN_ID."""
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import unittest

from support import SidecarCase, free_port

from trainpilot._autohook._own_run import OwnRun, exit_code_of, script_name

CLIENT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HOOK = os.path.join(CLIENT, "hook")
PYTHON = "/usr/bin/python3"  # Debian's, with python3-torch

SCRIPT = """
import sys, torch
from torch.utils.data import DataLoader, TensorDataset
torch.manual_seed(0)
data = TensorDataset(torch.randn(64, 4), torch.randint(0, 2, (64,)))
model = torch.nn.Linear(4, 2)
opt = torch.optim.SGD(model.parameters(), lr=0.05)
steps = 0
for epoch in range(2):
    for x, y in DataLoader(data, batch_size=8):
        loss = torch.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad(); loss.backward(); opt.step(); steps += 1
    print(f"epoch {epoch}: loss {loss.item():.6f}")
print("steps", steps)
"""


def has_torch() -> bool:
    if not os.path.exists(PYTHON):
        return False
    return subprocess.run([PYTHON, "-c", "import torch"], capture_output=True).returncode == 0


@unittest.skipUnless(has_torch(), f"{PYTHON} cannot import torch")
class OwnRunInAChild(SidecarCase):
    def setUp(self):
        super().setUp()
        self.dir = tempfile.mkdtemp(prefix="trainpilot-own-run-")
        self.addCleanup(shutil.rmtree, self.dir, True)

    def run_script(self, tail="", *, url=None, **env):
        base = {k: v for k, v in os.environ.items() if not k.startswith(("TRAINPILOT_", "PYTHON"))}
        base.update({"TRAINPILOT_URL": url or self.sidecar.url, "PYTHONPATH": HOOK,
                     "PYTHONDONTWRITEBYTECODE": "1", **env})
        code = textwrap.dedent(SCRIPT) + textwrap.dedent(tail)
        path = os.path.join(self.dir, "train.py")
        with open(path, "w") as f:
            f.write(code)
        return subprocess.run([PYTHON, path], env=base, capture_output=True, text=True, timeout=120, cwd=self.dir)

    def without_trainpilot(self, tail=""):
        base = {k: v for k, v in os.environ.items() if not k.startswith(("TRAINPILOT_", "PYTHON"))}
        path = os.path.join(self.dir, "bare.py")
        with open(path, "w") as f:
            f.write(textwrap.dedent(SCRIPT) + textwrap.dedent(tail))
        return subprocess.run([PYTHON, path], env=base, capture_output=True, text=True, timeout=120, cwd=self.dir)

    def the_run(self):
        self.assertEqual(len(self.sidecar.runs), 1, self.sidecar.runs)
        return next(iter(self.sidecar.runs.values()))

    def test_registers_reports_every_step_and_finishes(self):
        r = self.run_script(TRAINPILOT_TUNE="advise", TRAINPILOT_KNOBS="num_workers", TRAINPILOT_HOST_MEMORY_BUDGET="6GiB")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, self.without_trainpilot().stdout)  # the script's own output, unchanged
        run = self.the_run()
        self.assertEqual(run["name"], "train.py")
        self.assertIsInstance(run["pid"], int)
        self.assertEqual(run["tune"]["mode"], "advise")
        self.assertEqual(run["tune"]["knobs"], ["num_workers"])  # as TRAINPILOT_KNOBS named them
        self.assertEqual(run["tune"]["host_memory_budget_bytes"], 6 * 2 ** 30)
        self.assertEqual(run["config"]["batch_size"], 8)
        self.assertEqual(len(self.sidecar.steps[run["id"]]), 16)
        ends = [e for e in self.sidecar.events[run["id"]] if e["kind"] in ("finished", "failed")]
        self.assertEqual([(e["kind"], e["data"]["exit_code"], e["data"]["by"]) for e in ends],
                         [("finished", 0, "zero-code hook")])

    def test_sys_exit_code_and_an_uncaught_exception_are_failures(self):
        r = self.run_script("sys.exit(3)\n")
        self.assertEqual(r.returncode, 3)
        run = self.the_run()
        ends = [e for e in self.sidecar.events[run["id"]] if e["kind"] in ("finished", "failed")]
        self.assertEqual([(e["kind"], e["data"]["exit_code"]) for e in ends], [("failed", 3)])

        self.sidecar.runs.clear()
        r = self.run_script("raise RuntimeError('boom')\n")
        self.assertEqual(r.returncode, 1)
        self.assertIn("RuntimeError: boom", r.stderr)  # Python's own traceback, as without the hook
        run = self.the_run()
        ends = [e for e in self.sidecar.events[run["id"]] if e["kind"] in ("finished", "failed")]
        self.assertEqual([(e["kind"], e["data"]["exit_code"], e["data"]["error"]) for e in ends],
                         [("failed", 1, "RuntimeError: boom")])

    def test_with_the_sidecar_down_the_script_runs_as_without_trainpilot(self):
        r = self.run_script("sys.exit(5)\n", url=f"http://127.0.0.1:{free_port()}")
        bare = self.without_trainpilot("sys.exit(5)\n")
        self.assertEqual((r.returncode, r.stdout), (bare.returncode, bare.stdout))
        self.assertEqual(self.sidecar.requests, [])

    def test_a_run_registered_by_trainpilot_run_is_not_registered_again(self):
        self.sidecar.add_run("r1")
        r = self.run_script(TRAINPILOT_RUN_ID="r1")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(list(self.sidecar.runs), ["r1"])
        self.assertEqual(len(self.sidecar.steps["r1"]), 16)
        self.assertFalse([e for e in self.sidecar.events["r1"] if e["kind"] in ("finished", "failed")])


class Environment(unittest.TestCase):
    def test_name_and_tune_mode(self):
        own = OwnRun({"TRAINPILOT_TUNE": "off"}, ["/w/train.py"])
        self.assertEqual((own.name, own.mode), ("train.py", "off"))
        own = OwnRun({"TRAINPILOT_TUNE": "sometimes", "TRAINPILOT_NAME": "resnet-7"}, ["x.py"])
        self.assertEqual((own.name, own.mode), ("resnet-7", "auto"))

    def test_host_memory_budget_sizes(self):
        from trainpilot._autohook._hook import parse_size

        self.assertEqual([parse_size(t) for t in ("6GiB", "512MiB", "8GB", "6Gi", "1048576", "1.5 TiB")],
                         [6 * 2 ** 30, 512 * 2 ** 20, 8 * 10 ** 9, 6 * 2 ** 30, 2 ** 20, int(1.5 * 2 ** 40)])
        # Ambiguous (6G), not a size, under 1 MiB: refused, as the CLI refuses them.
        self.assertEqual([parse_size(t) for t in ("6G", "six", "12", "6 GiBs")], [None] * 4)

    def test_script_names(self):
        self.assertEqual(script_name(["/opt/my job/train v2.py"]), "train-v2.py")
        self.assertEqual(script_name(["-c"]), "python")
        self.assertEqual(script_name([]), "python")
        self.assertEqual(script_name(["/usr/lib/python3/dist-packages/torch/distributed/run.py"]), "run.py")

    def test_exit_codes_as_python_makes_them(self):
        self.assertEqual([exit_code_of(s) for s in (None, 0, 3, 256 + 2, "bye", True, False)], [0, 0, 3, 2, 1, 1, 0])

    def test_outcomes(self):
        own = OwnRun({}, ["t.py"])
        self.assertEqual(own.outcome(), ("finished", {"exit_code": 0, "by": "zero-code hook"}))
        own.exit_code = 2
        self.assertEqual(own.outcome()[0], "failed")
        own.error, own.interrupted = "KeyboardInterrupt: ", True
        self.assertEqual(own.outcome(), ("failed", {"exit_code": 130, "error": "KeyboardInterrupt: ",
                                                    "signal": "SIGINT", "by": "zero-code hook"}))


if __name__ == "__main__":
    sys.exit(unittest.main())
