"""_cuda_memory: torch.cuda.memory_stats() read into step-report fields, with a torch stand-in in
sys.modules (the client never imports torch itself), and nothing without CUDA in use."""
import sys
import types
import unittest

from support import SidecarCase
from trainpilot import _cuda_memory


def fake_torch(stats, initialized=True):
    cuda = types.SimpleNamespace(
        is_initialized=lambda: initialized,
        device_count=lambda: len(stats),
        memory_stats=lambda d: stats[d],
    )
    return types.SimpleNamespace(cuda=cuda)


GiB = 1024 ** 3


class CudaMemoryTest(unittest.TestCase):
    def setUp(self):
        self._saved = sys.modules.get("torch")

    def tearDown(self):
        if self._saved is None:
            sys.modules.pop("torch", None)
        else:
            sys.modules["torch"] = self._saved

    def test_reads_the_busiest_device_as_step_fields(self):
        busy = {"reserved_bytes.all.current": 12 * GiB, "allocated_bytes.all.current": 9 * GiB,
                "reserved_bytes.all.peak": 16 * GiB, "allocated_bytes.all.peak": 11 * GiB,
                "num_alloc_retries": 3, "num_ooms": 1}
        sys.modules["torch"] = fake_torch([{}, {"reserved_bytes.all.current": GiB}, busy])
        self.assertEqual(_cuda_memory.read(), {
            "cuda_reserved_bytes": 12 * GiB, "cuda_allocated_bytes": 9 * GiB,
            "cuda_reserved_peak_bytes": 16 * GiB, "cuda_allocated_peak_bytes": 11 * GiB,
            "cuda_alloc_retries": 3, "cuda_ooms": 1})

    def test_nothing_without_torch_or_without_cuda_in_use(self):
        sys.modules.pop("torch", None)
        self.assertEqual(_cuda_memory.read(), {})
        sys.modules["torch"] = fake_torch([{"num_ooms": 0}], initialized=False)
        self.assertEqual(_cuda_memory.read(), {})

    def test_a_failing_torch_is_no_error(self):
        def boom(d):
            raise RuntimeError("CUDA driver gone")
        torch = fake_torch([{}])
        torch.cuda.memory_stats = boom
        sys.modules["torch"] = torch
        self.assertEqual(_cuda_memory.read(), {})

    def test_every_reads_at_most_once_per_period(self):
        sys.modules["torch"] = fake_torch([{"num_ooms": 2}])
        now = [100.0]
        every = _cuda_memory.Every(10.0, clock=lambda: now[0])
        self.assertEqual(every(), {"cuda_ooms": 2})
        now[0] = 105.0
        self.assertEqual(every(), {})
        now[0] = 110.0
        self.assertEqual(every(), {"cuda_ooms": 2})


if __name__ == "__main__":
    unittest.main()


# The wiring: the sender puts the figures on a step it sends (and on no other within the period).

class SenderCarriesCudaMemoryTest(SidecarCase):
    def setUp(self):
        super().setUp()
        self._saved_torch = sys.modules.get("torch")
        sys.modules["torch"] = fake_torch([{"reserved_bytes.all.current": 12 * GiB, "allocated_bytes.all.current": 9 * GiB,
                                            "num_alloc_retries": 3}])

    def tearDown(self):
        if self._saved_torch is None:
            sys.modules.pop("torch", None)
        else:
            sys.modules["torch"] = self._saved_torch
        super().tearDown()

    def test_a_step_carries_torch_cuda_memory_stats(self):
        run = self.start()
        for _ in range(20):
            with run.step():
                pass
        self.assertTrue(run.finish())
        steps = self.sidecar.steps["r1"]
        with_cuda = [s for s in steps if "cuda_reserved_bytes" in s]
        self.assertEqual(len(with_cuda), 1, "once per period, on one step")
        self.assertEqual({k: v for k, v in with_cuda[0].items() if k.startswith("cuda_")},
                         {"cuda_reserved_bytes": 12 * GiB, "cuda_allocated_bytes": 9 * GiB, "cuda_alloc_retries": 3})
