"""What every synthvae flow shares: task options, CLI number types, error handling."""

from __future__ import annotations

import os

# Before Prefect is imported: it reads its settings from the environment once.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", "synthvae")  # library logs → run logs
# Library logs from before a flow runs (reading the input to check it) go to the console only.
os.environ.setdefault("PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW", "ignore")
# The temporary server's default 20 s is too tight on a busy 2-core machine.
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")

import argparse  # noqa: E402
import logging  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from contextlib import contextmanager, suppress  # noqa: E402
from pathlib import Path  # noqa: E402

from prefect import task  # noqa: E402
from prefect.cache_policies import NO_CACHE  # noqa: E402

from synthvae import Synthesizer  # noqa: E402
from synthvae.io import InputError, read_table, table_stem  # noqa: E402,F401
from synthvae.run.options import positive_float, positive_int  # noqa: E402,F401  (CLI types)
from synthvae.schema import SchemaViolation  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RUNS = Path.cwd() / "runs"  # outputs go where the user is, as with any command line

# Tasks write files into fresh folders, so a cached result would point at a folder that is gone.
# Only I/O is retried, and only on OSError: an InputError (a ValueError) will not fix itself.
# Timeouts are backstops against a hung disk or process, far above normal run times
# (reading and writing a million rows takes seconds; training Adult about a minute). A
# timed-out I/O task is not retried: a disk that hung once will likely hang again.
IO_TASK = {
    "cache_policy": NO_CACHE,
    "retries": 2,
    "retry_delay_seconds": 1,
    "retry_condition_fn": lambda task, run, state: _transient(state.result(raise_on_failure=False)),
    "timeout_seconds": 900,
}
COMPUTE_TASK = {"cache_policy": NO_CACHE, "timeout_seconds": 4 * 3600}


def _transient(error: BaseException | object) -> bool:
    return isinstance(error, OSError) and not isinstance(error, TimeoutError)


def fail(err: InputError) -> int:
    """A SchemaViolation's message is already a readable list (exit 1); any other InputError
    is one line (exit 2)."""
    print(f"error: {err}", file=sys.stderr)
    return 1 if isinstance(err, SchemaViolation) else 2


class _ExpectedErrorFilter(logging.Filter):
    """For console handlers: an InputError is the user's to fix, so log its first line, not a
    traceback. The traceback still reaches the run's logs in the Prefect API."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, InputError):
            record.msg, record.args = (
                "failed: %s: %s",
                (type(error).__name__, str(error).splitlines()[0]),
            )
            record.exc_info, record.exc_text = None, None
        return True


def quiet_expected_errors() -> None:
    for handler in logging.getLogger().handlers:
        handler.addFilter(_ExpectedErrorFilter())


# ------------------------------------------------------------------- stops and leftovers

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
RUN_TAG = "SYNTHVAE_RUN_PID"  # in the environment of every process a run starts


class RunStopped(BaseException):
    """SIGTERM or SIGINT arrived: the run unwinds, and each step removes what it made.

    A BaseException, as KeyboardInterrupt is, so that no `except Exception` carries on."""

    def __init__(self, signum: int):
        super().__init__(f"stopped by {signal.Signals(signum).name}")
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum  # what a shell reports for a process a signal ended


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """Within the block, the first SIGTERM or SIGINT raises RunStopped in the main thread;
    later ones are ignored, so that a second Ctrl-C cannot cut the cleanup short (SIGKILL
    still ends the process; the next run removes what it left). A SIGINT ignored when the
    block starts (a job started in the background with `&`) stays ignored. Prefect swaps
    in its own SIGTERM handler while a flow runs and passes the signal on to this one once
    the flow has unwound. Outside the main thread signals cannot be caught: a no-op."""
    stopping = []

    def stop(signum, frame):
        if not stopping:
            stopping.append(signum)
            raise RunStopped(signum)

    try:
        before = {s: signal.getsignal(s) for s in STOP_SIGNALS}
        for s in STOP_SIGNALS:
            if before[s] is not signal.SIG_IGN:
                signal.signal(s, stop)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        for s, handler in before.items():
            signal.signal(s, handler)


def tag_child_processes() -> None:
    """Mark every process this run starts from now on (Prefect's temporary server, Dask
    workers) as this run's, so that `stop_orphans` can find them if this process is killed."""
    os.environ[RUN_TAG] = str(os.getpid())


def stop_orphans() -> list[int]:
    """Stop the processes that runs killed outright (SIGKILL, out of memory) left running:
    Prefect's temporary server, Dask workers. Only processes of this user whose environment
    names a run that no longer runs; returns their ids."""
    import psutil  # a dependency of Dask's distributed

    orphans = {}
    for process in psutil.process_iter():
        try:
            if process.uids().real != os.getuid():
                continue
            owner = process.environ().get(RUN_TAG, "")
            if owner.isdigit() and int(owner) != os.getpid() and not psutil.pid_exists(int(owner)):
                command = " ".join(process.cmdline())
                process.terminate()
                orphans[process] = (owner, command)
        except (psutil.Error, OSError):  # gone, a zombie, or not ours to read
            continue
    _, alive = psutil.wait_procs(orphans, timeout=5)
    for process in alive:
        with suppress(psutil.Error):
            process.kill()
    for process, (owner, command) in orphans.items():
        # Not the run's logger: before the flow starts, Prefect has no run to file it under.
        print(f"warning: stopped process {process.pid} ({command[:80]}), left running by "
              f"run {owner}, which was killed", file=sys.stderr)
    return [process.pid for process in orphans]


@task(**COMPUTE_TASK)
def fit_on_table(source: Path, model_dir: Path, seed: int, max_seconds: float | None) -> Path:
    """Fit a default Synthesizer to a table and save it (for flows given no --model)."""
    Synthesizer(random_state=seed, max_seconds=max_seconds, progress=False).fit(
        read_table(source)).save(model_dir)
    return model_dir


def add_model_options(parser: argparse.ArgumentParser) -> None:
    """--model, --seed and --max-seconds, as the flows that can fit their own model take them."""
    parser.add_argument("--model", dest="model_dir", help="saved synthesizer folder (default: "
                        "fit one to the input itself)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument("--max-seconds", type=positive_float, default=None,
                        help="training time budget when fitting (default: no limit)")
