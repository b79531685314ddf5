"""report.json, typed: what one generate run did and how its rows score.

`RunReport` is the contract that catalog manifests, pull verdicts, report.html and the run
summary read. Each field says what it means and, where it has one, its unit; the JSON Schema
shipped in `schemas/report.schema.json` is generated from these types (`python -m
synthvae.report` writes it) and every run's report is validated against them
before it is written. The privacy report's inner sections are described in docs/privacy.md.

Figures that could not be computed are null, with the reason under a `not_available` key.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

REPORT_VERSION = 1
SCHEMA_FILE = Path(__file__).resolve().parents[2] / "schemas" / "report.schema.json"


def _f(description: str, unit: str | None = None, **kwargs: Any) -> Any:
    extra = {"unit": unit} if unit else None
    return Field(description=description, json_schema_extra=extra, **kwargs)


class _Part(BaseModel):
    # Inner sections come from scoring code that may add a figure before its type does: they
    # keep it. The top level is closed, so a misspelt or dropped field fails validation.
    model_config = ConfigDict(extra="allow")


class InputInfo(_Part):
    path: str = _f("the real table the run learned from")
    sha256: str = _f("SHA-256 of the input file's bytes, to tell which version was used")
    rows: int = _f("rows in the input table", "rows")


class SchemaInfo(_Part):
    path: str = _f("schema YAML the input and the synthetic rows were checked against")
    inferred: bool = _f("true when no schema was given and a draft was inferred from the input")


class RowsDropped(_Part):
    count: int = _f("input rows left out of training for breaking a declared rule", "rows")
    why: str | None = _f("the rules they broke, with counts")


class DPInfo(_Part):
    epsilon_target: float = _f("the privacy budget asked for (DP-SGD)")
    epsilon_spent: float = _f("the budget spent, by Opacus' RDP accountant")
    delta: float = _f("DP delta")
    accountant: str = _f("the privacy accountant")
    covers: str = _f("what the guarantee covers, and what it does not")


class FitInfo(_Part):
    epochs_run: int = _f("training epochs run (early stopping may end before epochs_max)")
    epochs_max: int = _f("the most epochs training was allowed")
    max_seconds: float | None = _f("training time budget; null for none", "s")
    seconds: float = _f("time spent training in this run (0 with a saved model)", "s")
    best_val_loss: float | None = _f("lowest validation loss (nats per row); null under DP")
    dp: DPInfo | None = _f("differential-privacy accounting; null without DP")
    column_kinds: dict[str, str] = _f("the kind each column was modelled as")
    calibration: dict[str, float | None] | None = _f(
        "largest class-share gap of sampled vs training rows before and after calibration",
        "share", default=None)
    model_from: str | None = _f("the saved model sampled from, when one was given",
                                default=None)
    trained_seconds: float | None = _f("how long the saved model took to train", "s",
                                       default=None)


class Giveaway(_Part):
    column: str = _f("a column the detector leans on")
    auc_drop: float = _f("how much the detector's AUC drops without it", "AUC")


class Detection(_Part):
    auc: float | None = _f("cross-validated ROC AUC of gradient-boosted trees telling "
                           "synthetic from real rows (0.5: indistinguishable)", "AUC")
    holdout_auc: float | None = _f("the same test on the real holdout against the training "
                                   "rows: the floor a synthetic table can reach", "AUC",
                                   default=None)
    rows: int = _f("rows per side", "rows")
    giveaways: list[Giveaway] = _f("the columns that give synthetic rows away, most first")
    seconds: float = _f("time taken", "s")
    not_available: str | None = _f("why auc is null", default=None)


class RuleScore(_Part):
    rule: str = _f("the rule in words")
    kind: str = _f("equal, lookup, date_part, order, combination, exclusive, null_together, "
                   "band, composed; near for a near-rule")
    sources: list[str] = _f("the columns the rule reads")
    target: str | None = _f("the column it sets")
    support: int | None = _f("training rows the rule was found on", "rows")
    holds: float | None = _f("share of training rows that keep it: 1 for a rule, enforced in "
                             "every synthetic row; under 1 for a near-rule (kind 'near'), "
                             "learned and held to the real rows' rate, not enforced", "share",
                             default=None)
    enforced: bool | None = _f("whether sampling keeps it by construction: false for a near-rule "
                               "and for rules past the cap a wide table's hundreds of "
                               "dependencies reach", default=None)
    real_violation_rate: float = _f("share of real rows breaking it", "share")
    synthetic_violation_rate: float = _f("share of synthetic rows breaking it", "share")


class PairScore(_Part):
    columns: list[str] = _f("the two columns")
    metric: str = _f("SDMetrics metric: CorrelationSimilarity or ContingencySimilarity")
    score: float | None = _f("1: the pair's trend is kept exactly", "score in [0, 1]")


class DistancePrivacy(_Part):
    dcr_synthetic_median: float | None = _f("median distance from a synthetic row to its "
                                            "nearest training row", "distance")
    dcr_holdout_median: float | None = _f("the same for real holdout rows", "distance")
    dcr_ratio: float | None = _f("dcr_synthetic_median / dcr_holdout_median (>= 1: synthetic "
                                 "rows sit no closer to training rows than unseen real ones)")
    synthetic_copies: int | None = _f("distinct synthetic rows equal to a training row", "rows")
    holdout_copies: int | None = _f("distinct holdout rows equal to a training row", "rows")
    not_available: dict[str, str] | None = _f("why a figure is null", default=None)


class GateFailure(_Part):
    name: str = _f("the figure that failed")
    value: float | None = _f("its value")
    threshold: float | None = _f("the threshold it is judged against")
    rule: str = _f("how value must compare with threshold (>=, <=, measured)")
    by: float | None = _f("how far past the threshold")
    p_value: float | None = _f("p-value against rows leaking nothing", default=None)
    p_needed: float | None = _f("the p-value below which a figure past its threshold fails",
                                default=None)


class PrivacyGateResult(_Part):
    enforced: bool = _f("true when a failed gate withholds the rows (--privacy-gate)")
    passed: bool = _f("true when no gated figure failed")
    thresholds: dict[str, float] = _f("the gate's thresholds and false-alarm rate")
    failures: list[GateFailure] = _f("the figures that failed")


class Sharding(_Part):
    shards: int = _f("parts the rows were drawn in")
    workers: int = _f("Dask workers that drew them")
    shard_rows: int = _f("rows per shard", "rows")
    shard_seconds: list[float] = _f("time each shard took", "s")
    dask: str = _f("the Dask cluster")


class RunReport(BaseModel):
    """Everything report.json holds. Scores are null when the run drew rows from a saved
    model with no real table to compare them with."""

    model_config = ConfigDict(extra="forbid")

    version: int = _f("report format version", default=REPORT_VERSION)
    rows: int = _f("synthetic rows written", "rows")
    seed: int = _f("random seed: the same seed gives the same rows")
    format: str = _f("file format of the synthetic rows: parquet or csv")
    output: str = _f("the output folder")
    files: dict[str, str] = _f("what the output folder holds, by role; a withheld run keeps "
                               "only its reports")
    input: InputInfo | None = _f("the real table; null when rows came from a model alone")
    rows_dropped: RowsDropped | None = _f("rows left out by --drop-violating", default=None)
    schema_: SchemaInfo = Field(alias="schema", description="the schema used")
    conditions: list[str] = _f("--where conditions every synthetic row meets")
    rows_matching_conditions: dict[str, int | None] | None = _f(
        "real rows meeting the conditions, per side, which the scores compare with", "rows")
    holdout_fraction: float | None = _f("share of real rows held back from training", "share")
    train_rows: int = _f("rows the model trained on", "rows")
    holdout_rows: int = _f("real rows held back, the privacy control", "rows")
    fit: FitInfo = _f("training")
    quality: float | None = _f("SDMetrics quality: mean of column shapes and pair trends",
                               "score in [0, 1]")
    column_shapes: float | None = _f("SDMetrics column shapes (KS / TV complement)",
                                     "score in [0, 1]")
    column_pair_trends: float | None = _f("SDMetrics column pair trends", "score in [0, 1]")
    detection: Detection | None = _f("classifier two-sample test")
    rules: list[RuleScore] | None = _f("rules every training row keeps, and how often real "
                                       "and synthetic rows break them")
    columns: dict[str, float | None] | None = _f("column shape score per column",
                                                 "score in [0, 1]")
    pairs_worst: list[PairScore] | None = _f("the worst-kept column pairs")
    pairs_counted: int | None = _f("pairs in pair trends")
    pairs_total: int | None = _f("pairs in the table")
    not_available: dict[str, str] | None = _f("why a quality figure is null")
    subsampled: dict[str, Any] | None = _f("what the quality score subsampled, and how much")
    privacy: DistancePrivacy | None = _f("distance to closest record and exact copies; null "
                                         "without held-back rows")
    privacy_report: dict[str, Any] | None = _f(
        "privacy evidence (closer_to_training, exact_copies, attacks, membership_inference, "
        "sdmetrics): docs/privacy.md")
    privacy_gate: PrivacyGateResult | None = _f("the gate's verdict")
    rows_scored: dict[str, int] | int = _f("rows each score read, per side", "rows")
    sharding: Sharding | None = _f("sharded sampling; null for one process")
    timings: dict[str, float] = _f("time per step", "s")
    versions: dict[str, str] = _f("Python and package versions")
    published: str | None = _f("the catalog version this run was published as",
                               default=None)

    def to_json(self) -> str:
        return self.model_dump_json(by_alias=True, indent=2) + "\n"

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


def json_schema() -> dict[str, Any]:
    schema = RunReport.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://synthvae/report.schema.json"
    return schema


def json_schema_text() -> str:
    return json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"
