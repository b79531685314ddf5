"""Threads sized to the cores this process may use, set before PyTorch, numba or OpenBLAS
start their thread pools (they read these variables once, at import).

They count the host's cores, not a container's CPU quota; and OpenMP threads that wait must
sleep, not spin: spinning, they keep the cores from the thread still working whenever another
process runs too (Adult's fit took 20x longer on two busy cores). A variable the user set
wins. `synthvae/__init__.py` imports this module first, so any way into the package applies it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def usable_cores(cgroup_root: str | os.PathLike = "/sys/fs/cgroup",
                 proc_cgroup: str | os.PathLike = "/proc/self/cgroup") -> int:
    """The cores this process may keep busy: its CPU affinity, capped by its cgroup's CPU
    quota (a container given 2 CPUs on a 64-core host gets 2, where torch would start 64)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    quota = cgroup_cpu_quota(cgroup_root, proc_cgroup)
    # Rounded down: threads beyond the quota are throttled mid-step while the others wait.
    return cores if quota is None else max(1, min(cores, int(quota)))


def cgroup_cpu_quota(root: str | os.PathLike = "/sys/fs/cgroup",
                     proc_cgroup: str | os.PathLike = "/proc/self/cgroup") -> float | None:
    """CPUs per period this process's cgroup may use (quota / period), None when unlimited.

    The tightest of cgroup v2's `cpu.max` ("QUOTA PERIOD" or "max PERIOD") and v1's
    `cpu.cfs_quota_us` / `cpu.cfs_period_us` (-1: unlimited), read in the process's own group
    (from `proc_cgroup`) and every group above it up to `root`: a limit set on a parent
    applies to its children. Files that are missing or unreadable count as no limit."""
    root = Path(root)
    groups = {"v2": "/", "cpu": "/"}
    try:
        for line in Path(proc_cgroup).read_text().splitlines():
            number, controllers, path = line.split(":", 2)
            if number == "0" and not controllers:
                groups["v2"] = path
            elif "cpu" in controllers.split(","):
                groups["cpu"] = path
    except (OSError, ValueError):
        pass
    quotas = [_cpu_max(folder / "cpu.max") for folder in _up_from(root, groups["v2"])]
    for mount in (root / "cpu", root / "cpu,cpuacct", root / "cpuacct,cpu"):
        quotas += [_cfs_quota(folder) for folder in _up_from(mount, groups["cpu"])]
    quotas = [quota for quota in quotas if quota is not None]
    return min(quotas) if quotas else None


def _up_from(mount: Path, group: str) -> list[Path]:
    """`mount`/`group` and each folder above it up to `mount` (in a container the group's
    path often names a folder the container cannot see: then only `mount` itself is read)."""
    folder = mount / group.strip("/")
    return [folder, *[p for p in folder.parents if p.is_relative_to(mount)]]


def _cpu_max(path: Path) -> float | None:
    try:
        quota, period = path.read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError, ZeroDivisionError):
        return None


def _cfs_quota(folder: Path) -> float | None:
    try:
        quota = int((folder / "cpu.cfs_quota_us").read_text())
        period = int((folder / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return quota / period if quota > 0 and period > 0 else None


CORES = usable_cores()
USER_THREADS = "OMP_NUM_THREADS" in os.environ  # the user's setting wins everywhere
if CORES < (os.cpu_count() or 1):
    for _name in ("OMP_NUM_THREADS", "NUMBA_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(_name, str(CORES))
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # GNU OpenMP (torch's CPU wheels, MKL)
os.environ.setdefault("KMP_BLOCKTIME", "0")  # the same for Intel OpenMP builds

# torch imported before synthvae has already read the variables: size its pool directly
if "torch" in sys.modules and not USER_THREADS:
    _torch = sys.modules["torch"]
    if _torch.get_num_threads() > CORES:
        _torch.set_num_threads(CORES)
