"""--knobs batch_size,learning_rate on the zero-code hook (trainpilot/_autohook/_batch.py), with
real torch and the stand-in sidecar: the batch changes at the next epoch start, the learning rate
by the ratio the tuner chose in every param group and the scheduler's base values; where that is
not safe the hook keeps them and says why, once, with the line."""
import logging

from support import require_torch
from test_hook import HookCase, Squares, Stream

torch = require_torch()
from torch.utils.data import BatchSampler, DataLoader, SequentialSampler  # noqa: E402


class Knobs(HookCase):
    def setUp(self):
        super().setUp()
        self.hook.knobs = ["batch_size", "learning_rate", "num_workers"]

    def wait_version(self, v):
        self.assertTrue(self.sidecar.wait_for(lambda s: self.hook.link.version >= v, 10), "the poller never saw it")

    def attached_tune(self):
        self.assertTrue(self.sidecar.wait_for(lambda s: s.runs["r1"]["config_version"] == 1))
        return self.sidecar.runs["r1"]["tune"]

    def sizes(self, loader, opt):
        out = []
        for x, y in loader:
            torch.nn.functional.cross_entropy(self.model(x), y).backward()
            opt.step()
            opt.zero_grad()
            out.append(len(x))
        return out

    def test_a_new_batch_at_the_next_epoch_and_the_lr_scaled_in_groups_and_scheduler(self):
        loader = DataLoader(Squares(64), batch_size=8)
        opt = torch.optim.SGD([{"params": self.model.weight}, {"params": self.model.bias, "lr": 0.5}], lr=0.1)
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=100, gamma=0.5)
        self.assertEqual(self.sizes(loader, opt), [8] * 8)
        self.assertEqual(self.attached_tune()["knobs"], ["num_workers", "batch_size", "learning_rate"])
        self.sidecar.new_version("r1", batch_size=16, learning_rate=0.2)
        self.wait_version(2)
        self.assertEqual(self.sizes(loader, opt), [16] * 4)
        self.assertEqual([g["lr"] for g in opt.param_groups], [0.2, 1.0])
        self.assertEqual(sched.base_lrs, [0.2, 1.0])
        ack = self.ack(2)
        self.assertEqual((ack["batch_size"], ack["learning_rate"], ack.get("not_applied", [])), (16, 0.2, []))
        sched.step()
        self.assertEqual([g["lr"] for g in opt.param_groups], [0.2, 1.0], "the scheduler goes on from the scaled values")

    def refused(self, loader, opt, needle):
        with self.assertLogs("trainpilot", logging.WARNING) as logs:
            self.sizes(loader, opt)
        self.assertEqual(len([m for m in logs.output if "left as the script set them" in m]), 1)
        self.assertIn(needle, logs.output[0])
        self.assertNotIn("batch_size", self.attached_tune()["knobs"])
        note = [e for e in self.wait_event("r1", "note") if "refused" in e["data"].get("message", "")]
        self.assertTrue(note and needle in note[0]["data"]["message"])
        self.sidecar.new_version("r1", batch_size=16, learning_rate=0.2)
        self.wait_version(2)
        sizes = self.sizes(loader, opt)
        self.assertEqual(self.ack(2)["not_applied"], ["batch_size", "learning_rate"])
        return sizes

    def test_a_one_cycle_schedule_keeps_its_batch_and_says_why_with_the_line(self):
        loader = DataLoader(Squares(64), batch_size=8)
        opt = torch.optim.SGD(self.model.parameters(), lr=0.1)
        torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=100)
        self.assertEqual(self.refused(loader, opt, "OneCycleLR built at "), [8] * 8)
        self.assertIn("test_hook_batch.py:", self.events("r1", "note")[0]["data"]["message"])

    def test_an_iterable_dataset_keeps_its_batches(self):
        self.refused(DataLoader(Stream(32), batch_size=8), torch.optim.SGD(self.model.parameters(), lr=0.1),
                     "IterableDataset")

    def test_a_custom_batch_sampler_keeps_its_batches(self):
        class Mine(BatchSampler):
            pass

        loader = DataLoader(Squares(64), batch_sampler=Mine(SequentialSampler(range(64)), 8, False))
        self.assertEqual(self.refused(loader, torch.optim.SGD(self.model.parameters(), lr=0.1), "custom batch sampler"),
                         [8] * 8)
