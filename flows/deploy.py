"""Scheduled refreshes: one Prefect deployment per dataset, each fitting and publishing.

`refresh` runs the generate flow (flows/generate_flow.py) as a subflow into a fresh run folder and,
when it succeeds (which, with the privacy gate enforced, means the gate passed), publishes
that folder to the catalog with `synthvae.catalog.publish`: a new immutable version that
`python -m flows.pull` and `python -m flows.catalog` read. Modelling stays in the library and
the generate flow; this module only wires them to schedules.

The datasets come from deployments.yaml (next to this repository's README; `--config` for
another). Each entry: `name` (the deployment and catalog dataset name), `input`, `schema`,
`rows`, `seed` (an integer, fixed; or `date`: the run's scheduled UTC day as YYYYMMDD, so
each day's refresh differs and re-running that day's run repeats it), `cron` and `timezone`,
and optionally `privacy_gate`, `epochs`, `max_seconds`, `holdout_fraction`,
`timeout_minutes`, `keep_run`, `description`. Paths are relative to the config file.

One process, with `prefect.serve` (each deployment is `refresh.to_deployment(name=...,
schedules=[Cron(...)], parameters=...)`):

    prefect server start                              # terminal 1; UI on :4200
    export PREFECT_API_URL=http://127.0.0.1:4200/api  # terminal 2
    python -m flows.deploy --serve                    # registers, then runs on schedule
    prefect deployment run synthvae-refresh/adult     # a run now (any terminal)

The serving process must stay up: it polls the server for due runs and executes each in a
subprocess. Stopping it (Ctrl-C) pauses its schedules. `--serve --limit N` caps concurrent
runs (default 1: a fit uses every core).

Workers instead (runs on other machines, or in containers): register the deployments to a
work pool with `flow.deploy` and start workers that poll it:

    prefect work-pool create synthvae --type process
    python -m flows.deploy --pool synthvae            # refresh.from_source(this checkout,
                                                      #   "flows/deploy.py:refresh").deploy(...)
    prefect worker start --pool synthvae              # on each machine with this checkout

For a Docker or Kubernetes pool, deploy with an image instead (`refresh.deploy(name,
work_pool_name=..., image=...)`) or from a git source (`refresh.from_source("https://...",
entrypoint="flows/deploy.py:refresh")`). A worker loads the flow from its entrypoint, so
there the per-dataset `timeout_minutes` does not apply and the flow's own
REFRESH_TIMEOUT_SECONDS ($SYNTHVAE_REFRESH_TIMEOUT_SECONDS) does.

Robustness: generate's I/O tasks retry OSErrors (flows.common.IO_TASK); the publish task
retries them too and has its own timeout; every refresh run has a timeout. A failed run (an
enforced privacy gate that failed included) publishes nothing and keeps its run folder, with
report.json and report.html, for inspection; a published run's folder is removed unless
`keep_run`.
"""

from __future__ import annotations

# flows.common first: it sets Prefect's environment before Prefect is imported.
from flows.common import IO_TASK, ROOT, RUNS

import argparse
import importlib
import json
import os
import re
import shutil
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml
from prefect import flow, get_run_logger, runtime, task
from prefect.artifacts import create_markdown_artifact
from prefect.schedules import Cron

from flows.generate_flow import generate
from synthvae.run.options import RunOptions
from synthvae.catalog import MANIFEST, CatalogError, check_name, publish, resolve_root
from synthvae.io import InputError

DEFAULT_CONFIG = ROOT / "deployments.yaml"
FLOW_NAME = "synthvae-refresh"
REFRESH_TIMEOUT_SECONDS = float(os.environ.get("SYNTHVAE_REFRESH_TIMEOUT_SECONDS", "14400"))
PUBLISH_TIMEOUT_SECONDS = 600  # copying and hashing a few hundred MB, on a slow disk
CATALOG_ARTIFACT = "synthvae-catalog"


# ------------------------------------------------------------------------------- the flow


@task(**{**IO_TASK, "timeout_seconds": PUBLISH_TIMEOUT_SECONDS})
def publish_version(run_dir: str, dataset: str, catalog_root: str | None) -> dict[str, Any]:
    """Publish the run folder as the next catalog version; return its manifest."""
    folder = publish(run_dir, dataset, catalog_root)
    return {**json.loads((folder / MANIFEST).read_text()), "path": str(folder)}


@flow(name=FLOW_NAME, timeout_seconds=REFRESH_TIMEOUT_SECONDS)
def refresh(
    dataset: str,
    input_path: str,
    schema_path: str | None = None,
    rows: int = 100_000,
    seed: int | None = None,
    epochs: int | None = None,
    max_seconds: float | None = None,
    holdout_fraction: float = 0.2,
    privacy_gate: bool = True,
    catalog_root: str | None = None,
    runs_dir: str | None = None,
    keep_run: bool = False,
) -> dict[str, Any]:
    """Fit and sample `dataset` with the generate flow, then publish it to the catalog.

    `seed` None: the run's scheduled UTC day as YYYYMMDD. `catalog_root` None:
    $SYNTHVAE_CATALOG, else data/catalog. `runs_dir` None: runs/refresh. Returns a summary of
    the published version."""
    logger = get_run_logger()
    check_name(dataset, "dataset")
    scheduled = runtime.flow_run.scheduled_start_time
    if seed is None:
        seed = date_seed(scheduled)
        logger.info("seed %d: from the scheduled day", seed)
    run_id = str(runtime.flow_run.id or "local")[:8]
    stamp = scheduled.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    output = Path(runs_dir or RUNS / "refresh") / dataset / f"{stamp}-{run_id}"
    report = generate(RunOptions(
        rows=rows,
        input_path=input_path,
        schema_path=schema_path,
        output_dir=str(output),
        format="parquet",
        seed=seed,
        epochs=epochs,
        max_seconds=max_seconds,
        holdout_fraction=holdout_fraction,
        privacy_gate=privacy_gate,
    ))
    manifest = publish_version(str(output), dataset, catalog_root)
    summary = {
        "dataset": dataset,
        "version": manifest["version"],
        "path": manifest["path"],
        "rows": manifest["rows"],
        "seed": seed,
        "quality": report.quality,
        "privacy_gate": manifest["privacy"]["gate"],
        "model_id": manifest["model"]["id"],
    }
    create_markdown_artifact(
        key=artifact_key(dataset),
        markdown=_markdown(summary, manifest),
        description=f"synthvae: the catalog version this refresh of {dataset} published",
    )
    logger.info("published %s version %s (%s rows, quality %.3f) to %s", dataset,
                summary["version"], f"{summary['rows']:,}", summary["quality"], summary["path"])
    if not keep_run:
        shutil.rmtree(output, ignore_errors=True)
    return summary


def date_seed(when: datetime | None = None) -> int:
    """YYYYMMDD of `when` (default now) in UTC."""
    when = when or datetime.now(timezone.utc)
    return int(when.astimezone(timezone.utc).strftime("%Y%m%d"))


def artifact_key(dataset: str) -> str:
    """Artifact keys allow lowercase letters, digits and dashes only."""
    return f"{CATALOG_ARTIFACT}-{re.sub(r'[^a-z0-9-]+', '-', dataset.lower())}"


def _markdown(summary: dict[str, Any], manifest: dict[str, Any]) -> str:
    gate = summary["privacy_gate"]
    verdict = ("passed" if gate["passed"] else "failed") + (
        " (enforced)" if gate["enforced"] else " (not enforced)")
    figures = manifest["privacy"]["figures"]
    return (
        f"# {summary['dataset']} version {summary['version']}\n\n"
        f"- path: `{summary['path']}`\n"
        f"- rows: {summary['rows']:,}; seed {summary['seed']}; "
        f"model `{summary['model_id'][:16]}…`\n"
        f"- quality: {summary['quality']:.3f}\n"
        f"- privacy gate: {verdict}; membership-inference AUC "
        f"{figures.get('membership_auc')}, DCR ratio {figures.get('dcr_ratio')}\n\n"
        f"Pull it: `python -m flows.pull --dataset {summary['dataset']} --version "
        f"{summary['version']} --rows 5000 --out qa.csv`\n"
    )


# -------------------------------------------------------------------------------- config

KEYS = {
    "name", "input", "schema", "rows", "seed", "cron", "timezone", "privacy_gate", "epochs",
    "max_seconds", "holdout_fraction", "timeout_minutes", "keep_run", "description",
}
TOP_KEYS = {"defaults", "datasets", "catalog", "runs_dir"}


@dataclass
class Dataset:
    name: str
    input: Path
    schema: Path | None = None
    rows: int = 100_000
    seed: int | None = None  # None: from the date
    cron: str | None = None
    timezone: str = "UTC"
    privacy_gate: bool = True
    epochs: int | None = None
    max_seconds: float | None = None
    holdout_fraction: float = 0.2
    timeout_minutes: float | None = None
    keep_run: bool = False
    description: str | None = None


@dataclass
class Config:
    path: Path
    datasets: list[Dataset]
    catalog: Path | None = None
    runs_dir: Path | None = None


def load_config(path: str | os.PathLike = DEFAULT_CONFIG) -> Config:
    """Read and check the datasets file; InputError (one line) on anything wrong."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"deployments config not found: {path}") from None
    except (OSError, yaml.YAMLError) as err:
        raise InputError(f"{path}: unreadable YAML ({' '.join(str(err).split())})") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("datasets"), list) \
            or not raw["datasets"]:
        raise InputError(f"{path}: expected a mapping with a non-empty `datasets` list")
    unknown = set(raw) - TOP_KEYS
    if unknown:
        raise InputError(f"{path}: unknown top-level keys {sorted(unknown)}; known: "
                         f"{sorted(TOP_KEYS)}")
    base = path.parent
    defaults = raw.get("defaults") or {}
    datasets, names = [], set()
    for i, entry in enumerate(raw["datasets"]):
        if not isinstance(entry, dict):
            raise InputError(f"{path}: datasets[{i}] is not a mapping")
        merged = {**defaults, **entry}
        where = f"{path}: dataset {merged.get('name', f'#{i + 1}')!r}"
        unknown = set(merged) - KEYS
        if unknown:
            raise InputError(f"{where}: unknown keys {sorted(unknown)}; known: {sorted(KEYS)}")
        for key in ("name", "input"):
            if not merged.get(key):
                raise InputError(f"{where}: `{key}` is required")
        try:
            check_name(merged["name"], "dataset")
        except CatalogError as err:
            raise InputError(f"{where}: {err}") from None
        if merged["name"] in names:
            raise InputError(f"{where}: the name is used twice")
        names.add(merged["name"])
        datasets.append(_dataset(merged, base, where))
    return Config(
        path=path,
        datasets=datasets,
        catalog=_path(base, raw.get("catalog")),
        runs_dir=_path(base, raw.get("runs_dir")),
    )


def _dataset(entry: dict[str, Any], base: Path, where: str) -> Dataset:
    seed = entry.get("seed", "date")
    if seed == "date":
        seed = None
    elif isinstance(seed, bool) or not isinstance(seed, int):
        raise InputError(f"{where}: seed must be an integer or 'date', got {seed!r}")
    rows = entry.get("rows", 100_000)
    if isinstance(rows, bool) or not isinstance(rows, int) or rows < 1:
        raise InputError(f"{where}: rows must be a positive integer, got {rows!r}")
    source = _path(base, entry["input"])
    if not source.is_file():
        raise InputError(f"{where}: input file not found: {source}")
    schema = _path(base, entry.get("schema"))
    if schema is not None and not schema.is_file():
        raise InputError(f"{where}: schema file not found: {schema}")
    cron, zone = entry.get("cron"), entry.get("timezone", "UTC")
    if cron is not None:
        try:
            Cron(str(cron), timezone=zone)
            _check_timezone(zone)
        except ValueError as err:
            raise InputError(f"{where}: {' '.join(str(err).split())}") from None
    dataset = Dataset(name=entry["name"], input=source, schema=schema, rows=rows, seed=seed,
                      cron=None if cron is None else str(cron), timezone=zone)
    for key in ("privacy_gate", "epochs", "max_seconds", "holdout_fraction", "timeout_minutes",
                "keep_run", "description"):
        if key in entry:
            setattr(dataset, key, entry[key])
    return dataset


def _check_timezone(zone: str) -> None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown timezone {zone!r}") from None


def _path(base: Path, value: Any) -> Path | None:
    if value in (None, ""):
        return None
    path = Path(os.path.expanduser(str(value)))
    return path if path.is_absolute() else (base / path).resolve()


def parameters(dataset: Dataset, config: Config) -> dict[str, Any]:
    """The refresh flow's parameters for one dataset."""
    return {
        "dataset": dataset.name,
        "input_path": str(dataset.input),
        "schema_path": None if dataset.schema is None else str(dataset.schema),
        "rows": dataset.rows,
        "seed": dataset.seed,
        "epochs": dataset.epochs,
        "max_seconds": dataset.max_seconds,
        "holdout_fraction": dataset.holdout_fraction,
        "privacy_gate": dataset.privacy_gate,
        "catalog_root": None if config.catalog is None else str(config.catalog),
        "runs_dir": None if config.runs_dir is None else str(config.runs_dir),
        "keep_run": dataset.keep_run,
    }


def build_deployments(config: Config, only: list[str] | None = None) -> list[Any]:
    """One RunnerDeployment per dataset (for `prefect.serve`)."""
    flow_ = _importable_refresh()
    chosen = _chosen(config, only)
    deployments = []
    for dataset in chosen:
        this = flow_
        if dataset.timeout_minutes:
            this = flow_.with_options(timeout_seconds=float(dataset.timeout_minutes) * 60)
        deployments.append(
            this.to_deployment(
                name=dataset.name,
                schedules=[Cron(dataset.cron, timezone=dataset.timezone)] if dataset.cron
                else None,
                parameters=parameters(dataset, config),
                description=dataset.description or _description(dataset),
                tags=["synthvae", f"dataset:{dataset.name}"],
            )
        )
    return deployments


def _chosen(config: Config, only: list[str] | None) -> list[Dataset]:
    if not only:
        return config.datasets
    known = [d.name for d in config.datasets]
    missing = [name for name in only if name not in known]
    if missing:
        raise InputError(f"--only {', '.join(missing)}: not in {config.path}; datasets: "
                         f"{', '.join(known)}")
    return [d for d in config.datasets if d.name in only]


def _description(dataset: Dataset) -> str:
    when = f"on cron {dataset.cron!r} ({dataset.timezone})" if dataset.cron else "on demand"
    seed = "the scheduled day" if dataset.seed is None else f"fixed {dataset.seed}"
    return (f"Refresh {dataset.name} {when}: fit on {dataset.input.name}, write "
            f"{dataset.rows:,} rows (seed: {seed}), publish to the catalog.")


def _importable_refresh():
    """`refresh` as flows.deploy.refresh, not __main__.refresh, when run with -m: served runs
    start in a spawned subprocess that must import the flow by its module name."""
    return importlib.import_module("flows.deploy").refresh


# ------------------------------------------------------------------------------------ CLI


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m flows.deploy",
        description="Prefect deployments of the synthvae refresh flow (generate, then publish "
        "to the catalog), one per dataset in the config file.",
    )
    parser.add_argument("--config", default=str(DEFAULT_CONFIG),
                        help="datasets file (default: deployments.yaml in the repository)")
    parser.add_argument("--only", action="append", metavar="NAME",
                        help="only this dataset, repeatable (default: all)")
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--serve", action="store_true",
                        help="register the deployments and run them on schedule in this "
                        "process (needs PREFECT_API_URL: a running `prefect server start`)")
    action.add_argument("--pool", metavar="WORK_POOL",
                        help="register the deployments to a process work pool for "
                        "`prefect worker start --pool WORK_POOL`")
    parser.add_argument("--limit", type=int, default=1,
                        help="with --serve: most runs at once (default: 1)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Without --serve or --pool: print what would be deployed. Exit 2 on a bad config."""
    args = build_parser().parse_args(argv)
    try:
        config = load_config(args.config)
        chosen = _chosen(config, args.only)
        if (args.serve or args.pool) and not _api_url():
            raise InputError("no Prefect server: run `prefect server start` and set "
                             "PREFECT_API_URL (e.g. http://127.0.0.1:4200/api)")
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    catalog = resolve_root(config.catalog)
    for dataset in chosen:
        when = f"cron {dataset.cron!r} {dataset.timezone}" if dataset.cron else "no schedule"
        print(f"{FLOW_NAME}/{dataset.name}: {when}; {dataset.rows:,} rows from "
              f"{dataset.input}; seed {'from the date' if dataset.seed is None else dataset.seed}"
              f"; privacy gate {'enforced' if dataset.privacy_gate else 'reported'}; "
              f"catalog {catalog / dataset.name}", flush=True)
    if args.serve:
        from prefect import serve

        serve(*build_deployments(config, args.only), limit=args.limit)
    elif args.pool:
        deploy_to_pool(config, args.pool, args.only)
    return 0


def deploy_to_pool(config: Config, pool: str, only: list[str] | None = None) -> list[Any]:
    """`flow.deploy` to a process work pool, with this checkout as the flow's source."""
    source = _importable_refresh().from_source(source=str(ROOT),
                                               entrypoint="flows/deploy.py:refresh")
    ids = []
    for dataset in _chosen(config, only):
        ids.append(source.deploy(
            name=dataset.name,
            work_pool_name=pool,
            schedules=[Cron(dataset.cron, timezone=dataset.timezone)] if dataset.cron else None,
            parameters=parameters(dataset, config),
            description=dataset.description or _description(dataset),
            tags=["synthvae", f"dataset:{dataset.name}"],
            print_next_steps=False,
        ))
    return ids


def _api_url() -> str | None:
    from prefect.settings import get_current_settings

    return get_current_settings().api.url


if __name__ == "__main__":
    sys.exit(main())
