"""What the Python client costs the training thread per step (DESIGN §7 budget: ≤ 20 µs).

    /usr/bin/python3 bench/client.py [--steps 10000] [--step-ms 1] [--url http://127.0.0.1:9477]

Each step is: fetch a batch through run.batches(), enter run.step(), a body that releases the
GIL for --step-ms (as torch kernels do), run.log(loss=…), leave the step. Only the client's
calls are timed (the body is not); from each step's time the median of the same timings
without the client (a plain iterator, the same timer calls) is taken away. Scenarios:

  sidecar up     reports are sent (to --url, else a stand-in sidecar in another process)
  sidecar down   the sender retries a refused port and drops the oldest reports
  no sidecar     TRAINPILOT_URL unset: measuring only

Prints figures; asserts nothing (bench/ never asserts timings).
"""
from __future__ import annotations

import argparse
import gc
import os
import socket
import statistics
import subprocess
import sys
import time
from typing import Callable, List, Optional

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "clients", "python"))
import trainpilot  # noqa: E402

CONFIG = {"batch_size": 32, "learning_rate": 0.01, "num_workers": 0}
ns = time.perf_counter_ns


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stand_in() -> tuple:
    """The tests' stand-in sidecar, in its own process so it takes no GIL from this one."""
    port = free_port()
    code = ("import sys, time; sys.path.insert(0, sys.argv[1]); from standin import StandIn; "
            "StandIn(int(sys.argv[2])); print('ready', flush=True); time.sleep(1e9)")
    proc = subprocess.Popen([sys.executable, "-c", code, os.path.join(ROOT, "clients", "python", "tests"), str(port)],
                            stdout=subprocess.PIPE, text=True)
    proc.stdout.readline()
    return f"http://127.0.0.1:{port}", proc


def timed_steps(n: int, step_s: float, run: Optional[trainpilot.Run]) -> List[int]:
    """Nanoseconds spent in the client's calls (or, without a run, in the same bare calls) per step."""
    data = range(n)
    it = iter(run.batches(data)) if run else iter(data)
    sleep = time.sleep
    out: List[int] = []
    gc.collect()
    for _ in range(n):
        if run:
            t0 = ns()
            next(it)
            ctx = run.step()
            ctx.__enter__()
            t1 = ns()
            sleep(step_s)
            t2 = ns()
            run.log(loss=0.5)
            ctx.__exit__(None, None, None)
            t3 = ns()
        else:
            t0 = ns()
            next(it)
            t1 = ns()
            sleep(step_s)
            t2 = ns()
            t3 = ns()
        out.append(t1 - t0 + t3 - t2)
    return out


def scenario(name: str, n: int, step_s: float, base_ns: float, make: Callable[[], trainpilot.Run]) -> None:
    run = make()
    timed_steps(min(1000, n), step_s, run)  # warm up
    costs = sorted(t - base_ns for t in timed_steps(n, step_s, run))
    run.finish(timeout_s=2)
    med = statistics.median(costs) / 1000
    p99 = costs[int(len(costs) * 0.99) - 1] / 1000
    s = run.stats
    print(f"{name:<13} median {med:6.2f} µs   p99 {p99:6.2f} µs   max {costs[-1] / 1000:8.1f} µs   "
          f"(steps sent {s['sent']}, dropped {s['dropped']})")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=10_000)
    p.add_argument("--step-ms", type=float, default=1.0, help="the step's body, GIL released (default 1 ms)")
    p.add_argument("--url", help="a running sidecar (default: a stand-in started here)")
    p.add_argument("--norm-steps", type=int, default=100_000, help="steps for the gradient-norm figure (bench/norms.py)")
    args = p.parse_args()
    os.environ.pop("TRAINPILOT_RUN_ID", None)
    step_s = args.step_ms / 1000
    timed_steps(1000, step_s, None)
    bare = sorted(timed_steps(args.steps, step_s, None))
    base = statistics.median(bare)
    print(f"client cost per training step, {args.steps} steps of {args.step_ms:g} ms, Python {sys.version.split()[0]}")
    print(f"{'bare loop':<13} median {base / 1000:6.2f} µs   p99 {bare[int(len(bare) * 0.99) - 1] / 1000:6.2f} µs   "
          f"max {bare[-1] / 1000:8.1f} µs   (timer + plain iterator, no client: its median is taken away below;\n"
          f"{'':<14}its p99 is this machine's noise floor)")
    proc = None
    url = args.url
    if not url:
        url, proc = stand_in()
    try:
        scenario("sidecar up", args.steps, step_s, base, lambda: trainpilot.start("bench-client", CONFIG, url=url))
    finally:
        if proc:
            proc.kill()
    down = f"http://127.0.0.1:{free_port()}"
    scenario("sidecar down", args.steps, step_s, base,
             lambda: trainpilot.start("bench-client", CONFIG, url=down, capacity=1000))
    scenario("no sidecar", args.steps, step_s, base, lambda: trainpilot.start("bench-client", CONFIG, url=""))
    print("budget (DESIGN §7): ≤ 20 µs per step on the training thread")
    try:
        from norms import report  # the sampled gradient norms on a ≥ 10 M-parameter model (needs torch)
    except ImportError:
        return
    report(args.norm_steps)


if __name__ == "__main__":
    main()
