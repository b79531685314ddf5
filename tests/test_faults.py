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

from flows.common import RUN_TAG, RunStopped, stop_on_signals, stop_orphans
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


# ------------------------------------------------------------------ signals, orphans


def test_first_signal_raises_run_stopped_later_ones_are_ignored_handlers_restored():
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(RunStopped) as stopped:
        with stop_on_signals():
            with pytest.raises(RunStopped):
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(5)  # the handler raises as soon as the signal arrives
            os.kill(os.getpid(), signal.SIGINT)  # while cleaning up: ignored
            time.sleep(0.1)
            raise RunStopped(signal.SIGTERM)  # the block ends as a stopped run does
    assert stopped.value.exit_code == 143
    assert signal.getsignal(signal.SIGTERM) is before


def sleeper(owner: int) -> subprocess.Popen:
    env = {**os.environ, RUN_TAG: str(owner)}
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"], env=env)


def test_stop_orphans_stops_processes_of_dead_runs_only():
    orphan, child_of_live_run = sleeper(dead_pid()), sleeper(os.getppid())
    try:
        stopped = stop_orphans()  # other dead runs of this user may have left some too
        assert orphan.pid in stopped and child_of_live_run.pid not in stopped
        orphan.wait(timeout=10)
        assert not psutil.pid_exists(orphan.pid)
        assert child_of_live_run.poll() is None
    finally:
        for process in (orphan, child_of_live_run):
            process.kill()
            process.wait()


# --------------------------------------------------- a real run, stopped or killed


@pytest.fixture()
def run_env(tmp_path):
    """A private temp folder (to find copies of real rows left there) and Prefect home."""
    (tmp_path / "tmp").mkdir()
    env = {key: value for key, value in os.environ.items() if key != "PREFECT_API_URL"}
    return env | {"TMPDIR": str(tmp_path / "tmp"), "PREFECT_HOME": str(tmp_path / "prefect"),
                  "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "OMP_NUM_THREADS": "1"}


@pytest.fixture(scope="module")
def sample_csv(tmp_path_factory) -> Path:
    import pandas as pd

    path = tmp_path_factory.mktemp("input") / "adult_sample.csv"
    pd.read_csv(ROOT / "data" / "adult.csv.gz").sample(1000, random_state=0).to_csv(
        path, index=False)
    return path


def start_run(sample_csv: Path, output: Path, env: dict[str, str]) -> subprocess.Popen:
    """`python -m flows.generate` on 1,000 Adult rows, long enough to be stopped midway."""
    return subprocess.Popen(
        [sys.executable, "-m", "flows.generate", "--input", str(sample_csv), "--schema",
         str(ADULT_SCHEMA), "--output", str(output), "--epochs", "1000", "--rows", "300"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        # As at a terminal: a suite started in the background (`cmd &`, nohup) inherits an
        # ignored SIGINT, which the run rightly keeps ignoring.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def wait_for_training_in_staging(run: subprocess.Popen, output: Path) -> Path:
    """The staging folder, once the flow has made it and moved on to training (its 1,000
    epochs take far longer than the second given here)."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        staging = list(output.parent.glob(f".{output.name}.tmp-*"))
        if staging:
            time.sleep(1.0)
            assert run.poll() is None, run.stdout.read()[-3000:]
            return staging[0]
        assert run.poll() is None, run.stdout.read()[-3000:]
        time.sleep(0.2)
    raise AssertionError("the run made no staging folder in 300 s")


def files_under(folder: Path) -> list[Path]:
    return [path for path in folder.rglob("*") if path.is_file()]


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_the_run_leaving_no_staging_copies_or_processes(
        sample_csv, run_env, tmp_path, signum):
    output = tmp_path / "runs" / "out"
    run = start_run(sample_csv, output, run_env)
    try:
        wait_for_training_in_staging(run, output)
        children = psutil.Process(run.pid).children(recursive=True)
        assert children  # Prefect's temporary server, at least
        run.send_signal(signum)
        log = run.communicate(timeout=120)[0]
    finally:
        run.kill()
    assert run.returncode == 128 + signum, log[-3000:]
    assert f"stopped by {signal.Signals(signum).name}" in log
    assert list(output.parent.iterdir()) == []  # no staging, no output
    assert files_under(tmp_path / "tmp") == []
    _, alive = psutil.wait_procs(children, timeout=10)
    assert alive == []


@pytest.mark.slow
def test_the_next_run_removes_what_a_killed_run_left(sample_csv, run_env, tmp_path):
    output = tmp_path / "runs" / "out"
    killed = start_run(sample_csv, output, run_env)
    try:
        staging = wait_for_training_in_staging(killed, output)
        server = psutil.Process(killed.pid).children(recursive=True)
        killed.kill()  # SIGKILL: nothing of the run's own runs any more
        killed.wait()
    finally:
        killed.kill()
    assert staging.is_dir() and all(process.is_running() for process in server)

    rerun = subprocess.run(
        [sys.executable, "-m", "flows.generate", "--input", str(sample_csv), "--schema",
         str(ADULT_SCHEMA), "--output", str(output), "--epochs", "2", "--rows", "300"],
        cwd=ROOT, env=run_env, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert [path.name for path in output.parent.iterdir()] == ["out"]
    _, alive = psutil.wait_procs(server, timeout=10)
    assert alive == []


# ----------------------------------------------------------------- thread settings


def python(code: str, **env: str) -> str:
    clean = {k: v for k, v in os.environ.items()
             if k not in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "KMP_BLOCKTIME")}
    return subprocess.run([sys.executable, "-c", code], env=clean | env, cwd=ROOT, check=True,
                          capture_output=True, text=True, timeout=300).stdout.strip()


def test_torch_imported_first_is_capped_at_the_usable_cores_when_synthvae_loads():
    cores = usable_cores()
    assert python("import torch; torch.set_num_threads(%d); import synthvae; "
                  "print(torch.get_num_threads())" % (cores + 3)) == str(cores)


def test_fewer_threads_than_cores_asked_for_by_the_user_are_kept():
    assert python("import synthvae, torch; print(torch.get_num_threads())",
                  OMP_NUM_THREADS="1") == "1"


def test_openmp_threads_sleep_while_they_wait_unless_the_user_says_otherwise():
    code = "import os, synthvae; print(os.environ['OMP_WAIT_POLICY'])"
    assert python(code) == "PASSIVE"
    assert python(code, OMP_WAIT_POLICY="ACTIVE") == "ACTIVE"
