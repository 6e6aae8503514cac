"""Registering a run, or attaching to the one `trainpilot run` registered ($TRAINPILOT_RUN_ID)."""
from __future__ import annotations

import os
import re
from typing import Any, Dict, NamedTuple, Optional

from ._http import Api, HttpError
from ._budget import safe_cpu_budget

# The loader's other knobs (issue 22): optional config fields; a run tunes one only when its config
# carries it (the job can apply it), so a config without them is tuned as before.
LOADER_KNOBS = ("prefetch_factor", "persistent_workers", "pin_memory")
KNOBS = ("batch_size", "learning_rate", "num_workers", "grad_accum_steps", "lr_warmup_steps") + LOADER_KNOBS

DEFAULT_TUNE: Dict[str, Any] = {
    "mode": "auto",
    "knobs": ["batch_size", "learning_rate", "num_workers", "prefetch_factor", "persistent_workers", "pin_memory"],
    "optimizer": "other",
    "lr_scaling": "auto",
    "keep_global_batch": False,
    "bounds": {},
}

# torch.optim class names → the tuner's optimizer families (DESIGN §6: linear LR scaling for
# SGD, square root for the Adam family).
_OPTIMIZERS = {"SGD": "sgd", "Adam": "adam", "AdamW": "adamw", "Lamb": "lamb", "LARS": "lars",
               "SparseAdam": "adam", "Adamax": "adam", "NAdam": "adam", "RAdam": "adam"}


class Joined(NamedTuple):
    run_id: str
    version: int
    config: Dict[str, Any]
    tune: Dict[str, Any]


# The API's run-name pattern (server/schemas/runs.ts), checked here so a bad name fails at start().
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@+-]{0,127}$")


def check_name(name: str) -> str:
    if not isinstance(name, str) or not NAME.match(name):
        raise ValueError(f"trainpilot.start: name {name!r} must be 1–128 letters, digits and . _ : @ + - "
                         "(starting with a letter or digit)")
    return name


def normalise_config(config: Dict[str, Any]) -> Dict[str, Any]:
    """The run config the API takes; a precise error for anything missing or wrong."""
    missing = [k for k in ("batch_size", "learning_rate", "num_workers") if k not in config]
    if missing:
        raise ValueError(f"trainpilot.start: config lacks {', '.join(missing)}")
    unknown = sorted(set(config) - set(KNOBS))
    if unknown:
        raise ValueError(f"trainpilot.start: config has unknown keys {unknown}; known: {list(KNOBS)}")
    out = {"batch_size": int(config["batch_size"]), "learning_rate": float(config["learning_rate"]),
           "num_workers": int(config["num_workers"]), "grad_accum_steps": int(config.get("grad_accum_steps", 1))}
    if config.get("lr_warmup_steps") is not None:
        out["lr_warmup_steps"] = int(config["lr_warmup_steps"])
    if config.get("prefetch_factor") is not None:
        out["prefetch_factor"] = int(config["prefetch_factor"])
        if out["prefetch_factor"] < 1:
            raise ValueError(f"trainpilot.start: config prefetch_factor must be ≥ 1, not {config['prefetch_factor']!r}")
    for k in ("persistent_workers", "pin_memory"):
        if config.get(k) is not None:
            if not isinstance(config[k], bool):
                raise ValueError(f"trainpilot.start: config {k} must be True or False, not {config[k]!r}")
            out[k] = config[k]
    if out["batch_size"] < 1 or out["num_workers"] < 0 or out["grad_accum_steps"] < 1 or not out["learning_rate"] > 0:
        raise ValueError(f"trainpilot.start: config out of range: {out}")
    return out


def normalise_tune(tune: Optional[Dict[str, Any]], optimizer: Any = None) -> Dict[str, Any]:
    out = dict(DEFAULT_TUNE)
    if optimizer is not None and not (tune and "optimizer" in tune):
        out["optimizer"] = _OPTIMIZERS.get(type(optimizer).__name__, "other")
    out.update(tune or {})
    return out


def join(api: Api, *, run_id: Optional[str], name: str, config: Dict[str, Any], tune: Dict[str, Any],
         reason: str = "the job attached with its config") -> Joined:
    """Registers a new run (run_id None) or attaches to run_id. Raises Unreachable or HttpError.
    reason: the attach's config version says it (the zero-code hook names the loader's line)."""
    if run_id is None:
        body = {"name": name, "pid": os.getpid(), "config": config, "tune": tune}
        budget = safe_cpu_budget()
        if budget is not None:
            body["cpu_budget"] = budget  # read inside the job: the sidecar prefers it to /proc/PID
        r = api.request("POST", "/v1/runs", body)
        return Joined(r["id"], int(r["config_version"]), r.get("config") or config, r.get("tune") or tune)
    r = api.request("GET", f"/v1/runs/{run_id}")
    if r.get("config") is not None and int(r.get("config_version") or 0) > 0:
        # Already configured (another rank, or this job restarted): the sidecar's config wins.
        return Joined(run_id, int(r["config_version"]), r["config"], r.get("tune") or tune)
    # A run registered by `trainpilot run` knows the job's pid but not its config: give it ours,
    # keeping the tune mode chosen on the command line (`--tune`).
    merged = dict(tune)
    if isinstance(r.get("tune"), dict) and r["tune"].get("mode"):
        merged["mode"] = r["tune"]["mode"]
    if isinstance(r.get("tune"), dict) and r["tune"].get("host_memory_budget_bytes") and "host_memory_budget_bytes" not in tune:
        merged["host_memory_budget_bytes"] = r["tune"]["host_memory_budget_bytes"]  # `trainpilot run --host-memory-budget`
    try:
        r2 = api.request("PUT", f"/v1/runs/{run_id}/config",
                         {"config": config, "tune": merged, "expected_version": 0, "reason": reason[:500]})
    except HttpError as e:
        if e.status != 409:
            raise
        r2 = api.request("GET", f"/v1/runs/{run_id}")  # configured meanwhile: take what is there
        merged = r2.get("tune") or merged
    return Joined(run_id, int(r2["config_version"]), r2.get("config") or config, merged)
