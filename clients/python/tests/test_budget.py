"""The CPU budget the client reads inside the job and sends at registration."""
import os
import subprocess
import sys
import tempfile
import unittest

from support import SidecarCase
from trainpilot._budget import cpu_budget

HERE = os.path.dirname(os.path.abspath(__file__))
V1 = "/sys/fs/cgroup/cpu"


def _writable_v1() -> bool:
    probe = os.path.join(V1, f"tp-pyprobe-{os.getpid()}")
    try:
        os.mkdir(probe)
        os.rmdir(probe)
        return True
    except OSError:
        return False


class BudgetTest(unittest.TestCase):
    def test_affinity_without_a_quota(self):
        b = cpu_budget(root=tempfile.mkdtemp(), proc_cgroup_path="/nonexistent")
        self.assertEqual(b["cores"], float(len(os.sched_getaffinity(0))))
        self.assertIn("sched_getaffinity", b["source"])

    def test_v2_fixture_tightest_quota_along_the_path(self):
        root = tempfile.mkdtemp()
        os.makedirs(os.path.join(root, "pod", "ctr"))
        with open(os.path.join(root, "pod", "cpu.max"), "w") as f:
            f.write("50000 100000\n")
        with open(os.path.join(root, "pod", "ctr", "cpu.max"), "w") as f:
            f.write("max 100000\n")
        cg = os.path.join(root, "cgroup")
        with open(cg, "w") as f:
            f.write("0::/pod/ctr\n")
        b = cpu_budget(root=root, proc_cgroup_path=cg)
        self.assertEqual(b["cores"], 0.5)
        self.assertIn(os.path.join(root, "pod", "cpu.max"), b["source"])

    @unittest.skipUnless(_writable_v1() or os.environ.get("CI") == "true", "needs a writable cgroup v1 cpu hierarchy (root)")
    def test_real_v1_cgroup_limits_the_job_to_one_core(self):
        d = os.path.join(V1, f"tp-pytest-{os.getpid()}")
        os.mkdir(d)
        try:
            with open(os.path.join(d, "cpu.cfs_period_us"), "w") as f:
                f.write("100000")
            with open(os.path.join(d, "cpu.cfs_quota_us"), "w") as f:
                f.write("100000")
            client = os.path.dirname(HERE)
            procs = os.path.join(d, "cgroup.procs")
            # The child moves itself into the cgroup (writes its pid to cgroup.procs), then reads its budget.
            p = subprocess.Popen([sys.executable, "-c", "import os,sys,time\nwith open(sys.argv[1],'w') as f: f.write(str(os.getpid()))\n"
                                  "time.sleep(0.5)\nsys.path.insert(0, sys.argv[2])\nfrom trainpilot._budget import cpu_budget\nimport json\nprint(json.dumps(cpu_budget()))",
                                  procs, client], stdout=subprocess.PIPE, text=True)
            out, _ = p.communicate(timeout=20)
            import json
            b = json.loads(out)
            self.assertEqual(b["cores"], 1.0)
            self.assertIn(d, b["source"])
        finally:
            os.rmdir(d)


class RegistrationTest(SidecarCase):
    def test_registration_carries_the_jobs_cpu_budget(self):
        run = self.start()
        self.assertTrue(self.sidecar.wait_for(lambda s: run.id is not None and s.runs.get(run.id, {}).get("cpu_budget") is not None),
                        "the stand-in sidecar got no cpu_budget")
        b = self.sidecar.runs[run.id]["cpu_budget"]
        self.assertGreater(b["cores"], 0)
        self.assertIsInstance(b["source"], str)


if __name__ == "__main__":
    unittest.main()
