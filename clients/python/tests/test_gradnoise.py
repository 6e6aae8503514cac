"""The sampled gradient norms (trainpilot/_gradnoise.py) with real torch: the noise scale they
give through the tuner's estimator is the one the gradients were drawn with; the hook reports
them on its steps; the gradients, and so the losses, are those of a run without the hook."""
import math
from unittest import mock

from support import require_torch
from test_hook import HookCase, Squares

torch = require_torch()
from torch.utils.data import DataLoader  # noqa: E402

from trainpilot._gradnoise import DevicePeak, GradNoise, shares  # noqa: E402


class Holder:
    """An optimizer's param_groups, with gradients set by hand."""

    def __init__(self, shapes):
        self.params = [torch.zeros(s, requires_grad=True) for s in shapes]
        self.param_groups = [{"params": self.params}]


def tuner_b_noise(big, small, b_big, parts):
    """tuner/goodput.ts noiseScale(), on the window's mean norms."""
    b_small = b_big / parts
    g = (b_big * big - b_small * small) / (b_big - b_small)
    s = (small - big) / (1 / b_small - 1 / b_big)
    return s / g


class Estimate(HookCase):
    def pairs(self, parts, b, sigma, n=400, shares=None):
        """Gradients G + noise of per-sample variance sigma² per coordinate over a batch of b:
        the true noise scale tr(Σ)/|G|² = d·sigma²/|G|²."""
        torch.manual_seed(0)
        h = Holder([(50,), (10, 5)])
        truth = [torch.full_like(p, 0.3) for p in h.params]
        noise = GradNoise(torch, lambda: shares or (1, parts))
        bigs, smalls = [], []
        for _ in range(n):
            noise.countdown = 1  # every step sampled
            for p, g in zip(h.params, truth):
                p.grad = g + torch.randn_like(g) * sigma / math.sqrt(b)
            fields = noise.at_step(h)
            if fields:
                bigs.append(fields["grad_sq_norm"]())
                smalls.append(fields["grad_sq_norm_small"]())
        d = sum(g.numel() for g in truth)
        return sum(bigs) / len(bigs), sum(smalls) / len(smalls), d * sigma ** 2 / (d * 0.09), len(bigs)

    def test_the_tuners_estimator_recovers_the_noise_scale_from_consecutive_steps(self):
        for parts in (2, 4):
            big, small, true_b, pairs = self.pairs(parts, b=32, sigma=3.0)
            self.assertEqual(pairs, 200)
            est = tuner_b_noise(big, small, 32, parts)
            self.assertLess(abs(est / true_b - 1), 0.25, f"parts {parts}: {est} vs {true_b}")

    def test_the_clients_micro_batch_steps_under_accumulation_give_the_same_scale(self):
        # 4 micro-batches of 8 per optimizer step of 32: the client reports steps of 8 samples,
        # the tuner reads grad_sq_norm over 8 and grad_sq_norm_small over 8 / max(2, 4) = 2.
        big, small, true_b, _ = self.pairs(4, b=32, sigma=3.0, shares=shares(1, 4, micro_steps=True))
        est = tuner_b_noise(big, small, 8, 4)
        self.assertLess(abs(est / true_b - 1), 0.25, f"{est} vs {true_b}")

    def test_small_is_never_below_big_and_both_are_finite(self):
        big, small, _, _ = self.pairs(2, b=8, sigma=0.0, n=10)
        self.assertGreaterEqual(small, big)
        self.assertTrue(math.isfinite(big) and big > 0)

    def test_pairs_are_spaced_by_their_cost(self):
        h = Holder([(1000,)])
        noise = GradNoise(torch, lambda: (1, 2))
        for _ in range(2000):
            h.params[0].grad = torch.randn(1000)
            noise.at_step(h)
        self.assertGreater(noise.pairs, 0)
        self.assertLess(noise.pairs, 1000, "not every step")
        self.assertLess(noise.cost_s / 2000, 50e-6 * 4, "amortised cost near its target")

    def test_no_gradients_no_fields(self):
        h = Holder([(3,)])
        noise = GradNoise(torch, lambda: (1, 2))
        self.assertEqual([noise.at_step(h) for _ in range(10)], [None] * 10)

    def test_a_cpu_job_reads_no_device_peak(self):
        self.assertIsNone(DevicePeak(torch).read() if not torch.cuda.is_available() else None)


class Sampled(HookCase):
    """Every other step a pair, whatever this machine's speed (the spacing is tested apart)."""

    def setUp(self):
        super().setUp()
        patcher = mock.patch("trainpilot._gradnoise.TARGET_S", 1.0)
        patcher.start()
        self.addCleanup(patcher.stop)


class Reported(Sampled):
    def run_losses(self, hooked):
        torch.manual_seed(1)
        model = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))
        data = DataLoader(Squares(400), batch_size=8, shuffle=False)
        opt = torch.optim.SGD(model.parameters(), lr=0.01)
        losses = []
        for x, y in data:
            loss = torch.nn.functional.cross_entropy(model(x / 400), y)
            loss.backward()
            opt.step()
            opt.zero_grad()
            losses.append(loss.item())
        return losses

    def test_sampled_steps_carry_both_norms_and_the_losses_are_a_bare_runs(self):
        hooked = self.run_losses(True)
        steps = self.reported(50)
        normed = [s for s in steps if "grad_sq_norm" in s]
        self.assertGreater(len(normed), 2)
        self.assertLess(len(normed), len(steps))
        for s in normed:
            self.assertGreaterEqual(s["grad_sq_norm_small"], s["grad_sq_norm"])
            self.assertGreater(s["grad_sq_norm"], 0)
        self.assertNotIn("mem_peak_bytes", steps[1], "a CPU job reports no device peak")
        self.hook.patches.restore()
        self.assertEqual(self.run_losses(False), hooked)

    def test_a_broken_norm_computation_turns_the_norms_off_not_the_hook(self):
        class Broken:
            def at_step(self, optimizer):
                raise RuntimeError("broken norms")

        self.train(DataLoader(Squares(16), batch_size=4))  # attaches
        self.hook.noise = Broken()
        self.train(DataLoader(Squares(16), batch_size=4))
        self.assertTrue(self.hook.on)
        self.assertIsNone(self.hook.noise)
        self.assertEqual(len(self.reported(8)), 8)


class Client(Sampled):
    def test_an_attached_optimizer_reports_the_norms_and_trains_as_without(self):
        self.hook.patches.restore()

        def losses(attach):
            torch.manual_seed(2)
            model = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))
            opt = torch.optim.SGD(model.parameters(), lr=0.01)
            run = self.start(optimizer=opt) if attach else None
            sched = torch.optim.lr_scheduler.StepLR(opt, 10, 0.5)  # made after: wraps the wrapped step
            out = []
            for x, y in DataLoader(Squares(320), batch_size=8):
                if run is not None:
                    ctx = run.step()
                    ctx.__enter__()
                loss = torch.nn.functional.cross_entropy(model(x / 320), y)
                loss.backward()
                opt.step()
                sched.step()
                opt.zero_grad()
                if run is not None:
                    run.log(loss=loss)
                    ctx.__exit__(None, None, None)
                out.append(loss.item())
            return out, run

        hooked, run = losses(True)
        steps = self.wait_steps(run.id, 40)
        normed = [s for s in steps if "grad_sq_norm" in s]
        self.assertGreater(len(normed), 2)
        self.assertTrue(all(s["grad_sq_norm_small"] >= s["grad_sq_norm"] > 0 for s in normed))
        self.assertEqual(losses(False)[0], hooked)
