"""The plain steps of a generate run: split, fit, sample, score, judge, assemble the report.

Each takes and returns in-memory objects (tables, the fitted Synthesizer, dicts of figures),
so a run reads its input once and its model never; the Prefect flow (flows/generate.py) wraps
each step in a task and adds retries, logging and artifacts. Usable without Prefect.
"""

from __future__ import annotations

import platform
from dataclasses import asdict, replace
import shutil
from collections.abc import Callable, Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from synthvae.columns import ConditionError
from synthvae.conditional import parse_where
from synthvae.evaluation.detection import detection
from synthvae.evaluation.fidelity import score, sdmetrics_metadata
from synthvae.evaluation.gate import PrivacyGate
from synthvae.evaluation.privacy import privacy_report
from synthvae.io import InputError, write_table_stream
from synthvae.report.run_report import RunReport
from synthvae.schema import TableSchema
from synthvae.stream import sample_stream
from synthvae.synthesizer import SAMPLE_CHUNK, Synthesizer
from synthvae.train import EpochStats

from .options import MODEL_SCHEMA_NAME, RunOptions

SCORE_ROWS = 200_000  # synthetic rows read back for scoring; each score subsamples further
PRIVACY_ATTACKS = 5000  # attack targets per side
VERSIONED_PACKAGES = ("synthvae", "torch", "numpy", "pandas", "pandera", "sdmetrics", "prefect")
SCORE_KEYS = ("quality", "column_shapes", "column_pair_trends", "detection", "rules",
              "columns", "pairs_worst", "pairs_counted", "pairs_total", "not_available",
              "subsampled")


def split_holdout(table: pd.DataFrame, rows: int, seed: int
                  ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Hold back a seeded random `rows` rows, which training never sees; the privacy scores
    compare synthetic rows with them."""
    holdout = table.sample(n=rows, random_state=seed)
    train = table.drop(index=holdout.index)
    return train.reset_index(drop=True), holdout.reset_index(drop=True)


def fit(train: pd.DataFrame, schema: TableSchema, options: RunOptions, model_dir: Path,
        schema_path: Path | None, on_epoch: Callable[[EpochStats, int], None] | None = None,
        progress: bool | None = None) -> tuple[Synthesizer, dict[str, Any]]:
    """Fit a Synthesizer with the schema's column kinds and save it, with the schema it was
    fitted under, to `model_dir`. `on_epoch(stats, most epochs)` after each epoch;
    `progress` as Synthesizer's (None: a bar when stderr is a terminal)."""
    synthesizer = Synthesizer(
        random_state=options.seed, max_seconds=options.max_seconds,
        column_kinds=schema.kinds(), declared_rules=schema.rules,
        keep_rules=schema.discovered_rules,
        dp_epsilon=options.dp_epsilon, dp_delta=options.dp_delta, progress=progress,
        **{name: value for name in ("epochs", "protect_below", "validation_groups")
           if (value := getattr(options, name)) is not None},
    )
    # the most epochs is set from the table at fit time, before the first epoch ends
    synthesizer.fit(train, on_epoch=on_epoch and (
        lambda stats: on_epoch(stats, synthesizer.train_config_.epochs)))
    synthesizer.save(model_dir)
    _save_schema(with_discovered(schema, synthesizer), schema_path, model_dir)
    history = synthesizer.history_
    return synthesizer, {
        "epochs_run": len(history),
        "epochs_max": synthesizer.train_config_.epochs,
        "max_seconds": options.max_seconds,
        "seconds": round(synthesizer.fit_seconds_, 2),
        "best_val_loss": _finite(min(h.val_loss for h in history)),
        "dp": None if options.dp_epsilon is None else {
            "epsilon_target": options.dp_epsilon,
            "epsilon_spent": round(synthesizer.dp_epsilon_spent_, 4),
            "delta": synthesizer.dp_delta_,
            "accountant": "Opacus RDP",
            "covers": "the network weights and rows decoded from N(0, I); not the column "
                      "encoders' statistics (quantiles, category lists)",
        },
        "column_kinds": synthesizer.column_kinds_,
        "calibration": synthesizer.calibration_,
    }


def saved_model(model: Synthesizer, source: Path, destination: Path) -> dict[str, Any]:
    """A saved synthesizer used instead of training one: the output keeps a copy of it."""
    shutil.copytree(source, destination)
    return {
        "model_from": str(source),
        "epochs_run": len(model.history_),
        "epochs_max": model.train_config_.epochs,
        "max_seconds": model.train_config_.max_seconds,
        "seconds": 0.0,
        "trained_seconds": round(model.fit_seconds_, 2),
        "best_val_loss": _finite(min(h.val_loss for h in model.history_)),
        "dp": None,
        "column_kinds": model.column_kinds_,
    }


def sample(model: Synthesizer, rows: int, destination: Path, format: str,
           schema: TableSchema, seed: int, where: list[str] | None = None,
           on_rows: Callable[[int], None] | None = None) -> int:
    """Stream `rows` rows to `destination` chunk by chunk, each checked against the schema on
    the way: memory stays flat however many rows are asked for. `on_rows(rows so far)` after
    each chunk."""
    try:
        chunks = sample_stream(model, rows, random_state=seed,
                               conditions=parse_where(where) if where else None,
                               schema=schema, arrow=format == "parquet")
    except ConditionError as err:  # e.g. a value only the held-back rows had
        raise InputError(f"--where: {err}") from None
    _, written = write_table_stream(_counted(chunks, on_rows) if on_rows else chunks,
                                    destination, format, expected_rows=rows)
    return written


def _counted(chunks: Iterator[Any], on_rows: Callable[[int], None]) -> Iterator[Any]:
    done = 0
    for chunk in chunks:
        done += len(chunk)
        yield chunk
        on_rows(done)


def shard_plan(rows: int, shard_rows: int) -> list[tuple[int, int, int]]:
    """(index, first row, rows) per shard. Shards start on the sampler's chunk grid, which
    `iter_sample(start=...)` needs."""
    if shard_rows <= 0 or shard_rows % SAMPLE_CHUNK:
        raise InputError(f"shard rows must be a positive multiple of {SAMPLE_CHUNK:,}, "
                         f"got {shard_rows:,}")
    return [(i, start, min(shard_rows, rows - start))
            for i, start in enumerate(range(0, rows, shard_rows))]


def score_rows(train: pd.DataFrame, holdout: pd.DataFrame | None, synthetic: pd.DataFrame,
               schema: TableSchema, model: Synthesizer, options: RunOptions) -> dict[str, Any]:
    """SDMetrics quality and detection against the training rows; DCR, exact copies and the
    privacy report (attacks, membership inference) against the holdout. Conditioned rows are
    compared with the real rows that meet the same conditions."""
    real, unseen, matching = train, holdout, None
    if options.where:
        conditions = parse_where(options.where)
        real = real[model.encoder_.rows_matching(real, conditions)].reset_index(drop=True)
        if unseen is not None:
            unseen = unseen[model.encoder_.rows_matching(unseen, conditions)
                            ].reset_index(drop=True)
        matching = {"train": len(real), "holdout": None if unseen is None else len(unseen)}
        if len(real) < 2:
            raise InputError(f"only {len(real)} training rows meet {options.where}: too few "
                             f"to score")
    unseen = unseen if unseen is not None and len(unseen) else None
    kinds = schema.kinds()
    scores = score(real, synthetic, unseen, kinds=kinds, seed=options.seed)
    metadata = sdmetrics_metadata(real, kinds)
    scores["detection"] = detection(real, synthetic, metadata, seed=options.seed)
    floor = detection(real, unseen, metadata, seed=options.seed) if unseen is not None else None
    scores["detection"]["holdout_auc"] = floor and floor["auc"]
    scores["rules"] = model.rules_.report(real, synthetic, model.encoder_)
    scores["privacy_report"] = None if unseen is None else privacy_report(
        real, unseen, synthetic, metadata,
        sensitive=options.sensitive or schema.sensitive or None,
        random_state=options.seed, n_attacks=min(len(unseen), PRIVACY_ATTACKS))
    scores["rows_matching_conditions"] = matching
    return scores


def judge_privacy(privacy: dict[str, Any] | None, options: RunOptions) -> dict[str, Any]:
    """The gate's verdict on a privacy report; no report (nothing held back) fails it."""
    gate = PrivacyGate(**options.gate_thresholds())
    failures = gate.check(privacy) if privacy is not None else [
        {"name": "privacy_report", "value": None, "threshold": None, "rule": "measured",
         "by": None}]
    return {"enforced": options.privacy_gate, "passed": not failures,
            "thresholds": asdict(gate), "failures": failures}


def assemble_report(options: RunOptions, *, output: Path, files: dict[str, str],
                    input: dict[str, Any] | None, schema_path: str, inferred: bool,
                    fit: dict[str, Any], train_rows: int, holdout_rows: int,
                    scores: dict[str, Any] | None, gate: dict[str, Any] | None,
                    rows_dropped: dict[str, Any] | None, sharding: dict[str, Any] | None,
                    timings: dict[str, float]) -> RunReport:
    """report.json, typed: validation fails here, not in a reader, if a figure is missing."""
    scores = scores or {}
    return RunReport.model_validate({
        "rows": options.rows, "seed": options.seed, "format": options.format,
        "output": str(output), "files": files, "input": input, "rows_dropped": rows_dropped,
        "schema": {"path": schema_path, "inferred": inferred},
        "conditions": options.where,
        "rows_matching_conditions": scores.get("rows_matching_conditions"),
        "holdout_fraction": options.holdout_fraction if input is not None else None,
        "train_rows": train_rows, "holdout_rows": holdout_rows, "fit": fit,
        **{key: scores.get(key) for key in SCORE_KEYS},
        "privacy": scores.get("privacy"), "privacy_report": scores.get("privacy_report"),
        "privacy_gate": gate, "rows_scored": scores.get("rows_scored", 0),
        "sharding": sharding, "timings": timings, "versions": versions(),
    })


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for package in VERSIONED_PACKAGES:
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "not installed"
    return found


def with_discovered(schema: TableSchema, model: Synthesizer) -> TableSchema:
    """`schema` listing the rules found in the training rows that sampling keeps, to be
    reviewed and edited in a draft, where it lists none yet."""
    if schema.discovered_rules is not None:
        return schema
    return replace(schema, discovered_rules=[r.describe() for r in model.rules_.rules
                                             if not r.declared])


def _save_schema(schema: TableSchema, path: Path | None, model_dir: Path) -> None:
    if path is None:
        schema.save_yaml(model_dir / MODEL_SCHEMA_NAME)
    else:
        shutil.copyfile(path, model_dir / MODEL_SCHEMA_NAME)


def _finite(value: float) -> float | None:
    """No NaN in report.json (DP training has no validation loss): JSON has no NaN."""
    return None if value != value else round(value, 4)
