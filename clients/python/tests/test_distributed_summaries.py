"""Data parallel across nodes: per-rank summaries ride the job's own exchange (DESIGN §9).

Two gloo ranks on CPU run DistSync.exchange as the client does; rank 0 must get every rank's
row on the exchanges its header announced, every rank must make the same call at the same step,
and a summary that raises must not skip the collective. RankAgent's sums are checked on the rows.
"""
import json
import os
import subprocess
import sys
import textwrap
import unittest

from support import free_port, require_torch

require_torch()

HERE = os.path.dirname(os.path.abspath(__file__))

RANK = textwrap.dedent("""
    import json, sys
    import torch.distributed as dist
    from trainpilot.distributed import DistSync
    dist.init_process_group("gloo")
    sync = DistSync(dist, 10, summary_s=0.0, summary_steps=30)
    sync.share("r1", 1, {"batch_size": 8})
    nodes = sync.share_nodes("node-%d" % dist.get_rank())
    tables, calls, n = [], [], [0]
    def summary():
        n[0] += 1
        if dist.get_rank() == 1 and n[0] == 2:
            raise RuntimeError("a broken summary")
        return (30, 0.3 * (1 + dist.get_rank()), 0.1 * dist.get_rank(), 240, 100 + n[0], dist.get_rank() + 1)
    got = None
    for i in range(20):
        before = sync.summaries
        r = sync.exchange(i * 10, (2 if i >= 12 else 1, {"batch_size": 4}, "r1"), summary,
                          tables.append if dist.get_rank() == 0 else None)
        if sync.summaries > before:
            calls.append(i * 10)
        if r is not None:
            got = [i * 10, r[0], r[3]]
    print(json.dumps({"rank": dist.get_rank(), "nodes": nodes, "calls": calls, "tables": tables, "got": got}))
    dist.destroy_process_group()
""")


class SummariesTest(unittest.TestCase):
    def test_rank_0_gets_every_rank_row_on_the_same_exchanges(self):
        env = {**os.environ, "PYTHONPATH": os.path.dirname(HERE), "MASTER_ADDR": "127.0.0.1",
               "MASTER_PORT": str(free_port()), "WORLD_SIZE": "2", "OMP_NUM_THREADS": "1"}
        procs = [subprocess.Popen([sys.executable, "-c", RANK], env={**env, "RANK": str(r)},
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for r in (0, 1)]
        outs = [p.communicate(timeout=60) for p in procs]
        for p, (_, err) in zip(procs, outs):
            self.assertEqual(p.returncode, 0, err)
        r0, r1 = (json.loads(o.strip().splitlines()[-1]) for o, _ in outs)
        self.assertEqual(r0["nodes"], ["node-0", "node-1"])
        # Rank 0 called a summary once 30 steps had passed, in the header before: the same steps on both.
        self.assertEqual(r0["calls"], r1["calls"])
        self.assertEqual(r0["calls"][:3], [40, 80, 120])
        self.assertEqual(len(r0["tables"]), len(r0["calls"]))
        first = r0["tables"][0]
        self.assertEqual([row[:2] for row in first], [[1.0, 40.0], [0.0, 40.0]])  # rank 0's header in its row
        self.assertEqual(first[0][2:], [30.0, 0.3, 0.0, 240.0, 101.0, 1.0])
        self.assertEqual(first[1][2:], [30.0, 0.6, 0.1, 240.0, 101.0, 2.0])
        # Rank 1's second summary raised: its row says nothing, and the collective went on.
        self.assertEqual(r0["tables"][1][1][2:6], [0.0, 0.0, 0.0, 0.0])
        # The new version reached rank 1 at the step rank 0 chose, on a header or a summary exchange.
        self.assertEqual(r1["got"], [120, 2, 120])

    def test_rank_agent_sums_rows_until_it_forwards(self):
        from trainpilot._ranks import KINDS, RankAgent

        agent = RankAgent(None, lambda: None, rank=0, world_size=2, node="n", copy_body=dict, nodes=lambda: ["a", "b"])
        agent.tables.append([[1, 40, 30, 0.3, 0.0, 240, 101, 7], [0, 40, 30, 0.6, 0.9, 240, 101, 0]])
        agent.tables.append([[1, 80, 30, 0.3, 0.0, 240, 131, -1], [0, 80, 30, 0.6, 0.3, 240, 131, 99]])
        agent._take_tables()
        t0, t1 = agent._totals[0], agent._totals[1]
        self.assertEqual((t0.steps, t0.samples, t0.last_step, t0.verdict), (60, 480, 131, KINDS[7]))
        self.assertAlmostEqual(t0.duration_s, 0.6)
        self.assertEqual((t1.steps, t1.last_step, t1.verdict), (60, 131, "input_bound"))
        self.assertAlmostEqual(t1.data_wait_s, 0.9)  # a wait over the step's duration is cut to it


if __name__ == "__main__":
    unittest.main()
