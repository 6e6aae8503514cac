"""What the multi-node summaries cost each rank per step (DESIGN §7 budget: ≤ 5 µs amortised).

    /usr/bin/python3 bench/exchange.py [--ranks 4] [--exchanges 2000]

Starts --ranks gloo processes on loopback (the test's setting; NCCL on GPUs moves the same 64
bytes per rank). Each calls the client's DistSync.exchange as the training loop does: every
exchange is the config header's broadcast, and a summary exchange an all-gather of each rank's
summary row instead, rank 0 handing the table to its forwarder (the rows as Python lists, as
the client does). The client calls one at most every SUMMARY_S seconds and SUMMARY_STEPS steps;
here the seconds are left out, so summaries come as often as a job whose steps are fast enough
to reach SUMMARY_STEPS within SUMMARY_S gets them (the worst case per step). Every exchange
starts after a barrier, so each timing is the collective's own. The summaries' extra time over
header exchanges, spread over every step, plus what the training thread adds per step to keep
its summary (three additions), is the figure.

Prints figures; asserts nothing (bench/ never asserts timings).
"""
from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "clients", "python"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rank_main(exchanges: int) -> None:
    import torch.distributed as dist

    from trainpilot.distributed import SUMMARY_STEPS, SYNC_EVERY, DistSync

    dist.init_process_group("gloo")
    sync = DistSync(dist, SYNC_EVERY, summary_s=0.0, summary_steps=SUMMARY_STEPS)
    sync.share("r1", 1, {"batch_size": 8})
    tables = []
    summary = lambda: (SUMMARY_STEPS, 0.5, 0.01, 400, 123, 7)  # noqa: E731
    on_table = tables.append if sync.rank == 0 else None
    plain, gathered = [], []
    for i in range(exchanges + 50):
        dist.barrier()
        before = sync.summaries
        t0 = time.perf_counter_ns()
        sync.exchange(i * SYNC_EVERY, (1, {"batch_size": 8}, "r1"), summary, on_table)
        t = (time.perf_counter_ns() - t0) / 1000
        if i >= 50:  # warm-up left out
            (gathered if sync.summaries > before else plain).append(t)
        if len(tables) > 100:
            tables.clear()
    # The training thread's share: three float additions on the run per step (run.py _Step.__exit__).
    class R:
        __slots__ = ("_sum_dur", "_sum_wait", "_sum_samples")

    r = R()
    r._sum_dur = r._sum_wait = 0.0
    r._sum_samples = 0
    n = 200_000
    t0 = time.perf_counter_ns()
    for _ in range(n):
        r._sum_dur += 0.01
        r._sum_wait += 0.001
        r._sum_samples += 8
    t1 = time.perf_counter_ns()
    for _ in range(n):
        pass
    t2 = time.perf_counter_ns()
    adds_us = max(0.0, ((t1 - t0) - (t2 - t1)) / n / 1000)
    if sync.rank == 0:
        p, g = statistics.median(plain), statistics.median(gathered)
        steps = (len(plain) + len(gathered)) * SYNC_EVERY
        extra = (g - p) * len(gathered) / steps
        print(f"ranks {sync.world_size}, exchanges {exchanges} (every {SYNC_EVERY} steps; {len(gathered)} summaries, "
              f"one per {steps / len(gathered):.0f} steps)")
        print(f"  header broadcast exchange  median {p:8.1f} µs   p90 {sorted(plain)[int(len(plain) * 0.9)]:8.1f} µs")
        print(f"  summary all-gather exchange median {g:8.1f} µs   p90 {sorted(gathered)[int(len(gathered) * 0.9)]:8.1f} µs")
        print(f"  summary's extra per exchange {g - p:8.1f} µs, spread over the steps: {extra:6.2f} µs per step")
        print(f"  training thread per step (summary sums): {adds_us:6.3f} µs")
        print(f"  amortised per step per rank: {extra + adds_us:6.2f} µs   (budget ≤ 5 µs, DESIGN §7)")
    dist.barrier()
    dist.destroy_process_group()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ranks", type=int, default=4)
    ap.add_argument("--exchanges", type=int, default=2000)
    ap.add_argument("--rank", type=int, default=None, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.rank is not None:
        rank_main(a.exchanges)
        return
    env = {**os.environ, "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(free_port()), "WORLD_SIZE": str(a.ranks),
           "OMP_NUM_THREADS": "1"}
    procs = [subprocess.Popen([sys.executable, __file__, "--rank", str(r), "--exchanges", str(a.exchanges)],
                              env={**env, "RANK": str(r)}) for r in range(a.ranks)]
    sys.exit(max(p.wait() for p in procs))


if __name__ == "__main__":
    main()
