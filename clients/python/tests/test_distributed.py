"""Data parallel: two gloo ranks on CPU apply every config version at the same step."""
import json
import os
import subprocess
import sys

from support import SidecarCase, free_port, require_torch

require_torch()

HERE = os.path.dirname(os.path.abspath(__file__))


class TwoRanksTest(SidecarCase):
    def test_both_ranks_apply_each_version_at_the_same_step(self):
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([os.path.dirname(HERE), HERE]),
               "TRAINPILOT_URL": self.sidecar.url, "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(free_port()),
               "WORLD_SIZE": "2", "OMP_NUM_THREADS": "1"}
        ranks = [subprocess.Popen([sys.executable, os.path.join(HERE, "dist_worker.py"), "80"],
                                  env={**env, "RANK": str(r)}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for r in (0, 1)]
        try:
            self.assertTrue(self.sidecar.wait_for(lambda s: "r1" in s.steps and len(s.steps["r1"]) >= 20, 60))
            self.sidecar.new_version("r1", batch_size=4)
            self.assertTrue(self.sidecar.wait_for(
                lambda s: sum(e["kind"] == "config_applied" for e in s.events["r1"]) >= 2, 30))
            self.sidecar.new_version("r1", learning_rate=0.05)
            outs = [p.communicate(timeout=90) for p in ranks]
        finally:
            for p in ranks:
                p.kill() if p.poll() is None else None
        for p, (out, err) in zip(ranks, outs):
            self.assertEqual(p.returncode, 0, err)
        results = sorted((json.loads(out.strip().splitlines()[-1]) for out, _ in outs), key=lambda r: r["rank"])
        self.assertEqual([r["id"] for r in results], ["r1", "r1"], "one run, registered by rank 0")
        self.assertEqual(sum(r["path"] == "/v1/runs" for r in self.sidecar.requests), 1)
        # Each rank saw the same versions take effect at the same step, with the same values.
        self.assertEqual(len(results[0]["applied"]), 2, results)
        self.assertEqual(results[0]["applied"], results[1]["applied"])
        (s2, v2, bs2, _), (s3, v3, _, lr3) = results[0]["applied"]
        self.assertEqual((v2, bs2, v3, lr3), (2, 4, 3, 0.05))
        events = [e for e in self.sidecar.events["r1"] if e["kind"] == "config_applied"]
        by_version = {}
        for e in events:
            by_version.setdefault(e["data"]["version"], {})[e["data"]["rank"]] = e["step"]
        self.assertEqual(by_version, {2: {0: s2, 1: s2}, 3: {0: s3, 1: s3}})
        steps = self.sidecar.steps["r1"]
        self.assertEqual({(s["rank"], s["world_size"]) for s in steps}, {(0, 2), (1, 2)})
        self.assertEqual({s["step"] for s in steps if s["rank"] == 1}, set(range(80)))
        self.assertEqual([e["kind"] for e in self.sidecar.events["r1"]].count("finished"), 1, "rank 0 ends the run")
