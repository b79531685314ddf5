"""report.json's type and the JSON Schema generated from it."""

import json

import jsonschema
import pytest
from pydantic import ValidationError

from synthvae.report.run_report import SCHEMA_FILE, RunReport, json_schema_text

MINIMAL = {
    "rows": 10, "seed": 0, "format": "parquet", "output": "/tmp/out",
    "files": {"synthetic": "synthetic.parquet"}, "input": None,
    "schema": {"path": "model/schema.yaml", "inferred": False}, "conditions": [],
    "rows_matching_conditions": None, "holdout_fraction": None, "train_rows": 0,
    "holdout_rows": 0,
    "fit": {"epochs_run": 3, "epochs_max": 3, "max_seconds": None, "seconds": 0.0,
            "best_val_loss": 1.5, "dp": None, "column_kinds": {"a": "numeric"}},
    "quality": None, "column_shapes": None, "column_pair_trends": None, "detection": None,
    "rules": None, "columns": None, "pairs_worst": None, "pairs_counted": None,
    "pairs_total": None, "not_available": None, "subsampled": None, "privacy": None,
    "privacy_report": None, "privacy_gate": None, "rows_scored": 0, "sharding": None,
    "timings": {"total": 1.0}, "versions": {"python": "3.11"},
}


def test_the_shipped_json_schema_is_the_one_the_type_generates():
    assert SCHEMA_FILE.read_text() == json_schema_text(), (
        "regenerate it: python -m synthvae.report")


def test_every_field_says_what_it_means():
    schema = json.loads(SCHEMA_FILE.read_text())
    for name, model in [("RunReport", schema), *schema["$defs"].items()]:
        for field, spec in model["properties"].items():
            assert spec.get("description"), f"{name}.{field} has no description"
    assert schema["properties"]["timings"]["unit"] == "s"


def test_a_minimal_report_validates_both_ways():
    jsonschema.validate(MINIMAL, json.loads(SCHEMA_FILE.read_text()))
    report = RunReport.model_validate(MINIMAL)
    assert report.schema_.path == "model/schema.yaml" and report.version == 1
    assert json.loads(report.to_json())["schema"] == MINIMAL["schema"]


@pytest.mark.parametrize("change", [
    lambda r: r.pop("fit"),
    lambda r: r.update(rows="ten"),
    lambda r: r.update(unknown_figure=1.0),
    lambda r: r["fit"].pop("epochs_run"),
    lambda r: r.update(privacy_gate={"enforced": True, "passed": "maybe", "thresholds": {},
                                     "failures": []}),
])
def test_a_report_missing_or_misspelling_a_field_fails_both(change):
    broken = json.loads(json.dumps(MINIMAL))
    change(broken)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, json.loads(SCHEMA_FILE.read_text()))
    with pytest.raises(ValidationError):
        RunReport.model_validate(broken)
