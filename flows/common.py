"""What every synthvae flow shares: task options, CLI number types, error handling."""

from __future__ import annotations

import os

# Before Prefect is imported: it reads its settings from the environment once.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", "synthvae")  # library logs → run logs
# The temporary server's default 20 s is too tight on a busy 2-core machine.
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")

import argparse  # noqa: E402
import logging  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
from importlib import metadata  # noqa: E402
from pathlib import Path  # noqa: E402

from prefect import task  # noqa: E402
from prefect.cache_policies import NO_CACHE  # noqa: E402

from synthvae import Synthesizer  # noqa: E402
from synthvae.io import SUPPORTED_SUFFIXES, InputError, read_table  # noqa: E402
from synthvae.schema import SchemaViolation  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RUNS = ROOT / "runs"
VERSIONED_PACKAGES = ("synthvae", "torch", "numpy", "pandas", "pandera", "sdmetrics", "prefect")

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


def checked(parse, ok, words: str):
    """An argparse type: `parse` the text, then require `ok(value)`, else say `words`."""

    def convert(text: str):
        try:
            value = parse(text)
        except ValueError:
            value = None
        if value is None or not ok(value):
            raise argparse.ArgumentTypeError(f"must be {words}, got {text!r}")
        return value

    return convert


positive_int = checked(int, lambda v: v >= 1, "a positive integer")
positive_float = checked(float, lambda v: 0 < v < float("inf"), "a positive number")
fraction = checked(float, lambda v: 0 <= v < 1, "a number in [0, 1)")
unit_interval = checked(float, lambda v: 0 <= v <= 1, "a number in [0, 1]")
open_unit_interval = checked(float, lambda v: 0 < v < 1, "a number in (0, 1)")


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


def table_stem(path: Path) -> str:
    name = path.name
    for suffix in sorted(SUPPORTED_SUFFIXES, key=len, reverse=True):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for package in VERSIONED_PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions


@task(**COMPUTE_TASK)
def fit_on_table(source: Path, model_dir: Path, seed: int, max_seconds: float | None) -> Path:
    """Fit a default Synthesizer to a table and save it (for flows given no --model)."""
    Synthesizer(random_state=seed, max_seconds=max_seconds).fit(read_table(source)).save(model_dir)
    return model_dir


def add_model_options(parser: argparse.ArgumentParser) -> None:
    """--model, --seed and --max-seconds, as the flows that can fit their own model take them."""
    parser.add_argument("--model", dest="model_dir", help="saved synthesizer folder (default: "
                        "fit one to the input itself)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument("--max-seconds", type=positive_float, default=None,
                        help="training time budget when fitting (default: no limit)")
