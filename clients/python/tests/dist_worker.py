"""One rank of the two-rank test in test_distributed.py (run as a script, not a test)."""
import json
import sys
import time

import torch
import torch.distributed as dist
from torch.utils.data import Dataset

import trainpilot


class Indices(Dataset):
    def __len__(self):
        return 10_000

    def __getitem__(self, i):
        return torch.tensor(i)


def main() -> None:
    steps = int(sys.argv[1])
    dist.init_process_group("gloo")
    model = torch.nn.Linear(1, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    run = trainpilot.start("ddp", {"batch_size": 8, "learning_rate": 0.1, "num_workers": 0},
                           optimizer=opt, flush_interval_s=0.05, sync_every=5)
    applied, version = [], run.applied_version
    for batch in run.data_loader(Indices()):
        if run.applied_version != version:  # applied at this step's safe point, before its batch
            version = run.applied_version
            applied.append([run.step_index, version, len(batch), opt.param_groups[0]["lr"]])
        with run.step():
            loss = model(batch.float().unsqueeze(1) / 1e4).pow(2).mean()
            loss.backward()
            dist.all_reduce(model.weight.grad)  # what DDP does: ranks must stay in step
            opt.step()
            opt.zero_grad()
            run.log(loss=loss)
            time.sleep(0.02)
        if run.step_index >= steps:
            break
    run.finish()
    print(json.dumps({"rank": dist.get_rank(), "id": run.id, "applied": applied}))
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
