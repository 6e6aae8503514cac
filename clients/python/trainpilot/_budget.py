"""The job's own CPU budget, read from inside it and sent at registration: the CPUs its affinity
mask allows (os.sched_getaffinity) and the quota of its own cgroup (cgroup v2 cpu.max, or v1
cpu.cfs_quota_us / cpu.cfs_period_us), the tightest along its cgroup path. Inside a container
these files are the job's own, which a sidecar in another container may not see; the sidecar
prefers this report to what it reads through /proc/PID. Never raises: None when nothing is known."""
import os
from typing import Any, Dict, List, Optional, Tuple

CGROUP_ROOT = "/sys/fs/cgroup"


def _read(path: str) -> Optional[str]:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError:
        return None


def _cores_v2(text: str) -> Optional[float]:
    parts = text.split()
    if not parts or parts[0] == "max":
        return None
    try:
        q, p = float(parts[0]), float(parts[1]) if len(parts) > 1 else 100000.0
    except ValueError:
        return None
    return q / p if q > 0 and p > 0 else None


def _cores_v1(quota: str, period: str) -> Optional[float]:
    try:
        q, p = float(quota.strip()), float(period.strip())
    except ValueError:
        return None
    return q / p if q > 0 and p > 0 else None


def _ancestors(mount: str, path: str) -> List[str]:
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if ".." in parts:
        return []
    return [os.path.join(mount, *parts[:i]) for i in range(len(parts), -1, -1)]


def _quota(proc_cgroup: str, root: str) -> Optional[Tuple[float, str]]:
    v2 = None
    v1 = None
    for line in proc_cgroup.splitlines():
        bits = line.strip().split(":", 2)
        if len(bits) != 3:
            continue
        hid, controllers, path = bits
        if hid == "0" and controllers == "":
            v2 = path
        elif "cpu" in controllers.split(","):
            v1 = (controllers, path)
    found: List[Tuple[float, str]] = []
    if v2 is not None:
        for d in _ancestors(root, v2):
            text = _read(os.path.join(d, "cpu.max"))
            cores = _cores_v2(text) if text is not None else None
            if cores is not None:
                found.append((cores, os.path.join(d, "cpu.max")))
    if not found and v1 is not None:
        for mount in dict.fromkeys([os.path.join(root, v1[0]), os.path.join(root, "cpu")]):
            for d in _ancestors(mount, v1[1]):
                q, p = _read(os.path.join(d, "cpu.cfs_quota_us")), _read(os.path.join(d, "cpu.cfs_period_us"))
                cores = _cores_v1(q, p) if q is not None and p is not None else None
                if cores is not None:
                    found.append((cores, os.path.join(d, "cpu.cfs_quota_us")))
            if found:
                break
    return min(found) if found else None


def cpu_budget(root: str = CGROUP_ROOT, proc_cgroup_path: str = "/proc/self/cgroup") -> Optional[Dict[str, Any]]:
    """{"cores": float, "source": str} for this process, or None."""
    try:
        affinity = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        affinity = os.cpu_count() or 0
    if affinity <= 0:
        return None
    text = _read(proc_cgroup_path)
    quota = _quota(text, root) if text is not None else None
    if quota is not None and quota[0] < affinity:
        return {"cores": round(quota[0], 4), "source": f"cgroup quota {quota[0]:g} cores ({quota[1]}); affinity {affinity} CPUs"}
    return {"cores": float(affinity), "source": f"affinity {affinity} CPUs (sched_getaffinity)" + (f"; cgroup quota {quota[0]:g} cores ({quota[1]})" if quota else "; no cgroup quota")}


def safe_cpu_budget() -> Optional[Dict[str, Any]]:
    """cpu_budget() that never raises (the job never fails because of trainpilot)."""
    try:
        return cpu_budget()
    except Exception:  # noqa: BLE001 - fail open
        return None
