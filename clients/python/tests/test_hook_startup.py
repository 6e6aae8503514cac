"""The zero-code hook's start-up shim (clients/python/hook/sitecustomize.py) in real child
interpreters, as `trainpilot run` starts them: the sitecustomize it shadows still runs, a script
that never imports torch is left alone, and a broken hook or a missing torch change nothing."""
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import unittest

from support import SidecarCase

CLIENT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HOOK = os.path.join(CLIENT, "hook")
PYTHON = "/usr/bin/python3"  # Debian's, with python3-torch


class Startup(SidecarCase):
    def setUp(self):
        super().setUp()
        self.sidecar.add_run("r1")
        self.dir = tempfile.mkdtemp(prefix="trainpilot-hook-")
        self.addCleanup(shutil.rmtree, self.dir, True)

    def run_py(self, code, *, pythonpath, python=PYTHON, **env):
        base = {k: v for k, v in os.environ.items() if not k.startswith(("TRAINPILOT_", "PYTHON"))}
        base.update({"TRAINPILOT_URL": self.sidecar.url, "TRAINPILOT_RUN_ID": "r1", "PYTHONPATH": pythonpath,
                     "PYTHONDONTWRITEBYTECODE": "1", **env})
        return subprocess.run([python, "-c", textwrap.dedent(code)], env=base, capture_output=True, text=True, timeout=120)

    def test_the_sitecustomize_it_shadows_still_runs(self):
        mine = os.path.join(self.dir, "site")
        os.makedirs(mine)
        with open(os.path.join(mine, "sitecustomize.py"), "w") as f:
            f.write("import os\nMARK = 'theirs'\nos.environ['SITE_RAN'] = '1'\n")
        r = self.run_py("""
            import os, sys, sitecustomize
            print(os.environ.get('SITE_RAN'), sitecustomize.MARK, 'torch' in sys.modules)
            print(any(type(f).__name__ == 'TorchWatch' for f in sys.meta_path))
        """, pythonpath=f"{HOOK}:{mine}")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.split("\n")[:2], ["1 theirs False", "True"])
        self.assertEqual(r.stderr, "")

    def test_the_distributions_sitecustomize_runs_too(self):
        # Debian's (/usr/lib/python3.11/sitecustomize.py) is the next one on sys.path.
        r = self.run_py("import sitecustomize; print(sitecustomize.__file__)", pythonpath=HOOK)
        self.assertEqual(r.returncode, 0, r.stderr)
        if os.path.exists(f"/usr/lib/python{sys.version_info.major}.{sys.version_info.minor}/sitecustomize.py"):
            self.assertNotIn(HOOK, r.stdout)

    def test_a_script_that_never_imports_torch_keeps_its_exit_code_and_output(self):
        r = self.run_py("import sys; print('plain'); sys.exit(3)", pythonpath=HOOK)
        self.assertEqual((r.returncode, r.stdout, r.stderr), (3, "plain\n", ""))
        self.assertEqual(self.sidecar.requests, [])

    def test_off_without_a_sidecar_or_under_TRAINPILOT_INJECT_0(self):
        code = "import sys; print(any(type(f).__name__ == 'TorchWatch' for f in sys.meta_path))"
        self.assertEqual(self.run_py(code, pythonpath=HOOK, TRAINPILOT_INJECT="0").stdout, "False\n")
        self.assertEqual(self.run_py(code, pythonpath=HOOK, TRAINPILOT_URL="").stdout, "False\n")
        # Without a run registered for it the hook is on: it registers one of its own (issue 25).
        self.assertEqual(self.run_py(code, pythonpath=HOOK, TRAINPILOT_RUN_ID="").stdout, "True\n")

    def test_activates_once_torch_is_imported(self):
        r = self.run_py("""
            import sys, torch
            hook = sys.modules['_trainpilot_zero_code._autohook']._active
            print(hook is not None and hook.on, 'trainpilot' in sys.modules)
            print(type(torch.__spec__.loader).__name__, 'exec_module' in vars(torch.__spec__.loader))
        """, pythonpath=HOOK)
        self.assertEqual(r.returncode, 0, r.stderr)
        # The job's own `import trainpilot` is left as it was; torch's loader keeps its class and
        # loses the one-off exec_module the shim gave it.
        self.assertEqual(r.stdout, "True False\nSourceFileLoader False\n")

    def test_a_hook_whose_own_import_fails_leaves_the_job_as_it_was(self):
        # A copy of the client whose hook does not import (a syntax error in it).
        shutil.copytree(HOOK, os.path.join(self.dir, "hook"))
        shutil.copytree(os.path.join(CLIENT, "trainpilot"), os.path.join(self.dir, "trainpilot"),
                        ignore=shutil.ignore_patterns("__pycache__"))
        with open(os.path.join(self.dir, "trainpilot", "_autohook", "_hook.py"), "a") as f:
            f.write("\ndef broken(:\n")
        r = self.run_py("""
            import sys, torch
            x = torch.ones(3, requires_grad=True)
            opt = torch.optim.SGD([x], lr=0.1)
            x.sum().backward(); opt.step()
            print('trained', round(float(x.sum()), 3))
            sys.exit(5)
        """, pythonpath=os.path.join(self.dir, "hook"))
        self.assertEqual(r.returncode, 5, r.stderr)
        self.assertEqual(r.stdout, "trained 2.7\n")
        self.assertIn("trainpilot: zero-code hook off (SyntaxError", r.stderr)
        self.assertEqual(self.sidecar.requests, [])

    def test_a_python_without_torch_fails_as_it_would_without_the_hook(self):
        other = shutil.which("python3") or PYTHON
        extra = ""
        if subprocess.run([other, "-c", "import torch"], capture_output=True).returncode == 0:
            # This interpreter has torch: hide it as a missing one would be (never skipped, CI=true).
            extra = os.path.join(self.dir, "no-torch")
            os.makedirs(os.path.join(extra, "torch"))
            with open(os.path.join(extra, "torch", "__init__.py"), "w") as f:
                f.write("raise ModuleNotFoundError(\"No module named 'torch'\", name='torch')\n")
        code = "import sys\ntry:\n    import torch\nexcept ImportError as e:\n    print(e.name); sys.exit(4)\n"
        hooked = self.run_py(code, pythonpath=f"{HOOK}:{extra}" if extra else HOOK, python=other)
        bare = self.run_py(code, pythonpath=extra, python=other)
        self.assertEqual((hooked.returncode, hooked.stdout, hooked.stderr), (bare.returncode, bare.stdout, bare.stderr))
        self.assertEqual((hooked.returncode, hooked.stdout), (4, "torch\n"))
        self.assertEqual(self.sidecar.requests, [])

if __name__ == "__main__":
    unittest.main()
