"""A generate run's inputs, read once and checked before any work starts.

`prepare` resolves the default paths, reads the input table, loads (or drafts) its schema and
loads a given model, raising InputError on anything the run would fail on later: so bad input
fails in seconds, before Prefect starts its server, and the run itself reads nothing twice.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from synthvae.catalog import check_name
from synthvae.columns import ConditionError, TableEncoder
from synthvae.conditional import parse_where
from synthvae.evaluation.gate import PrivacyGate
from synthvae.evaluation.privacy import check_privacy_options
from synthvae.io import InputError, check_writable, file_sha256, read_table, table_stem
from synthvae.schema import (SchemaViolation, TableSchema, check_declared, infer_schema,
                             load_schema, validate)
from synthvae.synthesizer import ModelFileError, Synthesizer

from .options import DEFAULT_INPUT, DEFAULT_SCHEMA, MODEL_SCHEMA_NAME, RunOptions
from .steps import shard_plan

MIN_TRAIN_ROWS = 10
RUNS_FOLDER = "runs"  # under the current folder: outputs go where the user is


class Prepared:
    """What `prepare` read and resolved. Passed to the flow by reference: Prefect stores the
    flow's JSON-able parameters, and this (slotted, so its encoder gives up at once rather
    than walk a table) is stored as a placeholder."""

    __slots__ = ("options", "source", "output", "schema_path", "schema", "inferred", "table",
                 "sha256", "keep", "violations", "model", "seconds")

    def __init__(self, options: RunOptions, output: Path, schema_path: Path | None,
                 schema: TableSchema, inferred: bool = False, source: Path | None = None,
                 table: pd.DataFrame | None = None, sha256: str | None = None,
                 keep: np.ndarray | None = None, violations: str | None = None,
                 model: Synthesizer | None = None):
        self.options, self.source, self.output = options, source, output
        self.schema_path, self.schema, self.inferred = schema_path, schema, inferred
        self.table, self.sha256, self.keep, self.violations = table, sha256, keep, violations
        self.model = model
        self.seconds = 0.0  # how long reading and checking took

    @property
    def model_alone(self) -> bool:
        """Rows drawn from a saved model with no real table: nothing to score them against."""
        return self.table is None


def model_alone(options: RunOptions) -> bool:
    """--model without --input, and a schema to check the rows against (the model's own, or
    --schema). A model saved by Synthesizer.save alone carries none: it is checked against the
    bundled table instead."""
    return bool(options.input_path is None and options.model_dir
                and (options.schema_path
                     or (Path(options.model_dir) / MODEL_SCHEMA_NAME).is_file()))


def default_output(source: Path) -> Path:
    return Path.cwd() / RUNS_FOLDER / table_stem(source)


def default_model_output(model: Path) -> Path:
    """runs/<name>-sample, named after the model folder (or its run's, for a run's model/)."""
    model = model.resolve()
    return Path.cwd() / RUNS_FOLDER / (
        f"{model.parent.name if model.name == 'model' else model.name}-sample")


def holdout_rows(n_rows: int, fraction: float) -> int:
    return round(n_rows * fraction)


def prepare(options: RunOptions) -> Prepared:
    """Every input of the run, read and checked; raises InputError (a SchemaViolation for rows
    breaking the schema) naming what is wrong."""
    started = time.perf_counter()
    prepared = _prepare(options)
    prepared.seconds = round(time.perf_counter() - started, 2)
    return prepared


def _prepare(options: RunOptions) -> Prepared:
    _check_options(options)
    if model_alone(options):
        return _prepare_model_alone(options)
    bundled = options.input_path is None
    source = Path(options.input_path) if options.input_path else DEFAULT_INPUT
    output = Path(options.output_dir) if options.output_dir else default_output(source)
    _check_output(output)
    table = read_table(source)
    schema_path = (Path(options.schema_path) if options.schema_path
                   else DEFAULT_SCHEMA if source.resolve() == DEFAULT_INPUT.resolve() else None)
    keep, violations = None, None
    if schema_path is None:
        schema = infer_schema(table, name=table_stem(source))  # raises on an untypable column
    else:
        schema = load_schema(schema_path)
        _check_table(table, schema, f"input table {source}")
        keep, violations = check_declared(table, schema, f"input table {source}")
        if violations and not options.drop_violating:
            raise InputError(f"{violations}; fix those rows, remove the rule from "
                             f"{schema_path}, or pass --drop-violating to train without them")
    kept = table if keep is None else table[keep]
    try:
        check_privacy_options(kept.columns, options.sensitive or None,
                              PrivacyGate(**options.gate_thresholds()))
    except ValueError as err:
        raise InputError(str(err)) from None
    model = _load_model(options, kept, source, bundled) if options.model_dir else None
    if options.where and model is None:
        _check_conditions(options.where, TableEncoder(schema.kinds()).fit(
            kept, np.random.default_rng(0)))
    train_rows = len(kept) - holdout_rows(len(kept), options.holdout_fraction)
    if train_rows < MIN_TRAIN_ROWS:
        raise InputError(f"input table {source} leaves {train_rows} rows to train on after "
                         f"the holdout; need at least {MIN_TRAIN_ROWS}")
    return Prepared(replace(options, input_path=str(source), output_dir=str(output),
                            schema_path=None if schema_path is None else str(schema_path)),
                    output, schema_path, schema, inferred=schema_path is None, source=source,
                    table=table, sha256=file_sha256(source), keep=keep, violations=violations,
                    model=model)


def _prepare_model_alone(options: RunOptions) -> Prepared:
    model_dir = Path(options.model_dir)
    output = Path(options.output_dir) if options.output_dir else default_model_output(model_dir)
    _check_output(output)
    try:
        model = Synthesizer.load(model_dir)
    except (FileNotFoundError, ValueError) as err:
        raise InputError(f"--model: {err}") from None
    schema_path = Path(options.schema_path) if options.schema_path else (
        model_dir / MODEL_SCHEMA_NAME)
    schema = load_schema(schema_path)
    columns, fitted = set(schema.columns), set(model.encoder_.columns_)
    if columns != fitted:
        raise InputError(f"--model {model_dir} and {schema_path} name other columns: only "
                         f"the model has {sorted(fitted - columns)}, only the schema "
                         f"{sorted(columns - fitted)}")
    refused = [flag for flag, on in (
        ("--privacy-gate", options.privacy_gate), ("--dp-epsilon", options.dp_epsilon),
        ("--publish", options.publish), ("--sensitive", options.sensitive)) if on]
    if refused:
        raise InputError(f"--model without --input draws rows from the model alone and does "
                         f"not score them: {', '.join(refused)} need(s) --input")
    if options.where:
        _check_conditions(options.where, model.encoder_)
    return Prepared(replace(options, output_dir=str(output)), output, schema_path, schema,
                    model=model)


def _check_options(options: RunOptions) -> None:
    """The checks that need no file: flags that contradict each other."""
    if options.publish:
        try:
            check_name(options.publish, "dataset")
        except ValueError as err:
            raise InputError(f"--publish: {err}") from None
        if options.format != "parquet":
            raise InputError("--publish needs --format parquet: the catalog serves Parquet")
    if options.workers and options.dask_address:
        raise InputError("--workers starts a local Dask cluster and --dask-address uses an "
                         "existing one: give one of them")
    if options.workers or options.dask_address:
        shard_plan(options.rows, options.shard_rows)  # a shard size off the chunk grid
        if options.publish:
            raise InputError("--publish needs the rows as one file; sharded sampling "
                             "(--workers, --dask-address) writes a folder of parts")
    if options.dask_address and "://" not in options.dask_address:
        raise InputError(f"--dask-address must look like tcp://HOST:PORT, got "
                         f"{options.dask_address!r}")
    if options.privacy_gate and options.holdout_fraction == 0:
        raise InputError("--privacy-gate needs held-back rows to measure privacy against; "
                         "--holdout-fraction 0 holds none back")


def _check_output(output: Path) -> None:
    if output.exists() and not output.is_dir():
        raise InputError(f"output path exists and is not a folder: {output}")
    check_writable(output)


def _check_table(table: pd.DataFrame, schema: TableSchema, what: str) -> None:
    try:
        validate(table, schema, what=what, rules=False)
    except SchemaViolation as err:
        if any(problem["count"] for problem in err.problems):
            raise
        # The table and schema disagree on which columns exist: a one-line input error.
        first, *rest = str(err).splitlines()
        raise InputError(f"{first} {'; '.join(line.strip(' -') for line in rest)}") from None


def _load_model(options: RunOptions, table: pd.DataFrame, source: Path,
                bundled: bool) -> Synthesizer:
    # with a table, given or the bundled one: nothing is trained, so nothing is held back
    if options.privacy_gate or options.dp_epsilon is not None:
        raise InputError("--model skips training: --privacy-gate and --dp-epsilon need a "
                         "run that trains (and holds rows back)")
    try:
        model = Synthesizer.load(options.model_dir)
        model.encoder_.check_columns(table, f"input table {source}")
    except (FileNotFoundError, ValueError) as err:
        hint = (f" (no --input, and the model carries no {MODEL_SCHEMA_NAME} to check its "
                f"rows against: pass --schema, or --input with the table it learned)"
                if bundled and not isinstance(err, (FileNotFoundError, ModelFileError)) else "")
        raise InputError(f"--model: {err}{hint}") from None
    if options.where:
        _check_conditions(options.where, model.encoder_)
    return model


def _check_conditions(where: list[str], encoder: TableEncoder) -> None:
    try:
        encoder.constrain(parse_where(where))  # unknown columns, unseen values, empty ranges
    except ConditionError as err:
        raise InputError(f"--where: {err}") from None

