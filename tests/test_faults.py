"""Faults and load: CPU quotas read from cgroup files, runs stopped by signals or killed, and
what the next run cleans up after them."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from synthvae import io
from synthvae.io import atomic_dir, cgroup_cpu_quota, remove_stale_staging, usable_cores

ROOT = Path(__file__).resolve().parents[1]
ADULT_SCHEMA = ROOT / "schemas" / "adult.yaml"


# ------------------------------------------------------------------------- CPU quota


def fake_cgroup(root: Path, files: dict[str, str], own: str = "0::/\n") -> tuple[Path, Path]:
    """A cgroup tree under `root` holding `files` (path -> text), and a /proc/self/cgroup."""
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    proc = root.parent / "proc-self-cgroup"
    proc.write_text(own)
    return root, proc


def test_cgroup_v2_quota_is_quota_over_period(tmp_path):
    root, proc = fake_cgroup(tmp_path / "cg", {"cpu.max": "200000 100000\n"})
    assert cgroup_cpu_quota(root, proc) == 2.0


def test_cgroup_v2_max_is_no_limit(tmp_path):
    root, proc = fake_cgroup(tmp_path / "cg", {"cpu.max": "max 100000\n"})
    assert cgroup_cpu_quota(root, proc) is None


def test_cgroup_v2_limit_on_a_parent_group_applies_to_the_process(tmp_path):
    root, proc = fake_cgroup(
        tmp_path / "cg",
        {"kubepods/cpu.max": "150000 100000\n", "kubepods/pod1/cpu.max": "max 100000\n"},
        own="0::/kubepods/pod1\n",
    )
    assert cgroup_cpu_quota(root, proc) == 1.5


def test_cgroup_v1_cfs_quota_over_period(tmp_path):
    root, proc = fake_cgroup(
        tmp_path / "cg",
        {"cpu,cpuacct/cpu.cfs_quota_us": "300000\n", "cpu,cpuacct/cpu.cfs_period_us": "100000\n"},
        own="4:memory:/x\n2:cpu,cpuacct:/\n1:name=systemd:/\n",
    )
    assert cgroup_cpu_quota(root, proc) == 3.0


def test_cgroup_v1_minus_one_is_no_limit(tmp_path):
    root, proc = fake_cgroup(
        tmp_path / "cg", {"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"},
        own="1:cpu:/\n")
    assert cgroup_cpu_quota(root, proc) is None


def test_cgroup_group_path_the_container_cannot_see_falls_back_to_the_mount(tmp_path):
    # Docker without a cgroup namespace: /proc/self/cgroup names /docker/<id>, but the
    # container's own group is mounted at the root.
    root, proc = fake_cgroup(tmp_path / "cg", {"cpu.max": "100000 100000\n"},
                             own="0::/docker/0123abcd\n")
    assert cgroup_cpu_quota(root, proc) == 1.0


def test_no_cgroup_files_is_no_limit(tmp_path):
    assert cgroup_cpu_quota(tmp_path / "missing", tmp_path / "missing-proc") is None


def test_usable_cores_is_capped_by_the_quota_rounded_down_but_at_least_one(tmp_path):
    affinity = len(os.sched_getaffinity(0))
    for text, expected in (("max 100000", affinity), ("100000 100000", 1), ("50000 100000", 1),
                           (f"{affinity * 100000 + 50000} 100000", affinity)):
        root, proc = fake_cgroup(tmp_path / text.replace(" ", "_"), {"cpu.max": text})
        assert usable_cores(root, proc) == expected, text


def test_a_two_cpu_quota_on_a_bigger_machine_gives_two_cores(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(64)))
    root, proc = fake_cgroup(tmp_path / "cg", {"cpu.max": "200000 100000"})
    assert usable_cores(root, proc) == 2


# ------------------------------------------------------------------- stale staging


def dead_pid() -> int:
    """The id of a process that has finished and been reaped."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_next_atomic_dir_removes_staging_left_by_a_dead_process(tmp_path):
    stale = tmp_path / f".out.tmp-{dead_pid()}-{io._HOST}-k1ll3d"
    stale.mkdir()
    (stale / "train.parquet").write_text("copies of real rows")
    with atomic_dir(tmp_path / "out") as staging:
        (staging / "report.json").write_text("{}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_staging_of_a_live_process_another_host_or_unknown_owner_is_kept(tmp_path):
    keep = [
        tmp_path / f".out.tmp-{os.getppid()}-{io._HOST}-alive",  # a running process
        tmp_path / f".out.tmp-{dead_pid()}-otherhost-shared",  # another machine, same disk
        tmp_path / ".out.tmp-abc123",  # older naming: owner unknown
    ]
    for folder in keep:
        folder.mkdir()
    assert remove_stale_staging(tmp_path / "out") == []
    assert all(folder.is_dir() for folder in keep)


def test_staging_names_the_running_process_and_host(tmp_path):
    with atomic_dir(tmp_path / "out") as staging:
        assert staging.name.startswith(f".out.tmp-{os.getpid()}-{io._HOST}-")
