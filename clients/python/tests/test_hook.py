"""The zero-code hook (trainpilot/_autohook) in this process, with real torch and the stand-in
sidecar: what it counts as a step, what it reports, what it applies and when, and how it stops."""
import os
import unittest
from unittest import mock

from support import SidecarCase, require_torch

torch = require_torch()
from torch.utils.data import DataLoader, Dataset, IterableDataset  # noqa: E402

from trainpilot._autohook._clock import leading_dim  # noqa: E402
from trainpilot._autohook._hook import Hook  # noqa: E402


class Squares(Dataset):
    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return torch.full((4,), float(i)), i % 2


class Stream(IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        return iter([(torch.zeros(4), 0)] * self.n)


class HookCase(SidecarCase):
    """A hook installed on torch for one test, attached to the stand-in's run r1."""

    def setUp(self):
        super().setUp()
        import trainpilot

        # Runs other test modules started in this process would make the hook stand down.
        patcher = mock.patch.object(trainpilot, "is_active", lambda: False)
        patcher.start()
        self.addCleanup(patcher.stop)
        self.sidecar.add_run("r1", mode="auto")
        self.hook = Hook(torch, self.sidecar.url, None, "r1")
        self.hook.patches.install()
        self.addCleanup(self.hook.patches.restore)
        self.addCleanup(lambda: self.hook.link.close(1.0))
        self.model = torch.nn.Linear(4, 2)

    def train(self, loader, opt=None, epochs=1, accum=1, more=None):
        opt = opt or torch.optim.SGD(self.model.parameters(), lr=0.1)
        steps = 0
        for _ in range(epochs):
            for i, (x, y) in enumerate(loader, 1):
                loss = torch.nn.functional.cross_entropy(self.model(x), y)
                loss.backward()
                if i % accum == 0:
                    opt.step()
                    opt.zero_grad()
                    steps += 1
                    if more:
                        more()
        return steps

    def reported(self, n):
        self.hook.link.sender.flush(3.0)
        return self.wait_steps("r1", n)

    def ack(self, version):
        """The config_applied event of this version, once it is there."""
        self.assertTrue(self.sidecar.wait_for(lambda s: any(
            e["kind"] == "config_applied" and e["data"]["version"] == version for e in s.events["r1"])),
            f"no config_applied for version {version}: {self.sidecar.events['r1']}")
        return [e for e in self.events("r1", "config_applied") if e["data"]["version"] == version][0]["data"]


class Measuring(HookCase):
    def test_one_report_per_optimizer_step_with_wait_samples_and_loss(self):
        steps = self.train(DataLoader(Squares(40), batch_size=8), epochs=2)
        got = self.reported(steps)
        self.assertEqual([s["step"] for s in got], list(range(10)))
        self.assertEqual({s["samples"] for s in got}, {8})
        self.assertTrue(all(0 < s["data_wait_s"] <= s["duration_s"] for s in got), got[:2])
        self.assertTrue(all(isinstance(s.get("loss"), float) for s in got))
        run = self.sidecar.runs["r1"]
        # The loader's other knobs are offered as the loader has them (pin_memory only on a CUDA job).
        self.assertEqual(run["config"], {"batch_size": 8, "learning_rate": 0.1, "num_workers": 0, "grad_accum_steps": 1,
                                         "prefetch_factor": 2, "persistent_workers": False})
        self.assertEqual(run["tune"]["knobs"], ["num_workers", "prefetch_factor", "persistent_workers"])
        note = self.wait_event("r1", "note")[0]["data"]
        self.assertRegex(note["loader"], r"test_hook\.py:\d+$")
        self.assertIn("advised only", note["message"])
        self.assertEqual(len(self.events("r1", "epoch_end")), 2)

    def test_gradient_accumulation_is_one_step_of_several_batches(self):
        steps = self.train(DataLoader(Squares(48), batch_size=4), accum=3)
        got = self.reported(steps)
        self.assertEqual(len(got), 4)
        self.assertEqual({s["samples"] for s in got}, {12})
        self.assertEqual(self.sidecar.runs["r1"]["config"]["grad_accum_steps"], 3)

    def test_an_eval_loader_adds_no_steps_and_no_samples(self):
        evaluate = DataLoader(Squares(20), batch_size=5)

        def eval_pass():
            with torch.no_grad():
                for x, _ in evaluate:
                    self.model(x)

        steps = self.train(DataLoader(Squares(24), batch_size=8), epochs=2, more=eval_pass)
        got = self.reported(steps)
        self.assertEqual(len(got), 6)
        self.assertEqual(sum(s["samples"] for s in got), 48)

    def test_an_eval_pass_inside_a_step_does_not_take_its_place(self):
        evaluate = DataLoader(Squares(6), batch_size=3)
        opt = torch.optim.SGD(self.model.parameters(), lr=0.1)
        train = DataLoader(Squares(32), batch_size=8)
        for x, y in train:  # the first step makes `train` the loader that feeds steps
            torch.nn.functional.cross_entropy(self.model(x), y).backward()
            for ex, _ in evaluate:
                self.model(ex)
            opt.step()
        got = self.reported(4)
        self.assertEqual([s["samples"] for s in got][1:], [8, 8, 8])

    def test_an_eval_loader_before_training_without_a_loader_still_counts_steps(self):
        for x, _ in DataLoader(Squares(6), batch_size=3):
            self.model(x)
        opt = torch.optim.SGD(self.model.parameters(), lr=0.1)
        for _ in range(4):
            self.model(torch.zeros(2, 4)).sum().backward()
            opt.step()
        self.assertEqual(len(self.reported(4)), 4)

    def test_two_optimizers_on_the_same_batch_make_one_step(self):
        critic = torch.nn.Linear(2, 1)
        opt2 = torch.optim.Adam(critic.parameters(), lr=1e-3)

        def critic_step():
            critic(self.model(torch.zeros(3, 4)).detach()).mean().backward()
            opt2.step()

        steps = self.train(DataLoader(Squares(30), batch_size=10), more=critic_step)
        self.assertEqual(len(self.reported(steps)), 3)

    def test_a_subclass_step_calling_its_base_counts_once(self):
        class Mine(torch.optim.SGD):
            def step(self, closure=None):
                return super().step(closure)

        torch.optim.SGD(self.model.parameters(), lr=0.1)  # its class's step is wrapped too
        steps = self.train(DataLoader(Squares(30), batch_size=10), opt=Mine(self.model.parameters(), lr=0.1))
        self.assertEqual(len(self.reported(steps)), 3)

    def test_an_lr_scheduler_wrapping_step_changes_nothing(self):
        opt = torch.optim.SGD(self.model.parameters(), lr=0.1)
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
        steps = self.train(DataLoader(Squares(24), batch_size=8), opt=opt, more=sched.step)
        self.assertEqual(len(self.reported(steps)), 3)

    def test_without_a_loader_the_first_optimizer_keeps_the_count(self):
        opt, other = torch.optim.SGD(self.model.parameters(), lr=0.1), torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1)
        for _ in range(5):
            self.model(torch.zeros(2, 4)).sum().backward()
            opt.step()
            other.step()
        got = self.reported(5)
        self.assertEqual(len(got), 5)
        self.assertEqual(self.sidecar.runs["r1"]["tune"]["knobs"], [])

    def test_an_iterable_dataset_is_measured_and_never_tuned(self):
        steps = self.train(DataLoader(Stream(20), batch_size=5), epochs=2)
        self.assertEqual(len(self.reported(steps)), 8)
        self.assertEqual(self.sidecar.runs["r1"]["tune"]["knobs"], [])
        v = self.sidecar.new_version("r1", num_workers=2)
        ack = self.ack(v)
        self.assertEqual(ack["not_applied"], ["num_workers"])
        self.assertEqual(ack["num_workers"], 0)

    def test_data_parallel_ranks_report_their_rank_and_only_rank_0_attaches(self):
        with mock.patch.dict(os.environ, {"RANK": "1", "WORLD_SIZE": "2"}):
            steps = self.train(DataLoader(Squares(20), batch_size=10))
            got = self.reported(steps)
        self.assertEqual({(s["rank"], s["world_size"]) for s in got}, {(1, 2)})
        self.assertIsNone(self.sidecar.runs["r1"]["config"])

    def test_leading_dimension_of_tensors_tuples_dicts(self):
        self.assertEqual(leading_dim(torch.zeros(7, 3)), 7)
        self.assertEqual(leading_dim((torch.zeros(5, 2), torch.zeros(5))), 5)
        self.assertEqual(leading_dim({"input_ids": torch.zeros(3, 9), "labels": torch.zeros(3)}), 3)
        self.assertEqual(leading_dim([[torch.zeros(2, 1)]]), 2)
        self.assertEqual(leading_dim(torch.tensor(1.0)), 1)
        self.assertEqual(leading_dim(["a sentence", "another"]), 2)  # a batch of texts
        from collections import UserDict

        self.assertEqual(leading_dim(UserDict(input_ids=torch.zeros(6, 2))), 6)  # like BatchEncoding
        self.assertEqual(leading_dim("text"), 0)
        self.assertEqual(leading_dim(object()), 0)

    def test_a_loader_subclass_is_placed_where_the_job_built_it(self):
        class MyLoader(DataLoader):
            def __init__(self, dataset, **kw):
                super().__init__(dataset, **kw)

        here = MyLoader(Squares(4), batch_size=2)  # this line
        import inspect

        line = inspect.currentframe().f_lineno - 3
        self.assertTrue(self.hook.loaders[here].site.where.endswith(f"test_hook.py:{line}"), self.hook.loaders[here].site.where)


class Tuning(HookCase):
    def wait_version(self, v):
        self.assertTrue(self.sidecar.wait_for(lambda s: self.hook.link.version >= v, 10), "the poller never saw it")

    def test_workers_change_when_the_next_epoch_starts_never_mid_epoch_and_are_acknowledged(self):
        loader = DataLoader(Squares(40), batch_size=8)
        self.train(loader)
        self.assertTrue(self.sidecar.wait_for(lambda s: s.runs["r1"]["config_version"] == 1))
        self.sidecar.new_version("r1", num_workers=2)
        self.wait_version(2)
        seen = []
        it = iter(loader)
        seen.append(loader.num_workers)
        for x, y in it:
            seen.append(loader.num_workers)
        self.assertEqual(set(seen), {2})
        ack = self.ack(2)
        self.assertEqual(ack["num_workers"], 2)
        self.assertNotIn("not_applied", ack)
        # Mid-epoch: a version that arrives while the epoch runs waits for the next one.
        it = iter(loader)
        next(it)
        self.sidecar.new_version("r1", num_workers=1)
        self.wait_version(3)
        for x, y in it:
            self.model(x).sum().backward()
        self.assertEqual(loader.num_workers, 2)
        iter(loader)
        self.assertEqual(loader.num_workers, 1)

    def test_a_loader_rebuilt_every_epoch_at_the_same_line_gets_the_workers(self):
        def epoch():
            loader = DataLoader(Squares(16), batch_size=8)
            self.train(loader)
            return loader

        epoch()
        self.assertTrue(self.sidecar.wait_for(lambda s: s.runs["r1"]["config_version"] == 1))
        self.sidecar.new_version("r1", num_workers=1)
        self.wait_version(2)
        self.assertEqual(epoch().num_workers, 1)
        self.assertEqual(epoch().num_workers, 1)

    def test_persistent_workers_get_a_new_iterator_with_the_new_count(self):
        loader = DataLoader(Squares(16), batch_size=8, num_workers=1, persistent_workers=True)
        self.train(loader)
        old = loader._iterator
        self.assertTrue(self.sidecar.wait_for(lambda s: s.runs["r1"]["config_version"] == 1))
        self.sidecar.new_version("r1", num_workers=2)
        self.wait_version(2)
        self.train(loader)
        self.assertIsNot(loader._iterator, old)
        self.assertEqual(loader._iterator._num_workers, 2)

    def test_persistent_workers_and_prefetch_are_applied_at_the_next_epoch(self):
        loader = DataLoader(Squares(16), batch_size=8, num_workers=1)
        self.train(loader, epochs=2)
        self.assertTrue(self.sidecar.wait_for(lambda s: s.runs["r1"]["config_version"] == 1))
        self.sidecar.new_version("r1", persistent_workers=True, prefetch_factor=4)
        self.wait_version(2)
        self.train(loader)
        kept = loader._iterator
        self.assertTrue(loader.persistent_workers)
        self.assertEqual(kept._prefetch_factor, 4)
        self.train(loader)
        self.assertIs(loader._iterator, kept)  # the same workers, a second epoch
        ack = self.ack(2)
        self.assertEqual((ack["persistent_workers"], ack["prefetch_factor"]), (True, 4))
        self.assertNotIn("not_applied", ack)
        # Off again (a rollback): the kept workers are shut down, the next epoch starts its own.
        self.sidecar.new_version("r1", persistent_workers=False, prefetch_factor=2)
        self.wait_version(3)
        self.train(loader)
        self.assertFalse(loader.persistent_workers)
        self.assertIsNone(loader._iterator)
        self.assertTrue(self.hook.on)

    def test_each_epoch_reports_its_start_cost_and_batch_bytes(self):
        loader = DataLoader(Squares(16), batch_size=8, num_workers=1)
        self.train(loader, epochs=3)
        self.hook.link.sender.flush(3.0)
        self.assertTrue(self.sidecar.wait_for(lambda s: len([e for e in s.events["r1"] if e["kind"] == "epoch_end"]) >= 3))
        data = [e["data"] for e in self.events("r1", "epoch_end")]
        self.assertTrue(all(0 < d["loader_start_s"] <= d["epoch_s"] for d in data), data)
        self.assertEqual({d["batch_bytes"] for d in data}, {8 * 4 * 4 + 8 * 8})  # float32 (8, 4) + int64 (8,)
        self.assertEqual([d.get("same_loader") for d in data], [None, True, True])  # the first: nothing to compare

    def test_a_loader_rebuilt_every_epoch_is_reported_as_not_the_same(self):
        for _ in range(3):
            self.train(DataLoader(Squares(16), batch_size=8))  # built anew at this line each epoch
        self.hook.link.sender.flush(3.0)
        self.assertTrue(self.sidecar.wait_for(lambda s: len([e for e in s.events["r1"] if e["kind"] == "epoch_end"]) >= 3))
        self.assertEqual([e["data"].get("same_loader") for e in self.events("r1", "epoch_end")], [None, False, False])

    def test_prefetch_and_persistent_workers_wait_while_the_loader_has_no_workers(self):
        # torch raises on both without workers: never set then, and the job runs on.
        loader = DataLoader(Squares(16), batch_size=8)
        self.train(loader)
        self.assertTrue(self.sidecar.wait_for(lambda s: s.runs["r1"]["config_version"] == 1))
        self.sidecar.new_version("r1", persistent_workers=True, prefetch_factor=4)
        self.wait_version(2)
        self.assertEqual(self.train(loader), 2)
        self.assertFalse(loader.persistent_workers)
        self.assertTrue(self.hook.on)
        ack = self.ack(2)
        self.assertEqual(ack["not_applied"], ["prefetch_factor", "persistent_workers"])
        # pin_memory was never offered (a CPU job): a version asking for it says it is not applied.
        self.sidecar.new_version("r1", pin_memory=True)
        self.wait_version(3)
        self.train(loader)
        self.assertFalse(loader.pin_memory)
        self.assertIn("pin_memory", self.ack(3)["not_applied"])

    def test_batch_size_and_learning_rate_are_not_applied_and_the_ack_says_so(self):
        loader = DataLoader(Squares(16), batch_size=8)
        self.train(loader)
        self.assertTrue(self.sidecar.wait_for(lambda s: s.runs["r1"]["config_version"] == 1))
        self.sidecar.new_version("r1", batch_size=64, learning_rate=0.5)
        self.wait_version(2)
        iter(loader)
        ack = self.ack(2)
        self.assertEqual(ack["not_applied"], ["batch_size", "learning_rate"])
        self.assertEqual((ack["batch_size"], ack["learning_rate"]), (8, 0.1))
        self.assertEqual(loader.batch_size, 8)


class Safety(HookCase):
    def test_workers_that_do_not_start_leave_the_loader_as_built_and_the_hook_off(self):
        from torch.utils.data import dataloader

        loader = DataLoader(Squares(16), batch_size=8)
        self.train(loader)
        self.assertTrue(self.sidecar.wait_for(lambda s: s.runs["r1"]["config_version"] == 1))
        self.sidecar.new_version("r1", num_workers=2)
        self.assertTrue(self.sidecar.wait_for(lambda s: self.hook.link.version >= 2))

        def no_shm(*args, **kwargs):
            raise OSError("no space left on /dev/shm")

        with mock.patch.object(dataloader._MultiProcessingDataLoaderIter, "__init__", no_shm):
            self.assertEqual(self.train(loader), 2)
        self.assertEqual(loader.num_workers, 0)
        self.assertFalse(self.hook.on)
        self.assertTrue(self.sidecar.wait_for(lambda s: any("error" in e["data"] for e in s.events["r1"])))
        note = [e for e in self.events("r1", "note") if "error" in e["data"]]
        self.assertEqual(len(note), 1)
        self.assertIn("did not start with the workers", note[0]["data"]["message"])
        self.assertIn("no space left", note[0]["data"]["error"])

    def test_a_loader_that_refuses_a_knob_is_left_as_built_and_the_job_runs_on(self):
        from torch.utils.data import dataloader

        loader = DataLoader(Squares(16), batch_size=8, num_workers=1)
        self.train(loader)
        self.assertTrue(self.sidecar.wait_for(lambda s: s.runs["r1"]["config_version"] == 1))
        self.sidecar.new_version("r1", prefetch_factor=4, persistent_workers=True)
        self.assertTrue(self.sidecar.wait_for(lambda s: self.hook.link.version >= 2))
        init0 = dataloader._MultiProcessingDataLoaderIter.__init__

        def refuses(it, ld):
            if ld.prefetch_factor != 2:
                raise ValueError("prefetch_factor refused by this torch")
            init0(it, ld)

        with mock.patch.object(dataloader._MultiProcessingDataLoaderIter, "__init__", refuses):
            self.assertEqual(self.train(loader), 2)
        self.assertEqual((loader.prefetch_factor, loader.persistent_workers), (2, False))
        self.assertFalse(self.hook.on)
        self.assertEqual(self.train(loader), 2)  # and the epochs after

    def test_an_internal_error_takes_the_patches_off_and_sends_one_note(self):
        loader = DataLoader(Squares(40), batch_size=8)

        def broken(*args):
            raise RuntimeError("broken on purpose")

        self.hook.clock.batch = broken
        steps = self.train(loader, epochs=2)
        self.assertEqual(steps, 10)
        self.assertFalse(self.hook.on)
        self.assertNotIn("trainpilot", repr(DataLoader.__iter__.__code__.co_filename))
        notes = self.wait_event("r1", "note")
        self.assertEqual(len(notes), 1)
        self.assertIn("broken on purpose", notes[0]["data"]["error"])

    def test_stands_down_when_the_job_uses_the_client(self):
        import trainpilot

        with mock.patch.object(trainpilot, "is_active", lambda: True):
            self.train(DataLoader(Squares(16), batch_size=8))
        self.assertEqual(len(self.hook.link.steps if self.hook.link.sender else []), 0)
        self.assertEqual(self.sidecar.steps["r1"], [])
        self.assertIsNone(self.sidecar.runs["r1"]["config"])

    def test_the_job_runs_on_when_the_sidecar_goes_away(self):
        loader = DataLoader(Squares(40), batch_size=8)
        self.train(loader)
        self.sidecar.stop()
        self.assertEqual(self.train(loader, epochs=3), 15)
        self.assertTrue(self.hook.on)

    def test_the_jobs_own_errors_pass_through_unchanged(self):
        class Bad(Dataset):
            def __len__(self):
                return 4

            def __getitem__(self, i):
                raise KeyError("the job's own")

        with self.assertRaises(KeyError):
            next(iter(DataLoader(Bad(), batch_size=2)))
        self.assertTrue(self.hook.on)


if __name__ == "__main__":
    unittest.main()
