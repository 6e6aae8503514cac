"""scripts/gpu-check's training job: a small fp32 MLP on random data, on CUDA, for a fixed time.

Run under `trainpilot run --tune auto`; the zero-code hook reports its steps. It writes what it
measured itself (steps, samples, its GPU's UUID, torch.cuda's memory, and NVML's energy counter
when pynvml is installed) to --out, for the check to compare with what the sidecar exported.
"""
import argparse
import json
import time

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset


def nvml_energy_mj(uuid):
    """NVML's total energy counter (millijoules) of the GPU with this UUID, or None without pynvml."""
    try:
        import pynvml
        pynvml.nvmlInit()
        handle = pynvml.nvmlDeviceGetHandleByUUID(uuid.encode() if isinstance(uuid, str) else uuid)
        return pynvml.nvmlDeviceGetTotalEnergyConsumption(handle)
    except Exception:  # no pynvml, or a GPU or driver without the counter
        return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    dev = torch.device("cuda")
    props = torch.cuda.get_device_properties(dev)
    uuid = "GPU-" + str(getattr(props, "uuid", "")).removeprefix("GPU-")
    model = torch.nn.Sequential(
        torch.nn.Linear(1024, 4096), torch.nn.ReLU(),
        torch.nn.Linear(4096, 4096), torch.nn.ReLU(),
        torch.nn.Linear(4096, 10),
    ).to(dev)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    data = TensorDataset(torch.randn(16384, 1024), torch.randint(0, 10, (16384,)))
    loader = DataLoader(data, batch_size=256, shuffle=True, num_workers=2)
    steps = samples = 0
    e0 = nvml_energy_mj(uuid)
    t0 = time.time()
    while time.time() - t0 < args.seconds:
        for x, y in loader:
            x, y = x.to(dev, non_blocking=True), y.to(dev, non_blocking=True)
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            steps += 1
            samples += x.shape[0]
            if time.time() - t0 >= args.seconds:
                break
    torch.cuda.synchronize()
    t1 = time.time()
    e1 = nvml_energy_mj(uuid)
    with open(args.out, "w") as f:
        json.dump({
            "torch": torch.__version__, "device": props.name, "uuid": uuid,
            "steps": steps, "samples": samples, "start_ts": t0, "end_ts": t1,
            "reserved_peak_bytes": torch.cuda.max_memory_reserved(dev),
            "allocated_peak_bytes": torch.cuda.max_memory_allocated(dev),
            "energy_joules": (e1 - e0) / 1000 if e0 is not None and e1 is not None else None,
        }, f)


if __name__ == "__main__":
    main()
