"""One rank of the multi-node end-to-end test (test/multinode.test.ts), run as a script.

argv: steps. Env: the torch.distributed variables, TRAINPILOT_URL (this "node's" sidecar),
TRAINPILOT_NODE, LOAD_DELAY_S (seconds the loader takes per batch on this node).
Prints one JSON line: rank, run id, the config versions applied (step, version, batch size, lr).
"""
import json
import os
import sys
import time

import torch
import torch.distributed as dist
from torch.utils.data import Dataset

import trainpilot

BATCH = 8


class Slow(Dataset):
    def __init__(self, delay_s: float):
        self.delay_s = delay_s

    def __len__(self):
        return 100_000

    def __getitem__(self, i):
        if self.delay_s:
            time.sleep(self.delay_s / BATCH)
        return torch.tensor(float(i % 100))


def main() -> None:
    steps = int(sys.argv[1])
    dist.init_process_group("gloo")
    model = torch.nn.Linear(1, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    run = trainpilot.start("multinode", {"batch_size": BATCH, "learning_rate": 0.1, "num_workers": 0},
                           tune={"mode": "advise"}, optimizer=opt, flush_interval_s=0.1, sync_every=5)
    applied, version = [], run.applied_version
    for batch in run.data_loader(Slow(float(os.environ.get("LOAD_DELAY_S", "0")))):
        if run.applied_version != version:
            version = run.applied_version
            applied.append([run.step_index, version, len(batch), opt.param_groups[0]["lr"]])
        with run.step():
            loss = model(batch.unsqueeze(1) / 100).pow(2).mean()
            loss.backward()
            dist.all_reduce(model.weight.grad)  # what DDP does: the ranks wait for each other here
            opt.step()
            opt.zero_grad()
            run.log(loss=loss)
            time.sleep(0.005)
        if run.step_index >= steps:
            break
    ended = time.time()
    run.finish(timeout_s=1.0)
    print(json.dumps({"rank": dist.get_rank(), "id": run.id, "applied": applied, "stats": run.stats, "ended": ended}), flush=True)
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
