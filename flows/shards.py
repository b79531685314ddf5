"""Sharded sampling: shards of one sample drawn, checked and written as Prefect tasks on a
Dask cluster (prefect-dask's DaskTaskRunner), a local one (`--workers N`) or an existing one
(`--dask-address tcp://host:8786`).

Shard k is rows [k * shard_rows, ...) of the very stream `Synthesizer.iter_sample(rows,
random_state=seed)` gives in one process (`iter_sample(start=...)` draws it without the rows
before it, ids included), so the rows never depend on how many workers there are. Each shard
is written as its own part, `synthetic.parquet/part-00000.parquet`, ..., to a temporary name
first. Workers write straight into the run's staging folder, so on a real cluster the output
folder must be on storage every worker can reach, and the model folder too.
"""
from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task

from flows.common import COMPUTE_TASK
from synthvae import Synthesizer
from synthvae.conditional import parse_where
from synthvae.io import InputError, write_table_stream
from synthvae.schema import load_schema
from synthvae.stream import sample_stream
from synthvae.run.options import SHARD_ROWS
from synthvae.run.steps import shard_plan

_MODELS: dict[tuple[str, int], Synthesizer] = {}  # per worker process: load a model once


def _load(model_dir: Path) -> Synthesizer:
    meta = Path(model_dir) / "synthesizer.json"
    key = (str(Path(model_dir).resolve()), meta.stat().st_mtime_ns)  # a replaced model reloads
    if key not in _MODELS:
        _MODELS[key] = Synthesizer.load(model_dir)
    return _MODELS[key]


@task(**COMPUTE_TASK)
def sample_shard(model_dir: Path, index: int, start: int, rows: int, total_rows: int,
                 seed: int, destination: Path, format: str, schema: Path,
                 where: list[str] | None = None, threads: int = 1) -> dict[str, Any]:
    """Draw rows start ... start + rows - 1, check each chunk against the schema, and write
    them as part `index` of `destination`."""
    started = time.perf_counter()
    synthesizer = _load(model_dir)
    chunks = sample_stream(synthesizer, rows, random_state=seed, start=start,
                           conditions=parse_where(where) if where else None,
                           schema=load_schema(schema), arrow=format == "parquet",
                           threads=threads)
    part = destination / f"part-{index:05d}.{format}"
    # The disk check counts every row from here to the end: shards run side by side.
    _, written = write_table_stream(chunks, part, format, expected_rows=total_rows - start)
    return {"part": part.name, "rows": written, "seconds": round(time.perf_counter() - started, 2),
            "worker_pid": os.getpid()}


@flow(name="synthvae-sample-shards")
def sample_shards(model_dir: Path, rows: int, destination: Path, format: str, schema_path: Path,
                  seed: int, where: list[str] | None = None,
                  shard_rows: int = SHARD_ROWS) -> dict[str, Any]:
    """Every shard as a task on the flow's task runner; the parts folder is `destination`."""
    logger = get_run_logger()
    plan = shard_plan(rows, shard_rows)
    destination.mkdir(parents=True, exist_ok=True)
    logger.info("%d shards of up to %d rows", len(plan), shard_rows)
    futures = [sample_shard.submit(model_dir, index, start, n, rows, seed, destination, format,
                                   schema_path, where) for index, start, n in plan]
    parts = [future.result() for future in futures]  # in shard order; re-raises a failure
    return {"shards": len(parts), "rows": sum(p["rows"] for p in parts),
            "workers": len({p["worker_pid"] for p in parts}), "parts": parts}


def dask_task_runner(workers: int | None, address: str | None):
    """A DaskTaskRunner on an existing scheduler, or on a local cluster of `workers`
    one-thread processes (each runs whole shards, so processes, not threads, share out the
    cores)."""
    os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "warning")
    from prefect_dask import DaskTaskRunner
    if address:
        return DaskTaskRunner(address=address)
    return DaskTaskRunner(cluster_kwargs={
        "n_workers": workers, "processes": True, "threads_per_worker": 1,
        "dashboard_address": "127.0.0.1:0"})  # not 8787 on every interface


@contextmanager
def shared_prefect_api(address: str | None) -> Iterator[None]:
    """Dask workers report task runs to the flow's Prefect API. With a server
    (PREFECT_API_URL) that is simple; without one, each worker process would start its own
    temporary server (seconds and ~220 MB each, left running on long-lived workers), so
    start one here for the flow and its local workers. Workers elsewhere cannot reach a
    temporary server on this machine: an existing cluster needs a real one."""
    from prefect.settings import PREFECT_API_URL, temporary_settings
    if PREFECT_API_URL.value():
        yield
        return
    if address:
        raise InputError("--dask-address needs a Prefect server the workers can reach: start "
                         "one (prefect server start) and set PREFECT_API_URL=http://HOST:4200/api")
    from prefect.server.api.server import SubprocessASGIServer
    server = SubprocessASGIServer()
    server.start()  # stopped at exit, after Prefect's log and event workers have drained
    with temporary_settings({PREFECT_API_URL: server.api_url}):
        yield
