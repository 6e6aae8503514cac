"""Out of memory without torch: recognising the errors, the smaller config to go on with."""
import unittest

from trainpilot.oom import backed_off, is_oom


class OutOfMemoryError(RuntimeError):
    """Named as torch.cuda.OutOfMemoryError is (recognised by name, torch never imported)."""


class OomTest(unittest.TestCase):
    def test_recognises_allocation_failures_only(self):
        cases = [
            (MemoryError(), True),
            (OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"), True),
            (RuntimeError("CUDA out of memory. Tried to allocate 20.00 MiB (GPU 0; 15.78 GiB total capacity)"), True),
            (RuntimeError("[enforce fail at alloc_cpu.cpp:75] err == 0. DefaultCPUAllocator: can't allocate memory"), True),
            (RuntimeError("DefaultCPUAllocator: not enough memory: you tried to allocate 1024 bytes."), True),
            (RuntimeError("MPS backend out of memory (MPS allocated: 1.2 GB)"), True),
            (RuntimeError("CUDA error: CUBLAS_STATUS_ALLOC_FAILED when calling `cublasCreate(handle)`"), True),
            (RuntimeError("mat1 and mat2 shapes cannot be multiplied (8x4 and 5x1)"), False),
            (ValueError("out of memory"), False),
            (KeyError("x"), False),
        ]
        for exc, want in cases:
            with self.subTest(exc=exc):
                self.assertIs(is_oom(exc), want)

    def test_backs_off_by_half_within_bounds(self):
        plain = {"bounds": {}}
        bounded = {"bounds": {"batch_size": {"min": 24, "max": 512}}}
        keep = {"bounds": {}, "keep_global_batch": True}
        cases = [
            ((64, 1, plain), {"batch_size": 32}),
            ((3, 1, plain), {"batch_size": 1}),
            ((1, 1, plain), None),
            ((32, 1, bounded), {"batch_size": 24}),
            ((24, 1, bounded), None),
            ((64, 2, keep), {"batch_size": 32, "grad_accum_steps": 4}),
            ((10, 1, keep), {"batch_size": 5, "grad_accum_steps": 2}),
            ((9, 1, keep), {"batch_size": 4, "grad_accum_steps": 3}),
        ]
        for args, want in cases:
            with self.subTest(args=args):
                self.assertEqual(backed_off(*args), want)


if __name__ == "__main__":
    unittest.main()
