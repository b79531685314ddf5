"""`python -m flows.generate`: real table → schema check → fit → sample → schema check → score.

A Prefect 3 flow whose tasks are thin calls into `synthvae`. Tasks pass paths and small dicts;
the tables themselves go through files in a private work folder. Everything, that folder
included, is written inside `atomic_dir(output)`, so a failed or stopped run leaves no partial
output, no copies of real rows and an older output folder intact; a killed one leaves a
staging folder the next run to the same output removes.

Runs without a server: with no PREFECT_API_URL set, Prefect starts a temporary local API for
the life of the process (10-25 s). Bad input is caught before that, by the same library checks
the flow's tasks run again.
"""

from __future__ import annotations

# flows.common first: it sets Prefect's environment before Prefect is imported.
from flows.common import (
    COMPUTE_TASK,
    IO_TASK,
    ROOT,
    RUNS,
    RunStopped,
    fail,
    fraction,
    open_unit_interval,
    positive_float,
    positive_int,
    private_folder,
    quiet_expected_errors,
    stop_on_signals,
    stop_orphans,
    table_stem,
    tag_child_processes,
    unit_interval,
    versions,
)

import argparse
import hashlib
import inspect
import json
import logging
import shutil
import signal
import sys
import threading
from dataclasses import asdict
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.exceptions import TerminationSignal

import numpy as np

from flows.shards import SHARD_ROWS, dask_task_runner, sample_shards, shard_plan, shared_prefect_api
from synthvae import Synthesizer, fused
from synthvae.synthesizer import SAMPLE_CHUNK, ModelFileError
from synthvae.columns import ConditionError, TableEncoder
from synthvae.conditional import parse_where
from synthvae.evaluation.detection import detection
from synthvae.evaluation.fidelity import score, sdmetrics_metadata
from synthvae.catalog import check_name
from synthvae.catalog import publish as publish_version
from synthvae.evaluation.gate import PrivacyGate, attack_results
from synthvae.evaluation.privacy import check_privacy_options, privacy_report
from synthvae.report_html import write_report as write_html_report
from synthvae.io import (
    SUPPORTED_SUFFIXES,
    WRITE_FORMATS,
    InputError,
    atomic_dir,
    atomic_write_text,
    check_writable,
    read_table,
    read_table_head,
    write_table,
    write_table_stream,
)
from synthvae.schema import (SchemaViolation, check_declared, infer_schema, load_schema,
                             validate)
from synthvae.stream import sample_stream

DEFAULT_INPUT = ROOT / "data" / "adult.csv.gz"
DEFAULT_SCHEMA = ROOT / "schemas" / "adult.yaml"
DRAFT_SCHEMA_NAME = "schema.draft.yaml"
# The schema a model was fitted under, saved beside it: with --model and no --input, the
# synthetic rows are checked against it.
MODEL_SCHEMA_NAME = "schema.yaml"
WORK_FOLDER = ".work"  # in the staging folder; removed before it becomes the output
MIN_TRAIN_ROWS = 10
LOG_EVERY_SECONDS = 5.0  # training progress lines at most this often
SCORE_ROWS = 200_000  # synthetic rows read back for scoring; each score subsamples further
PRIVACY_ATTACKS = 5000  # attack targets per side
SCORES_ARTIFACT = "synthvae-scores"
REPORT_ARTIFACT = "synthvae-report"
SCORE_KEYS = ("quality", "column_shapes", "column_pair_trends", "detection", "rules",
              "columns", "pairs_worst", "pairs_counted", "pairs_total", "not_available", "subsampled")  # fmt: skip


# ---------------------------------------------------------------------------------- tasks


@task(**IO_TASK)
def load_input(source: Path) -> dict[str, Any]:
    """Read the table once to prove it loads; return its row count and the file's sha256."""
    table = read_table(source)
    digest = hashlib.sha256()
    with open(source, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return {"path": str(source), "sha256": digest.hexdigest(), "rows": len(table)}


@task(**IO_TASK)
def draft_schema(source: Path, destination: Path) -> Path:
    """Infer a schema from the table (observed ranges and categories) and save it as YAML."""
    infer_schema(read_table(source), name=table_stem(source)).save_yaml(destination)
    return destination


@task(**IO_TASK)
def validate_table(table: Path, schema: Path, what: str, rules: bool = True) -> int:
    """Check every row against the schema (Pandera, lazy); raise SchemaViolation listing all.
    `rules`: the schema's declared rules too."""
    rows = read_table(table)
    validate(rows, load_schema(schema), what=what, rules=rules)
    return len(rows)


@task(**IO_TASK)
def drop_violating_rows(source: Path, schema: Path, work_dir: Path) -> dict[str, Any]:
    """The input without the rows breaking a declared rule, in `work_dir` when any does."""
    table = read_table(source)
    keep, message = check_declared(table, load_schema(schema))
    if message is None:
        return {"path": source, "dropped": 0, "rules": None}
    path = work_dir / "input.parquet"
    write_table(table[keep].reset_index(drop=True), path, "parquet")
    return {"path": path, "dropped": int((~keep).sum()), "rules": message}


@task(**IO_TASK)
def split_holdout(
    source: Path, work_dir: Path, holdout_fraction: float, seed: int
) -> dict[str, Any]:
    """Hold back a seeded random `holdout_fraction` of the rows, which training never sees;
    the privacy scores compare synthetic rows with them."""
    table = read_table(source)
    holdout = table.sample(n=_holdout_rows(len(table), holdout_fraction), random_state=seed)
    train = table.drop(index=holdout.index)
    paths = {"train": work_dir / "train.parquet", "holdout": work_dir / "holdout.parquet"}
    write_table(train.reset_index(drop=True), paths["train"], "parquet")
    write_table(holdout.reset_index(drop=True), paths["holdout"], "parquet")
    return {**paths, "train_rows": len(train), "holdout_rows": len(holdout)}


@task(**COMPUTE_TASK)
def fit_model(
    train: Path,
    schema: Path,
    model_dir: Path,
    seed: int,
    epochs: int | None,
    max_seconds: float | None,
    dp_epsilon: float | None = None,
    dp_delta: float | None = None,
) -> dict[str, Any]:
    """Fit a Synthesizer with the schema's column kinds and save it to `model_dir`."""
    logger = get_run_logger()
    options = {"epochs": epochs} if epochs is not None else {}
    contract = load_schema(schema)
    synthesizer = Synthesizer(
        random_state=seed,
        max_seconds=max_seconds,
        column_kinds=contract.kinds(),
        declared_rules=contract.rules,
        dp_epsilon=dp_epsilon,
        dp_delta=dp_delta,
        **options,
    )

    last_logged = [-LOG_EVERY_SECONDS]

    def log_progress(stats) -> None:
        # Every few seconds, whatever an epoch costs: a slow table's epochs are minutes apart
        # in tens, a small table's ten epochs take a second.
        if stats.seconds - last_logged[0] >= LOG_EVERY_SECONDS:
            last_logged[0] = stats.seconds
            logger.info(
                "epoch %d of at most %d: train loss %.3f, validation loss %.3f, KL %.2f (%.0f s)",
                stats.epoch,
                synthesizer.train_config_.epochs,
                stats.train_loss,
                stats.val_loss,
                stats.kl,
                stats.seconds,
            )

    synthesizer.fit(read_table(train), on_epoch=log_progress)
    synthesizer.save(model_dir)
    shutil.copyfile(schema, model_dir / MODEL_SCHEMA_NAME)
    history = synthesizer.history_
    return {
        "epochs_run": len(history),
        "epochs_max": synthesizer.train_config_.epochs,
        "max_seconds": max_seconds,
        "seconds": round(synthesizer.fit_seconds_, 2),
        "best_val_loss": _finite(min(h.val_loss for h in history)),
        "dp": None if dp_epsilon is None else {
            "epsilon_target": dp_epsilon,
            "epsilon_spent": round(synthesizer.dp_epsilon_spent_, 4),
            "delta": synthesizer.dp_delta_,
            "accountant": "Opacus RDP",
            "covers": "the network weights and rows decoded from N(0, I); not the column "
                      "encoders' statistics (quantiles, category lists)",
        },
        "column_kinds": synthesizer.column_kinds_,
        # the largest class-share gap of sampled vs training rows, before and after the
        # heads' biases were calibrated (synthvae.calibration)
        "calibration": synthesizer.calibration_,
    }


@task(**IO_TASK)
def copy_model(source: Path, destination: Path) -> dict[str, Any]:
    """Use a saved synthesizer instead of training one; the output keeps a copy of it."""
    synthesizer = Synthesizer.load(source)  # proves it loads (data only, no code runs)
    shutil.copytree(source, destination)
    return {
        "model_from": str(source),
        "epochs_run": len(synthesizer.history_),
        "epochs_max": synthesizer.train_config_.epochs,
        "max_seconds": synthesizer.train_config_.max_seconds,
        "seconds": 0.0,
        "trained_seconds": round(synthesizer.fit_seconds_, 2),
        "best_val_loss": _finite(min(h.val_loss for h in synthesizer.history_)),
        "dp": None,
        "column_kinds": synthesizer.column_kinds_,
    }


@task(**COMPUTE_TASK)  # long for millions of rows; a retry would redo all the work
def sample_rows(
    model_dir: Path,
    rows: int,
    destination: Path,
    format: str,
    schema: Path,
    seed: int,
    where: list[str] | None = None,
) -> int:
    """Load the saved model (so what is shipped is what was sampled from) and stream `rows`
    rows to `destination` chunk by chunk, each chunk checked against the schema on the way:
    memory stays flat however many rows are asked for."""
    synthesizer = Synthesizer.load(model_dir)
    try:
        # chunks drawn on every core, each checked against the schema on the way
        chunks = sample_stream(synthesizer, rows, random_state=seed,
                               conditions=parse_where(where) if where else None,
                               schema=load_schema(schema), arrow=format == "parquet")
    except ConditionError as err:  # e.g. a value only the held-back rows had
        raise InputError(f"--where: {err}") from None
    _, written = write_table_stream(chunks, destination, format, expected_rows=rows)
    return written


@task(**COMPUTE_TASK)
def score_synthetic(
    train: Path,
    synthetic: Path,
    holdout: Path | None,
    schema: Path,
    seed: int,
    model_dir: Path,
    where: list[str] | None = None,
    sensitive: list[str] | None = None,
) -> dict[str, Any]:
    """SDMetrics quality against the training rows; DCR, exact copies and the privacy report
    (synthvae.evaluation.privacy: SDMetrics privacy metrics, attacks, membership inference) against the
    holdout. Conditioned rows are compared with the real rows that meet the same conditions."""
    real, unseen = read_table(train), read_table(holdout) if holdout is not None else None
    matching = None
    model = Synthesizer.load(model_dir)
    if where:
        encoder = model.encoder_
        conditions = parse_where(where)
        real = real[encoder.rows_matching(real, conditions)].reset_index(drop=True)
        if unseen is not None:
            unseen = unseen[encoder.rows_matching(unseen, conditions)].reset_index(drop=True)
        matching = {"train": len(real), "holdout": None if unseen is None else len(unseen)}
        if len(real) < 2:
            raise InputError(f"only {len(real)} training rows meet {where}: too few to score")
    table_schema = load_schema(schema)
    synthetic_rows = read_table_head(synthetic, SCORE_ROWS)  # i.i.d. rows: the head is a sample
    unseen = unseen if unseen is None or len(unseen) else None
    scores = score(real, synthetic_rows, unseen, kinds=table_schema.kinds(), seed=seed)
    metadata = sdmetrics_metadata(real, table_schema.kinds())
    scores["detection"] = detection(real, synthetic_rows, metadata, seed=seed)
    floor = detection(real, unseen, metadata, seed=seed) if unseen is not None else None
    scores["detection"]["holdout_auc"] = floor and floor["auc"]
    scores["rules"] = model.rules_.report(real, synthetic_rows, model.encoder_)
    privacy = None
    if unseen is not None:
        privacy = privacy_report(
            real,
            unseen,
            synthetic_rows,
            metadata,
            sensitive=sensitive or table_schema.sensitive or None,
            random_state=seed,
            n_attacks=min(len(unseen), PRIVACY_ATTACKS),
        )
    return {**scores, "rows_matching_conditions": matching, "privacy_report": privacy}


@task(**IO_TASK)
def write_report(report: dict[str, Any], destination: Path) -> Path:
    return atomic_write_text(destination, json.dumps(report, indent=2) + "\n")


@task(**IO_TASK)
def publish_run(output: Path, dataset: str, catalog: str | None) -> Path:
    """The finished output folder as the next immutable version of `dataset` in the catalog."""
    return publish_version(output, dataset, catalog)


@task(**COMPUTE_TASK)
def render_html(
    report: dict[str, Any], train: Path, synthetic: Path, schema: Path, destination: Path
) -> Path:
    """The self-contained report a reviewer reads: scores, plots, privacy, provenance."""
    return write_html_report(
        destination, report, read_table(train), read_table_head(synthetic, SCORE_ROWS),
        load_schema(schema).kinds()
    )


@task(**COMPUTE_TASK)
def publish_artifacts(report: dict[str, Any]) -> None:
    """A markdown summary and a table of scores, under stable keys so runs line up."""
    create_table_artifact(
        key=SCORES_ARTIFACT,
        table=_score_rows(report),
        description="synthvae: fidelity and privacy scores of the last run",
    )
    create_markdown_artifact(
        key=REPORT_ARTIFACT,
        markdown=_markdown(report),
        description="synthvae: summary of the last run",
    )


# ----------------------------------------------------------------------------------- flow


@flow(name="synthvae-generate")
def generate(
    rows: int = 100_000,
    input_path: str | None = None,
    schema_path: str | None = None,
    output_dir: str | None = None,
    format: str = "parquet",
    seed: int = 0,
    epochs: int | None = None,
    max_seconds: float | None = None,
    holdout_fraction: float = 0.2,
    where: list[str] | None = None,
    sensitive: list[str] | None = None,
    privacy_gate: bool = False,
    gate_dcr_overfitting: float = 0.9,
    gate_copy_excess: float = 0.0,
    gate_attack_risk: float = 0.1,
    gate_membership_auc: float = 0.6,
    gate_false_alarm: float = 0.002,
    dp_epsilon: float | None = None,
    dp_delta: float | None = None,
    model_dir: str | None = None,
    publish: str | None = None,
    catalog: str | None = None,
    workers: int | None = None,
    dask_address: str | None = None,
    shard_rows: int = SHARD_ROWS,
    drop_violating: bool = False,
) -> dict[str, Any]:
    """Fit a VAE synthesizer to a table and write `rows` synthetic rows, a report and the model.

    `input_path` None means the bundled Adult table, or with `model_dir` no table at all: the
    rows are then drawn from the saved model alone and checked against its schema.
    `schema_path` None means schemas/adult.yaml for the bundled table, the model's own
    schema.yaml for `model_dir` without an input, and otherwise a draft inferred from the
    input, written to `output_dir`/schema.draft.yaml. `output_dir` None means
    runs/<input stem>. `epochs` and `max_seconds` None mean the Synthesizer's defaults.
    Returns the report (also written to `output_dir`/report.json).
    """
    logger = get_run_logger()
    started = time.perf_counter()
    if model_alone(input_path, model_dir, schema_path):
        return sample_saved_model(Path(model_dir), rows, output_dir, schema_path, format, seed,
                                  where, workers, dask_address, shard_rows)
    source = Path(input_path or DEFAULT_INPUT)
    output = Path(output_dir) if output_dir else default_output(source)
    schema = Path(schema_path) if schema_path else default_schema(source)
    inferred = schema is None
    timings: dict[str, float] = {}
    logger.info("input %s; output folder %s", source, output)

    # The copies of real rows (train and holdout) live inside the staging folder, so whatever
    # removes it, this run's unwinding or the next run after a kill, removes them too.
    with atomic_dir(output) as staging, private_folder(staging / WORK_FOLDER) as work:
        with _timed(timings, "load"):
            loaded = load_input(source)
        if inferred:
            with _timed(timings, "draft_schema"):
                schema = draft_schema(source, staging / DRAFT_SCHEMA_NAME)
            logger.warning(
                "no schema given: inferred a draft from the input, to be written to "
                "%s; review it and pass it with --schema next time",
                output / DRAFT_SCHEMA_NAME,
            )
        with _timed(timings, "validate_input"):
            validate_table(source, schema, "input table", rules=not drop_violating)
        if model_dir:
            # A saved model: no training, so no rows are held back and privacy is not scored
            # (which rows it was trained on is not known here).
            with _timed(timings, "load_model"):
                fit = copy_model(Path(model_dir), staging / "model")
            split = {"train": source, "holdout": None, "train_rows": loaded["rows"],
                     "holdout_rows": 0}
        else:
            training_input = source
            if drop_violating:
                with _timed(timings, "drop_violating"):
                    dropped = drop_violating_rows(source, schema, work)
                if dropped["dropped"]:
                    training_input = dropped["path"]
                    logger.warning("--drop-violating: left out %d rows: %s",
                                   dropped["dropped"], dropped["rules"])
            with _timed(timings, "split_holdout"):
                split = split_holdout(training_input, work, holdout_fraction, seed)
            with _timed(timings, "fit"):
                fit = fit_model(split["train"], schema, staging / "model", seed, epochs,
                                max_seconds, dp_epsilon, dp_delta)
        synthetic_name = f"synthetic.{format}"
        sharding = None
        with _timed(timings, "sample"):
            if workers or dask_address:
                # The same rows, drawn as shards on Dask workers, written as a folder of parts
                sharding = sample_shards.with_options(
                    task_runner=dask_task_runner(workers, dask_address))(
                    staging / "model", rows, staging / synthetic_name, format, schema, seed,
                    where, shard_rows)
                logger.info("sampled %d shards on %d Dask workers", sharding["shards"],
                            sharding["workers"])
            else:
                sample_rows(staging / "model", rows, staging / synthetic_name, format, schema,
                            seed, where)
        with _timed(timings, "score"):
            scores = score_synthetic(
                split["train"],
                staging / synthetic_name,
                split["holdout"] if split["holdout_rows"] else None,
                schema,
                seed,
                staging / "model",
                where,
                sensitive,
            )
        gate = PrivacyGate(gate_dcr_overfitting, gate_copy_excess, gate_attack_risk,
                           gate_membership_auc, gate_false_alarm)
        privacy = scores["privacy_report"]
        failures = gate.check(privacy) if privacy is not None else [
            {"name": "privacy_report", "value": None, "threshold": None, "rule": "measured",
             "by": None}]
        gate_passed = not failures
        withheld = privacy_gate and not gate_passed
        timings["total"] = round(time.perf_counter() - started, 2)
        report = {
            "rows": rows,
            "seed": seed,
            "format": format,
            "output": str(output),
            "files": {"synthetic": synthetic_name, "report": "report.json",
                      "report_html": "report.html", "model": "model/"}
            if not withheld
            else {"report": "report.json", "report_html": "report.html"},
            "input": loaded,
            "rows_dropped": {"count": dropped["dropped"], "why": dropped["rules"]}
            if drop_violating and not model_dir else None,
            "schema": {
                "path": str(output / DRAFT_SCHEMA_NAME if inferred else schema),
                "inferred": inferred,
            },
            "conditions": where or [],
            "rows_matching_conditions": scores["rows_matching_conditions"],
            "holdout_fraction": holdout_fraction,
            "train_rows": split["train_rows"],
            "holdout_rows": split["holdout_rows"],
            "fit": fit,
            **{key: scores[key] for key in SCORE_KEYS},
            "privacy": scores.get("privacy"),
            "privacy_report": privacy,
            "privacy_gate": {
                "enforced": privacy_gate,
                "passed": gate_passed,
                "thresholds": asdict(gate),
                "failures": failures,
            },
            "rows_scored": scores["rows_scored"],
            "sharding": None if sharding is None else {
                **{k: sharding[k] for k in ("shards", "workers")}, "shard_rows": shard_rows,
                "shard_seconds": [part["seconds"] for part in sharding["parts"]],
                "dask": dask_address or f"local cluster of {workers} processes"},
            "timings": timings,
            "versions": versions(),
        }
        write_report(report, staging / "report.json")
        with _timed(timings, "report_html"):
            render_html(report, split["train"], staging / synthetic_name, schema,
                        staging / "report.html")
        if withheld:
            # Not published: the rows, and the model that made them, stay out of the output.
            (staging / synthetic_name).unlink()
            shutil.rmtree(staging / "model")
            logger.error("privacy gate failed: %s", _gate_words(failures))
    publish_artifacts(report)
    if publish and not withheld:
        report["published"] = str(publish_run(output, publish, catalog))
        logger.info("published %s as %s", output, report["published"])
    if withheld:
        raise PrivacyGateFailed(
            f"privacy gate failed, so the synthetic rows were not published "
            f"(report in {output}): {_gate_words(failures)}", report)
    logger.info("wrote %s: quality %s", output, _fmt(report["quality"]))
    return report


def model_alone(input_path: str | None, model_dir: str | None, schema_path: str | None) -> bool:
    """Whether a run draws from a saved model with no real table: --model without --input,
    and a schema to check the rows against (the model's own, or --schema). A model saved by
    Synthesizer.save alone carries none: it is checked against the bundled table, as before."""
    return bool(input_path is None and model_dir
                and (schema_path or (Path(model_dir) / MODEL_SCHEMA_NAME).is_file()))


def sample_saved_model(model: Path, rows: int, output_dir: str | None, schema_path: str | None,
                       format: str, seed: int, where: list[str] | None,
                       workers: int | None = None, dask_address: str | None = None,
                       shard_rows: int = SHARD_ROWS) -> dict[str, Any]:
    """`rows` rows from a saved model with no real table: checked against the model's own
    schema (or `schema_path`), not scored, since there are no real rows to compare with.
    With `workers` or `dask_address`, drawn in shards as in `generate`."""
    logger = get_run_logger()
    started = time.perf_counter()
    output = Path(output_dir) if output_dir else default_model_output(model)
    timings: dict[str, float] = {}
    synthetic_name = f"synthetic.{format}"
    with atomic_dir(output) as staging:
        with _timed(timings, "load_model"):
            fit = copy_model(model, staging / "model")
        schema = Path(schema_path) if schema_path else staging / "model" / MODEL_SCHEMA_NAME
        sharding = None
        with _timed(timings, "sample"):
            if workers or dask_address:
                sharding = sample_shards.with_options(
                    task_runner=dask_task_runner(workers, dask_address))(
                    staging / "model", rows, staging / synthetic_name, format, schema, seed,
                    where, shard_rows)
            else:
                sample_rows(staging / "model", rows, staging / synthetic_name, format, schema,
                            seed, where)
        timings["total"] = round(time.perf_counter() - started, 2)
        report = {
            "rows": rows, "seed": seed, "format": format, "output": str(output),
            "files": {"synthetic": synthetic_name, "report": "report.json", "model": "model/"},
            "input": None,
            "schema": {"path": str(schema_path or output / "model" / MODEL_SCHEMA_NAME),
                       "inferred": False},
            "conditions": where or [], "rows_matching_conditions": None,
            "holdout_fraction": None, "train_rows": 0, "holdout_rows": 0, "fit": fit,
            **{key: None for key in SCORE_KEYS},
            "privacy": None, "privacy_report": None, "privacy_gate": None, "rows_scored": 0,
            "sharding": None if sharding is None else {
                **{k: sharding[k] for k in ("shards", "workers")}, "shard_rows": shard_rows,
                "shard_seconds": [part["seconds"] for part in sharding["parts"]],
                "dask": dask_address or f"local cluster of {workers} processes"},
            "timings": timings, "versions": versions(),
        }
        write_report(report, staging / "report.json")
    logger.info("wrote %d rows from %s to %s (not scored: no real rows given)", rows, model,
                output)
    return report


class PrivacyGateFailed(InputError):
    """The run's privacy figures missed the gate: its rows were not published."""

    def __init__(self, message: str, report: dict[str, Any] | None = None):
        super().__init__(message)
        self.report = report

    def __reduce__(self):  # Prefect pickles task and flow errors
        return type(self), (str(self), self.report)


def _gate_words(failures: list[dict[str, Any]]) -> str:
    def details(f: dict[str, Any]) -> str:
        parts = [] if f.get("by") is None else [f"off by {_fmt(f['by'])}"]
        if f.get("p_value") is not None and f.get("p_needed") is not None:
            parts.append(f"p = {f['p_value']:.2g} < {f['p_needed']:.2g}")
        return f" ({', '.join(parts)})" if parts else ""

    return "; ".join(
        f"{f['name']} = {_fmt(f['value'])}, must be {f['rule']} {_fmt(f['threshold'])}"
        + details(f)
        for f in failures
    )


def default_output(input_path: Path) -> Path:
    return RUNS / table_stem(input_path)


def default_model_output(model: Path) -> Path:
    """runs/<name>-sample, named after the model folder (or its run's, for a run's model/)."""
    model = model.resolve()
    return RUNS / f"{model.parent.name if model.name == 'model' else model.name}-sample"


def default_schema(input_path: Path) -> Path | None:
    """The curated schema for the bundled table; None (draft one) for any other input."""
    same = input_path.resolve() == DEFAULT_INPUT.resolve()
    return DEFAULT_SCHEMA if same else None


# ------------------------------------------------------------------------------------ CLI

_LIBRARY_EPOCHS = inspect.signature(Synthesizer).parameters["epochs"].default
# Parameter -> option. The path parameters get short flags; the rest are spelled the same.
FLAGS = {"input_path": "--input", "schema_path": "--schema", "output_dir": "--output",
         "model_dir": "--model"}
HELP = {
    "rows": "number of synthetic rows to write",
    "input_path": f"table to learn from ({', '.join(SUPPORTED_SUFFIXES)})",
    "schema_path": "schema YAML the input and the synthetic rows must pass",
    "output_dir": "output folder, replaced only when the run succeeds",
    "format": "file format of the synthetic rows",
    "seed": "random seed: the same seed gives the same rows",
    "epochs": "maximum training epochs (training stops early when validation loss stalls)",
    "max_seconds": "training time budget in seconds",
    "holdout_fraction": "share of the real rows held back from training to score privacy",
    "where": (
        "a condition every synthetic row meets, repeatable, quoted for the shell: "
        "'COLUMN=VALUE' ('income=>50K'), 'COLUMN=A|B', COLUMN=LOW..HIGH (age=30..40, open "
        "end: age=65..), 'COLUMN=<null>'"
    ),
    "sensitive": (
        "a column whose values must not be inferable (attribute-inference attack and "
        "SDMetrics disclosure protection), repeatable"
    ),
    "privacy_gate": (
        "enforce the privacy gate: when a figure is past its threshold by more than noise, "
        "the rows and model are not published and the exit code is 3"
    ),
    "gate_dcr_overfitting": (
        "gate: minimum DCR overfitting protection (1: synthetic rows sit no nearer the "
        "training rows than unseen real rows do)"
    ),
    "gate_copy_excess": (
        "gate: maximum share of synthetic rows copying a training row, above the share of real "
        "rows that equal one"
    ),
    "gate_attack_risk": "gate: maximum risk of each attack (singling out, linkability, inference)",
    "gate_membership_auc": "gate: maximum membership-inference AUC (0.5 = chance)",
    "gate_false_alarm": (
        "gate: chance that rows leaking nothing fail it (a figure fails only when past its "
        "threshold with a p-value below this over the number of figures)"
    ),
    "dp_epsilon": (
        "train with DP-SGD (Opacus) to this epsilon; the epsilon spent goes in the report"
    ),
    "dp_delta": "DP delta",
    "publish": (
        "after a successful run (and a passed gate, when enforced), publish the output as the "
        "next version of this catalog dataset"
    ),
    "catalog": "catalog root",
    "model_dir": (
        "a saved synthesizer folder (a run's model/): sample from it instead of training; "
        "privacy is then not scored"
    ),
    "workers": (
        "sample in shards on a local Dask cluster of this many worker processes; the rows "
        "are the same for any number, written as a folder of parts"
    ),
    "dask_address": (
        "sample in shards on an existing Dask cluster (tcp://HOST:8786); needs "
        "PREFECT_API_URL, and an output folder and model every worker can reach"
    ),
    "drop_violating": (
        "train without the input rows that break a rule the schema declares (how many is "
        "logged and reported) instead of refusing the input (exit 2)"
    ),
    "shard_rows": f"rows per shard with --workers or --dask-address (a multiple of {SAMPLE_CHUNK:,})",
}
SHOWN_DEFAULTS = {
    "schema_path": (
        "schemas/adult.yaml for the bundled table; for another --input, a draft "
        f"inferred from it, written to OUTPUT/{DRAFT_SCHEMA_NAME}"
    ),
    "input_path": (
        "data/adult.csv.gz, the bundled table; with --model, none: the rows are drawn from "
        "the model alone, checked against its schema and not scored"
    ),
    "output_dir": "runs/<input name without suffix> (with --model alone: runs/<model>-sample)",
    "epochs": f"the Synthesizer's, {_LIBRARY_EPOCHS or 'set from the table size'}",
    "max_seconds": "no limit",
    "where": "none",
    "sensitive": "the schema's `sensitive` list, else the last column",
    "privacy_gate": "off: figures are reported, not enforced",
    "drop_violating": "off: an input breaking a declared rule is refused",
    "dp_epsilon": "no DP",
    "dp_delta": "1 / n^1.1 for n training rows",
    "model_dir": "train a new one",
    "publish": "not published",
    "catalog": "$SYNTHVAE_CATALOG, else data/catalog/",
    "workers": "no sharding: one process, one file",
    "dask_address": "none",
}


TYPES = {
    "rows": positive_int,
    "seed": int,
    "epochs": positive_int,
    "max_seconds": positive_float,
    "holdout_fraction": fraction,
    "gate_dcr_overfitting": unit_interval,
    "gate_copy_excess": unit_interval,
    "gate_attack_risk": unit_interval,
    "gate_membership_auc": unit_interval,
    "gate_false_alarm": unit_interval,
    "dp_epsilon": positive_float,
    "dp_delta": open_unit_interval,
    "workers": positive_int,
    "shard_rows": positive_int,
}


SWITCHES = ("privacy_gate", "drop_violating")
EXTRA = {"where": {"action": "append"}, "sensitive": {"action": "append"}}


def build_parser() -> argparse.ArgumentParser:
    """The flow's signature as a command line: one option per parameter, same defaults."""
    parser = argparse.ArgumentParser(
        prog="python -m flows.generate",
        description=(
            "Fit a VAE synthesizer to a table and write synthetic rows, a report "
            "(report.json) and the model to an output folder."
        ),
    )
    for name, parameter in inspect.signature(generate.fn).parameters.items():
        flag = FLAGS.get(name, f"--{name.replace('_', '-')}")
        kind = TYPES.get(name, str)
        shown = SHOWN_DEFAULTS.get(name, _relative(parameter.default))
        if name in SWITCHES:
            parser.add_argument(flag, dest=name, action="store_true",
                                help=f"{HELP[name]} (default: {shown})")
            continue
        parser.add_argument(
            flag,
            dest=name,
            default=parameter.default,
            type=kind,
            choices=WRITE_FORMATS if name == "format" else None,
            metavar=None if name == "format" else flag[2:].upper().replace("-", "_"),
            help=f"{HELP[name]} (default: {shown})",
            **EXTRA.get(name, {}),
        )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Exit codes: 0 done, 1 a table failed its schema (or the run failed), 2 bad input,
    3 the privacy gate failed, 128 + N stopped by signal N (143 SIGTERM, 130 SIGINT: the
    output folder as it was, the staging folder, the copies of real rows and Prefect's
    temporary server all gone)."""
    started = time.perf_counter()
    params = vars(build_parser().parse_args(argv))
    with stop_on_signals():
        try:
            return _run(params, started)
        except (RunStopped, TerminationSignal) as stop:
            signum = stop.signum if isinstance(stop, RunStopped) else stop.signal
            print(f"stopped by {signal.Signals(signum).name}: no output written, temporary "
                  f"files removed", file=sys.stderr)
            return 128 + signum


def _run(params: dict[str, Any], started: float) -> int:
    try:
        draft = _check_input(params)
    except InputError as err:  # SchemaViolation included
        return fail(err)
    stop_orphans()  # Prefect servers and Dask workers of runs killed outright
    tag_child_processes()
    quiet_expected_errors()
    logging.getLogger("synthvae").setLevel(logging.INFO)
    # numba compiles the sampling kernel once per install (about 13 s), meanwhile Prefect
    # starts its server; afterwards this only loads it from the cache
    compiling = threading.Thread(target=fused.compile_ahead, name="synthvae-compile")
    compiling.start()
    try:
        if params["workers"] or params["dask_address"]:
            with shared_prefect_api(params["dask_address"]):
                report = generate(**params)
        else:
            report = generate(**params)
    except PrivacyGateFailed as err:
        print(f"error: {err}", file=sys.stderr)
        return 3
    except InputError as err:
        return fail(err)
    finally:
        # an exit while LLVM is still compiling aborts the process (SIGABRT, not our code)
        compiling.join()
    print(summary(report, time.perf_counter() - started, draft))
    return 0


def summary(report: dict[str, Any], wall_seconds: float, draft: bool = False) -> str:
    output = Path(report["output"])
    privacy = report["privacy"] or {}
    synthetic = output / report["files"]["synthetic"]
    schema = report["schema"]["path"]
    lines = [f"Wrote {report['rows']:,} synthetic rows to {synthetic} (they pass {schema})"]
    if report["input"] is None:
        lines.append(f"  drawn from the saved model {report['fit']['model_from']}; not scored: "
                     f"no real rows given (--input); model in {output / 'model'}")
        return "\n".join(lines + [f"  report {output / 'report.json'}; wall time "
                                   f"{wall_seconds:.1f} s"])
    dropped = report.get("rows_dropped") or {}
    if dropped.get("count"):
        lines.append(f"  trained without {dropped['count']:,} input rows (--drop-violating): "
                     f"{dropped['why']}")
    if report.get("sharding"):
        shards = report["sharding"]
        lines.append(f"  sharded: {shards['shards']} parts (part-*.{report['format']}) from "
                     f"{shards['workers']} Dask workers on {shards['dask']}")
    lines.append(
        f"  quality {_fmt(report['quality'])}: column shapes {_fmt(report['column_shapes'])}, "
        f"column pair trends {_fmt(report['column_pair_trends'])}"
    )
    lines += [f"    {line}" for line in _scope_notes(report)]
    lines.append(_detection_line(report.get("detection") or {}))
    if report.get("rules"):
        lines.append(_rules_line(report["rules"]))
    if privacy:
        lines.append(
            f"  privacy: DCR ratio {_fmt(privacy['dcr_ratio'])} (synthetic vs unseen real rows; "
            f">= 1 is no closer than real), exact copies of training rows "
            f"{_fmt(privacy['synthetic_copies'])} (holdout: {_fmt(privacy['holdout_copies'])})"
        )
        lines += [f"    n/a: {why}" for why in (privacy.get("not_available") or {}).values()]
    else:
        lines.append("  privacy: not scored (no real rows were held back from training)")
    attacks = report.get("privacy_report") or {}
    if attacks:
        mia = attacks.get("membership_inference") or {}
        risks = [r for _, r in attack_results(attacks.get("attacks") or {})]
        worst = max((r["risk"] for r in risks if r.get("risk") is not None), default=None)
        lines.append(
            f"  attacks: membership-inference AUC {_fmt(mia.get('auc'))} (0.5 = chance), highest "
            f"attack risk {_fmt(worst)}; privacy gate "
            f"{_gate_line(report['privacy_gate'])}"
        )
        if mia.get("skipped"):
            lines.append(f"    n/a: {mia['skipped']}")
    fit = report["fit"]
    lines.append(
        f"  fit: {fit['epochs_run']} epochs in {fit['seconds']:.1f} s on "
        f"{report['train_rows']:,} rows; model in {output / 'model'}"
    )
    lines.append(
        f"  report {output / 'report.html'} (and report.json); wall time {wall_seconds:.1f} s"
    )
    if report.get("published"):
        lines.append(f"  published to the catalog: {report['published']}")
    if draft:
        lines.append(
            f"  schema: none given, so a draft was inferred from the input: "
            f"{output / DRAFT_SCHEMA_NAME} (review it, then pass it with --schema)"
        )
    return "\n".join(lines)


def _detection_line(found: dict[str, Any]) -> str:
    if found.get("auc") is None:
        return f"  detection AUC n/a: {found.get('not_available', 'not scored')}"
    floor = found.get("holdout_auc")
    line = (f"  detection AUC {_fmt(found['auc'])} (0.5: a classifier cannot tell synthetic "
            f"from real rows" + (f"; a real holdout scores {_fmt(floor)}" if floor else "") + ")")
    if found.get("giveaways"):
        line += "; most telling: " + ", ".join(
            f"{g['column']} (-{g['auc_drop']:.3f})" for g in found["giveaways"][:3])
    return line


def _rules_line(rules: list[dict[str, Any]]) -> str:
    broken = [r for r in rules if r["synthetic_violation_rate"] > 0]
    return (f"  rules every training row keeps: {len(rules)}, "
            + (f"broken in synthetic rows: " + "; ".join(
                f"{r['rule']} ({r['synthetic_violation_rate']:.2%})" for r in broken[:3])
               if broken else "kept in every synthetic row")
            + " (report.json: rules)")


def _check_input(params: dict[str, Any]) -> bool:
    """The cheap checks, before Prefect starts, so bad input fails in seconds. Resolves the
    default paths into `params`; returns whether the schema will be a drafted one."""
    if model_alone(params["input_path"], params["model_dir"], params["schema_path"]):
        _check_model_only(params)
        return False
    bundled = params["input_path"] is None
    params["input_path"] = params["input_path"] or str(DEFAULT_INPUT)
    source = Path(params["input_path"])
    output = Path(params["output_dir"]) if params["output_dir"] else default_output(source)
    params["output_dir"] = str(output)
    if output.exists() and not output.is_dir():
        raise InputError(f"output path exists and is not a folder: {output}")
    check_writable(output)
    table = read_table(source)
    schema = Path(params["schema_path"]) if params["schema_path"] else default_schema(source)
    if schema is None:
        infer_schema(table, name=table_stem(source))  # raises on a column it cannot type
    else:
        params["schema_path"] = str(schema)
        contract = load_schema(schema)
        try:
            validate(table, contract, what=f"input table {source}", rules=False)
        except SchemaViolation as err:
            if any(problem["count"] for problem in err.problems):
                raise
            # The table and schema disagree on which columns exist: a one-line input error.
            first, *rest = str(err).splitlines()
            raise InputError(f"{first} {'; '.join(line.strip(' -') for line in rest)}") from None
        keep, message = check_declared(table, contract, f"input table {source}")
        if message and not params["drop_violating"]:
            raise InputError(f"{message}; fix those rows, remove the rule from {schema}, or "
                             f"pass --drop-violating to train without them")
        table = table[keep]
    try:
        check_privacy_options(
            table.columns,
            params["sensitive"],
            PrivacyGate(params["gate_dcr_overfitting"], params["gate_copy_excess"],
                        params["gate_attack_risk"], params["gate_membership_auc"],
                        params["gate_false_alarm"]),
        )
    except ValueError as err:
        raise InputError(str(err)) from None
    if params["publish"]:
        try:
            check_name(params["publish"], "dataset")
        except ValueError as err:
            raise InputError(f"--publish: {err}") from None
        if params["format"] != "parquet":
            raise InputError("--publish needs --format parquet: the catalog serves Parquet")
    if params["model_dir"]:
        try:
            model = Synthesizer.load(params["model_dir"])
            model.encoder_.check_columns(table, f"input table {source}")
        except (FileNotFoundError, ValueError) as err:
            hint = (f" (no --input, and the model carries no {MODEL_SCHEMA_NAME} to check its "
                    f"rows against: pass --schema, or --input with the table it learned)"
                    if bundled and not isinstance(err, (FileNotFoundError, ModelFileError))
                    else "")
            raise InputError(f"--model: {err}{hint}") from None
        if params["privacy_gate"] or params["dp_epsilon"] is not None:
            raise InputError("--model skips training: --privacy-gate and --dp-epsilon need a "
                             "run that trains (and holds rows back)")
    if params["workers"] and params["dask_address"]:
        raise InputError("--workers starts a local Dask cluster and --dask-address uses an "
                         "existing one: give one of them")
    if params["workers"] or params["dask_address"]:
        shard_plan(params["rows"], params["shard_rows"])  # a shard size off the chunk grid
        if params["publish"]:
            raise InputError("--publish needs the rows as one file; sharded sampling "
                             "(--workers, --dask-address) writes a folder of parts")
    if params["dask_address"] and "://" not in params["dask_address"]:
        raise InputError(f"--dask-address must look like tcp://HOST:PORT, got "
                         f"{params['dask_address']!r}")
    if params["privacy_gate"] and params["holdout_fraction"] == 0:
        raise InputError("--privacy-gate needs held-back rows to measure privacy against; "
                         "--holdout-fraction 0 holds none back")
    if params["where"]:
        try:
            conditions = parse_where(params["where"])
            kinds = load_schema(schema).kinds() if schema is not None else None
            encoder = TableEncoder(kinds).fit(table, np.random.default_rng(0))
            encoder.constrain(conditions)  # unknown columns, unseen values, empty ranges
        except ConditionError as err:
            raise InputError(f"--where: {err}") from None
    train_rows = len(table) - _holdout_rows(len(table), params["holdout_fraction"])
    if train_rows < MIN_TRAIN_ROWS:
        raise InputError(
            f"input table {source} leaves {train_rows} rows to train on after "
            f"the holdout; need at least {MIN_TRAIN_ROWS}"
        )
    return schema is None


def _check_model_only(params: dict[str, Any]) -> None:
    """--model with no --input: the model must load and match its schema's columns."""
    model_dir = Path(params["model_dir"])
    output = Path(params["output_dir"]) if params["output_dir"] else default_model_output(model_dir)
    params["output_dir"] = str(output)
    if output.exists() and not output.is_dir():
        raise InputError(f"output path exists and is not a folder: {output}")
    check_writable(output)
    try:
        model = Synthesizer.load(model_dir)
    except (FileNotFoundError, ValueError) as err:
        raise InputError(f"--model: {err}") from None
    schema = Path(params["schema_path"]) if params["schema_path"] else model_dir / MODEL_SCHEMA_NAME
    columns, fitted = set(load_schema(schema).columns), set(model.encoder_.columns_)
    if columns != fitted:
        raise InputError(f"--model {model_dir} and {schema} name other columns: only the "
                         f"model has {sorted(fitted - columns)}, only the schema "
                         f"{sorted(columns - fitted)}")
    refused = [flag for flag, on in (
        ("--privacy-gate", params["privacy_gate"]), ("--dp-epsilon", params["dp_epsilon"]),
        ("--publish", params["publish"]), ("--sensitive", params["sensitive"])) if on]
    if refused:
        raise InputError(f"--model without --input draws rows from the model alone and does "
                         f"not score them: {', '.join(refused)} need(s) --input")
    if params["workers"] and params["dask_address"]:
        raise InputError("--workers starts a local Dask cluster and --dask-address uses an "
                         "existing one: give one of them")
    if params["workers"] or params["dask_address"]:
        shard_plan(params["rows"], params["shard_rows"])  # a shard size off the chunk grid
    if params["dask_address"] and "://" not in params["dask_address"]:
        raise InputError(f"--dask-address must look like tcp://HOST:PORT, got "
                         f"{params['dask_address']!r}")
    if params["where"]:
        try:
            model.encoder_.constrain(parse_where(params["where"]))
        except ConditionError as err:
            raise InputError(f"--where: {err}") from None


# -------------------------------------------------------------------------------- helpers


@contextmanager
def _timed(timings: dict[str, float], step: str) -> Iterator[None]:
    started = time.perf_counter()
    yield
    timings[step] = round(time.perf_counter() - started, 2)


def _holdout_rows(n_rows: int, fraction: float) -> int:
    return round(n_rows * fraction)


def _score_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    rows = [
        {"score": key.replace("_", " "), "value": report[key]}
        for key in ("quality", "column_shapes", "column_pair_trends")
    ]
    found = report.get("detection") or {}
    rows += [{"score": "detection auc", "value": found.get("auc")},
             {"score": "detection auc of a real holdout", "value": found.get("holdout_auc")}]
    for key, value in (report["privacy"] or {}).items():
        if not isinstance(value, dict):  # not_available holds reasons, not a score
            rows.append({"score": key.replace("_", " "), "value": value})
    return rows


def _scope_notes(report: dict[str, Any]) -> list[str]:
    """Lines saying why a quality figure is n/a and what was subsampled, for people."""
    reasons: dict[str, list[str]] = {}  # one line per reason, naming every figure it explains
    for figure, why in (report.get("not_available") or {}).items():
        reasons.setdefault(why, []).append(figure.replace("_", " "))
    notes = [f"n/a: {', '.join(figures)}: {why}" for why, figures in reasons.items()]
    pairs = (report.get("subsampled") or {}).get("column_pairs")
    if pairs:
        notes.append(
            f"pair trends over {pairs['pairs_scored']:,} of {pairs['pairs_of']:,} pairs (those "
            f"among {pairs['columns_used']} of {pairs['columns_of']} columns, drawn at random)"
        )
    return notes


def _markdown(report: dict[str, Any]) -> str:
    table = "\n".join(f"| {row['score']} | {_fmt(row['value'])} |" for row in _score_rows(report))
    fit = report["fit"]
    return (
        f"# synthvae: {report['rows']:,} synthetic rows\n\n"
        f"- output: `{report['output']}` ({', '.join(report['files'].values())})\n"
        f"- input: `{report['input']['path']}` ({report['input']['rows']:,} rows, "
        f"sha256 `{report['input']['sha256'][:12]}…`); schema `{report['schema']['path']}`"
        f"{' (inferred draft)' if report['schema']['inferred'] else ''}\n"
        f"- trained on {report['train_rows']:,} rows, {report['holdout_rows']:,} held back; "
        f"{fit['epochs_run']} epochs in {fit['seconds']:.1f} s; seed {report['seed']}\n\n"
        f"- privacy gate: {_gate_line(report['privacy_gate'])}\n\n"
        f"| score | value |\n|---|---|\n{table}\n"
        + "".join(f"\n- {note}" for note in _scope_notes(report))
    )


def _finite(value: float) -> float | None:
    """No NaN in report.json (DP training has no validation loss): JSON has no NaN."""
    return None if value != value else round(value, 4)


def _gate_line(gate: dict[str, Any]) -> str:
    verdict = "passed" if gate["passed"] else f"failed: {_gate_words(gate['failures'])}"
    return verdict + ("" if gate["enforced"] else " (not enforced: --privacy-gate is off)")


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return "n/a" if value is None else str(value)


def _relative(value: Any) -> Any:
    if isinstance(value, str) and Path(value).is_absolute():
        try:
            return str(Path(value).relative_to(ROOT))
        except ValueError:
            return value
    return value


if __name__ == "__main__":
    sys.exit(main())
