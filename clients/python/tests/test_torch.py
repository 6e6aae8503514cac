"""The PyTorch helpers with real torch: the rebuilding data loader, OOM recovery, optimizers."""
import unittest

from support import CONFIG, SidecarCase, require_torch

torch = require_torch()
from torch.utils.data import Dataset  # noqa: E402

from trainpilot.loader import ResumableSampler  # noqa: E402
from trainpilot.oom import is_oom  # noqa: E402


class Indices(Dataset):
    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return torch.tensor(i)


def huge_allocation():
    """A real CPU out-of-memory error: 1 PiB."""
    return torch.empty(2 ** 50, dtype=torch.uint8)


class LoaderTest(SidecarCase):
    def test_rebuilt_mid_epoch_with_new_batch_size_and_workers_without_repeating_a_sample(self):
        run = self.start()
        loader = run.data_loader(Indices(40), shuffle=True, seed=3)
        seen, sizes = [], []
        for i, batch in enumerate(loader):
            with run.step():
                seen += batch.tolist()
                sizes.append(len(batch))
            if i == 1:
                self.sidecar.new_version("r1", batch_size=4, num_workers=2)
                self.assertTrue(self.sidecar.wait_for(lambda s: run.config_version == 2))
        self.assertEqual(sorted(seen), list(range(40)))
        self.assertEqual(sizes, [8, 8] + [4] * 6)
        self.assertEqual(loader.rebuilds, 2)
        applied = self.wait_event("r1", "config_applied")[0]
        self.assertEqual((applied["step"], applied["data"]["num_workers"]), (2, 2))
        end = self.wait_event("r1", "epoch_end")[0]["data"]
        self.assertEqual((end["epoch"], end.get("same_loader"), end["config_version"], end["batch_bytes"]), (1, None, 2, 8 * 8))
        self.assertTrue(0 < end["loader_start_s"] <= end["epoch_s"], end)
        steps = self.wait_steps("r1", 8)
        self.assertEqual([s["samples"] for s in steps], sizes)
        self.assertGreater(steps[2]["data_wait_s"], 0, "the rebuild's worker start is a data wait")

    def test_epochs_reshuffle_and_the_last_batch_counts_its_own_samples(self):
        run = self.start({**CONFIG, "batch_size": 16})
        loader = run.data_loader(Indices(20), shuffle=True)
        self.assertEqual(len(loader), 2)
        orders = []
        for _ in range(2):
            order = []
            for batch in loader:
                with run.step():
                    order += batch.tolist()
            orders.append(order)
        self.assertNotEqual(orders[0], orders[1])
        self.assertEqual(sorted(orders[1]), list(range(20)))
        self.assertEqual([s["samples"] for s in self.wait_steps("r1", 4)], [16, 4, 16, 4])
        self.assertEqual(loader.rebuilds, 1, "same layout: the loader is kept across epochs")

    def test_loader_knobs_of_the_config_are_applied_and_kept_workers_serve_the_next_epoch(self):
        run = self.start({**CONFIG, "num_workers": 1, "persistent_workers": False, "prefetch_factor": 2})
        loader = run.data_loader(Indices(16), shuffle=True)

        def epoch():
            n = 0
            for batch in loader:
                with run.step():
                    n += len(batch)
            return n

        self.assertEqual(epoch(), 16)
        self.assertFalse(loader._loader.persistent_workers)
        self.sidecar.new_version("r1", persistent_workers=True, prefetch_factor=4)
        self.assertTrue(self.sidecar.wait_for(lambda s: run.config_version == 2))
        self.assertEqual(epoch(), 16)
        built = loader._loader
        self.assertEqual((built.persistent_workers, built.prefetch_factor), (True, 4))
        kept = built._iterator
        self.assertEqual(epoch(), 16)
        self.assertIs(loader._loader._iterator, kept)  # the same workers, the next epoch
        applied = [e["data"] for e in self.wait_event("r1", "config_applied")]
        self.assertEqual((applied[-1]["persistent_workers"], applied[-1]["prefetch_factor"]), (True, 4))
        self.assertTrue(self.sidecar.wait_for(lambda s: len([e for e in s.events["r1"] if e["kind"] == "epoch_end"]) >= 3))
        self.assertEqual([e["data"].get("same_loader") for e in self.events("r1", "epoch_end")], [None, False, True])

    def test_workers_to_zero_drop_the_knobs_torch_refuses_without_them(self):
        run = self.start({**CONFIG, "num_workers": 1, "persistent_workers": True, "prefetch_factor": 4})
        loader = run.data_loader(Indices(16))
        self.sidecar.new_version("r1", num_workers=0)
        self.assertTrue(self.sidecar.wait_for(lambda s: run.config_version == 2))
        n = 0
        for batch in loader:
            with run.step():
                n += len(batch)
        self.assertEqual((n, loader._loader.num_workers), (16, 0))

    def test_arguments_the_run_owns_are_refused(self):
        run = self.start()
        with self.assertRaisesRegex(TypeError, "batch_size"):
            run.data_loader(Indices(4), batch_size=2)

    def test_ranks_get_equal_disjoint_shares(self):
        shares = [ResumableSampler(5, False, 0, r, 2) for r in (0, 1)]
        self.assertEqual([s.order for s in shares], [[0, 2, 4], [1, 3, 0]])
        shares[1].offset = 2
        self.assertEqual(list(shares[1]), [0])


class OomTest(SidecarCase):
    def test_cpu_out_of_memory_is_reported_and_the_loop_goes_on_at_half_the_batch(self):
        model = torch.nn.Linear(4, 1)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        run = self.start({**CONFIG, "batch_size": 16}, optimizer=opt)
        loader = run.data_loader(Indices(64))
        sizes = []
        with self.assertLogs("trainpilot"):
            for i, batch in enumerate(loader):
                with run.step():
                    sizes.append(len(batch))
                    model(torch.ones(len(batch), 4)).sum().backward()
                    if i == 1:
                        huge_allocation()
                    opt.step()
                if i == 1:
                    grad_after_oom = model.weight.grad
                opt.zero_grad()
        self.assertEqual(sizes, [16, 16, 8, 8, 8, 8, 8, 8], "the failed batch's samples come again")
        self.assertIsNone(grad_after_oom, "the failed step's gradients are dropped")
        oom = self.wait_event("r1", "oom")[0]
        self.assertEqual((oom["step"], oom["data"]["batch_size"]), (1, 16))
        self.assertIn("can't allocate memory", oom["data"]["message"])
        self.assertEqual(run.applied_version, 1, "a local back-off is no new version")
        # The sidecar's next version cannot take the batch back to where it failed.
        self.sidecar.new_version("r1", batch_size=32)
        self.assertTrue(self.sidecar.wait_for(lambda s: run.config_version == 2))
        self.steps(run, 1)
        self.assertEqual(run.applied["batch_size"], 8)

    def test_out_of_memory_at_the_lowest_batch_size_is_raised(self):
        run = self.start({**CONFIG, "batch_size": 8}, tune={"bounds": {"batch_size": {"min": 8, "max": 64}}})
        with self.assertRaises(RuntimeError):
            with run.step():
                huge_allocation()
        self.assertEqual(self.wait_event("r1", "oom")[0]["data"]["batch_size"], 8)

    def test_other_errors_pass_through(self):
        run = self.start()
        with self.assertRaises(ZeroDivisionError):
            with run.step():
                1 / 0
        self.assertEqual(run.step_index, 0)

    def test_recognises_torchs_own_out_of_memory_error(self):
        self.assertTrue(is_oom(torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")))


class OptimizerTest(SidecarCase):
    def test_torch_optimizer_param_groups_follow_the_config(self):
        a, b = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
        opt = torch.optim.Adam([{"params": a.parameters()}, {"params": b.parameters(), "lr": 0.05}], lr=0.1)
        run = self.start(optimizer=opt)
        self.assertEqual(self.sidecar.requests[0]["body"]["tune"]["optimizer"], "adam")
        self.sidecar.new_version("r1", learning_rate=0.4)
        self.assertTrue(self.sidecar.wait_for(lambda s: run.config_version == 2))
        self.steps(run, 1)
        self.assertEqual([g["lr"] for g in opt.param_groups], [0.4, 0.2])


if __name__ == "__main__":
    unittest.main()
