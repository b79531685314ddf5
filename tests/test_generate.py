"""The generate flow end to end, through its command line as a user runs it.

Each successful run starts Prefect's temporary server (10-25 s), so the happy path runs once
per module and several tests read its output. Bad input is caught before Prefect starts.
"""

import dataclasses
import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from synthvae.run.options import RunOptions, build_parser, flag
from synthvae.io import read_table
from synthvae.schema import load_schema, validate

ROOT = Path(__file__).resolve().parents[1]
ADULT = ROOT / "data" / "adult.csv.gz"
ADULT_SCHEMA = ROOT / "schemas" / "adult.yaml"
SAMPLE_ROWS = 1000
QUICK = ("--epochs", "2", "--rows", "300")  # a few epochs: this is plumbing, not quality


@pytest.fixture(scope="module")
def adult_sample() -> pd.DataFrame:
    return read_table(ADULT).sample(SAMPLE_ROWS, random_state=0).reset_index(drop=True)


@pytest.fixture(scope="module")
def sample_csv(adult_sample, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("input") / "adult_sample.csv"
    adult_sample.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def generated(run_cli, sample_csv, tmp_path_factory):
    """One run on 1,000 Adult rows with the curated schema: (process, output folder)."""
    output = tmp_path_factory.mktemp("generated") / "out"
    result = run_cli(
        "flows.generate",
        "--input",
        sample_csv,
        "--schema",
        ADULT_SCHEMA,
        "--output",
        output,
        *QUICK,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result, output


def test_run_writes_synthetic_rows_report_and_model(generated):
    _, output = generated
    assert sorted(p.name for p in output.iterdir()) == [
        "model", "report.html", "report.json", "synthetic.parquet"]
    assert (output / "model" / "synthesizer.json").is_file()


def test_synthetic_rows_have_input_columns_dtypes_and_pass_schema(generated, adult_sample):
    _, output = generated
    synthetic = read_table(output / "synthetic.parquet")
    assert len(synthetic) == 300
    assert list(synthetic.columns) == list(adult_sample.columns)
    assert synthetic.dtypes.to_dict() == adult_sample.dtypes.to_dict()
    validate(synthetic, load_schema(ADULT_SCHEMA), what="synthetic sample")


def test_report_holds_scores_in_unit_range_timings_and_input_hash(generated, sample_csv):
    _, output = generated
    report = json.loads((output / "report.json").read_text())
    for key in ("quality", "column_shapes", "column_pair_trends"):
        assert 0 <= report[key] <= 1, key
    assert 0 <= report["privacy"]["share_synthetic_closer"] <= 1
    assert report["privacy"]["dcr_ratio"] > 0
    assert report["privacy"]["synthetic_copies"] >= 0
    assert report["rows"] == 300 and report["seed"] == 0
    assert report["train_rows"] + report["holdout_rows"] == SAMPLE_ROWS
    assert report["holdout_rows"] == SAMPLE_ROWS // 5
    assert report["input"]["sha256"] == hashlib.sha256(sample_csv.read_bytes()).hexdigest()
    assert report["schema"] == {"path": str(ADULT_SCHEMA), "inferred": False}
    assert report["fit"]["epochs_run"] == 2
    assert set(report["timings"]) >= {
        "prepare",
        "fit",
        "sample",
        "score",
        "total",
    }
    assert {"synthvae", "torch", "prefect"} <= set(report["versions"])


def test_no_temporary_folders_left_behind(generated):
    _, output = generated
    assert [p.name for p in output.parent.iterdir()] == ["out"]


def test_summary_names_the_output_and_scores(generated):
    result, output = generated
    assert f"Wrote 300 synthetic rows to {output / 'synthetic.parquet'}" in result.stdout
    assert "quality" in result.stdout and "DCR ratio" in result.stdout
    assert "rules every training row keeps: 2, kept in every synthetic row" in result.stdout
    assert "Traceback" not in result.stderr


def test_report_lists_each_rule_with_real_and_synthetic_violation_rates(generated):
    _, output = generated
    report = json.loads((output / "report.json").read_text())
    # in the 800-row sample, workclass and occupation are missing in exactly the same rows
    assert [r for r in report["rules"] if r["kind"] != "near"] == [{
        "rule": "workclass, occupation are null in the same rows", "kind": "null_together",
        "sources": ["occupation"], "target": "workclass", "support": 800, "holds": 1.0,
        "enforced": True, "real_violation_rate": 0.0, "synthetic_violation_rate": 0.0}, {
        "rule": "education-num is determined by education", "kind": "lookup",
        "sources": ["education"], "target": "education-num", "support": 800, "holds": 1.0,
        "enforced": True, "real_violation_rate": 0.0, "synthetic_violation_rate": 0.0}]
    for near in (r for r in report["rules"] if r["kind"] == "near"):
        assert 0.99 <= near["holds"] < 1 and near["real_violation_rate"] > 0
    assert "education-num is determined by education" in (output / "report.html").read_text()


def test_input_without_schema_writes_a_draft_schema(run_cli, sample_csv, tmp_path):
    output = tmp_path / "drafted"
    result = run_cli(
        "flows.generate", "--input", sample_csv, "--output", output, "--format", "csv", *QUICK
    )
    assert result.returncode == 0, result.stderr[-3000:]
    draft = output / "schema.draft.yaml"
    assert draft.is_file()
    assert "schema.draft.yaml" in result.stdout and "schema.draft.yaml" in result.stderr
    synthetic = read_table(output / "synthetic.csv")
    validate(synthetic, load_schema(draft), what="synthetic sample")
    assert json.loads((output / "report.json").read_text())["schema"]["inferred"] is True
    # the draft lists the rules found; a line deleted there is no longer enforced
    listed = load_schema(draft).discovered_rules
    assert "education-num is determined by education" in listed
    edited = load_schema(draft)
    edited.discovered_rules = [r for r in listed if not r.startswith("education-num")]
    result = run_cli("flows.generate", "--input", sample_csv, "--schema",
                     edited.save_yaml(tmp_path / "edited.yaml"), "--output", tmp_path / "again",
                     *QUICK)
    assert result.returncode == 0, result.stderr[-3000:]
    rules = {r["rule"]: r for r in
             json.loads((tmp_path / "again" / "report.json").read_text())["rules"]}
    assert rules["education-num is determined by education"]["enforced"] is False
    assert all(rules[r]["enforced"] for r in edited.discovered_rules)


def test_where_conditions_hold_on_every_row_and_scores_use_matching_real_rows(
    run_cli, sample_csv, adult_sample, tmp_path
):
    output = tmp_path / "rich"
    result = run_cli(
        "flows.generate", "--input", sample_csv, "--schema", ADULT_SCHEMA, "--output", output,
        "--where", "income=>50K", "--where", "age=30..45", *QUICK,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rows = read_table(output / "synthetic.parquet")
    assert len(rows) == 300
    assert (rows["income"] == ">50K").all() and rows["age"].between(30, 45).all()
    report = json.loads((output / "report.json").read_text())
    assert report["conditions"] == ["income=>50K", "age=30..45"]
    real = adult_sample[(adult_sample["income"] == ">50K") & adult_sample["age"].between(30, 45)]
    # the scored training rows are the matching ones (about 80% of them are in training)
    assert 0.6 * len(real) < report["rows_matching_conditions"]["train"] <= len(real)


@pytest.mark.parametrize("where, words", [
    ("sex=Banana", "'Banana' never appears"),
    ("colour=red", "columns not in the table: ['colour']"),
    ("age=90..20", "empty range"),
    ("income", "not COLUMN=VALUE"),
])
def test_impossible_where_is_a_one_line_error_before_training(run_cli, sample_csv, where, words):
    result = run_cli("flows.generate", "--input", sample_csv, "--schema", ADULT_SCHEMA,
                     "--where", where)
    assert result.returncode == 2
    assert result.stderr.startswith("error: --where: ") and words in result.stderr
    assert result.stderr.count("\n") == 1


def test_report_holds_the_privacy_evidence_and_an_html_report(generated):
    _, output = generated
    report = json.loads((output / "report.json").read_text())
    privacy = report["privacy_report"]
    assert {"sdmetrics", "closer_to_training", "exact_copies", "attacks",
            "membership_inference"} <= set(privacy)
    assert 0.0 <= privacy["membership_inference"]["auc"] <= 1.0
    assert "income" in privacy["attacks"]["inference"]  # the schema names income sensitive
    gate = report["privacy_gate"]
    assert gate["enforced"] is False and set(gate["thresholds"]) == {
        "dcr_overfitting_protection_min", "exact_copy_rate_max_over_holdout",
        "attack_risk_max", "membership_auc_max", "false_alarm_rate"}
    html = (output / "report.html").read_text()
    assert html.lstrip().lower().startswith("<!doctype html") and "membership" in html.lower()


def test_a_run_that_fails_the_privacy_gate_publishes_no_rows(run_cli, adult_sample, tmp_path):
    """60 rows trained for 300 epochs, rare values unprotected, are memorised: the gate must
    stop them."""
    tiny = tmp_path / "tiny.csv"
    adult_sample.head(75).to_csv(tiny, index=False)
    output = tmp_path / "gated"
    result = run_cli(
        "flows.generate", "--input", tiny, "--schema", ADULT_SCHEMA, "--output", output,
        "--epochs", "300", "--rows", "2000", "--privacy-gate", "--protect-below", "1",
    )
    assert result.returncode == 3, result.stderr[-3000:]
    assert "privacy gate failed" in result.stderr and "must be" in result.stderr
    assert sorted(p.name for p in output.iterdir()) == ["report.html", "report.json"]
    report = json.loads((output / "report.json").read_text())
    assert report["privacy_gate"]["passed"] is False and report["privacy_gate"]["failures"]
    failure = report["privacy_gate"]["failures"][0]
    assert {"name", "value", "threshold", "rule", "by", "p_value", "p_needed"} <= set(failure)
    assert failure["p_value"] < failure["p_needed"]


@pytest.mark.parametrize("args, words", [
    (["--publish", "../evil"], "--publish:"),
    (["--publish", "adult", "--format", "csv"], "needs --format parquet"),
    (["--gate-attack-risk", "1.5"], "must be a number in [0, 1]"),
    (["--sensitive", "salary"], "sensitive column 'salary' is not a column"),
    (["--privacy-gate", "--holdout-fraction", "0"], "needs held-back rows"),
])
def test_bad_privacy_options_fail_before_training(run_cli, sample_csv, args, words):
    result = run_cli("flows.generate", "--input", sample_csv, "--schema", ADULT_SCHEMA, *args)
    assert result.returncode == 2 and words in result.stderr, result.stderr[-2000:]


def test_a_saved_model_streams_many_rows_without_training(run_cli, generated, sample_csv, tmp_path):
    _, first = generated
    output = tmp_path / "from-model"
    result = run_cli(
        "flows.generate", "--input", sample_csv, "--schema", ADULT_SCHEMA, "--output", output,
        "--model", first / "model", "--rows", "70000",  # two chunks, streamed
        "--publish", "adult-sample", "--catalog", tmp_path / "catalog",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rows = read_table(output / "synthetic.parquet")
    assert len(rows) == 70_000
    validate(rows, load_schema(ADULT_SCHEMA), what="synthetic sample")
    report = json.loads((output / "report.json").read_text())
    assert report["fit"]["model_from"] == str(first / "model") and "fit" not in report["timings"]
    assert report["privacy_report"] is None and report["holdout_rows"] == 0
    assert (output / "model" / "model.safetensors").is_file()
    from synthvae.catalog import load_manifest
    manifest = load_manifest("adult-sample", "latest", tmp_path / "catalog")  # verifies hashes
    assert manifest["version"] == "1" and manifest["rows"] == 70_000
    assert "published to the catalog" in result.stdout


def test_model_option_refuses_a_model_for_another_table(run_cli, generated, tmp_path):
    _, first = generated
    other = tmp_path / "other.csv"
    pd.DataFrame({"x": [1, 2, 3] * 10}).to_csv(other, index=False)
    result = run_cli("flows.generate", "--input", other, "--model", first / "model")
    assert result.returncode == 2 and "--model:" in result.stderr and "missing" in result.stderr


def test_a_cut_short_model_file_is_a_one_line_error(run_cli, generated, sample_csv, tmp_path):
    _, first = generated
    broken = tmp_path / "model"
    broken.mkdir()
    for part in (first / "model").iterdir():
        (broken / part.name).write_bytes(part.read_bytes())
    arrays = (broken / "arrays.safetensors").read_bytes()
    (broken / "arrays.safetensors").write_bytes(arrays[:len(arrays) // 3])
    result = run_cli("flows.generate", "--input", sample_csv, "--schema", ADULT_SCHEMA,
                     "--model", broken, "--output", tmp_path / "out")
    assert result.returncode == 2, result.stderr[-2000:]
    assert f"{broken / 'arrays.safetensors'} cannot be read" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "out").exists()


def test_an_output_that_cannot_be_written_is_a_one_line_error(run_cli, sample_csv):
    # beneath a file, where no folder can be made, whoever runs it
    result = run_cli("flows.generate", "--input", sample_csv, "--schema", ADULT_SCHEMA,
                     "--output", sample_csv / "out", *QUICK)
    assert result.returncode == 2, result.stderr[-2000:]
    assert f"cannot write {sample_csv / 'out'}" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_model_alone_draws_rows_checked_against_its_own_schema(run_cli, tmp_path):
    """A model fitted on another table than Adult, then used with --model and no --input:
    its folder carries the schema it was fitted under, and that checks the rows."""
    table = ROOT / "tests" / "data" / "corpus" / "gss_wages.csv.gz"
    fitted = tmp_path / "gss"
    result = run_cli("flows.generate", "--input", table, "--output", fitted, *QUICK)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (fitted / "model" / "schema.yaml").read_text() == \
        (fitted / "schema.draft.yaml").read_text()
    drawn = tmp_path / "drawn"
    result = run_cli("flows.generate", "--model", fitted / "model", "--rows", "500",
                     "--output", drawn)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = read_table(drawn / "synthetic.parquet")
    assert len(rows) == 500 and list(rows.columns) == list(read_table(table).columns)
    validate(rows, load_schema(fitted / "model" / "schema.yaml"), what="synthetic sample")
    report = json.loads((drawn / "report.json").read_text())
    assert report["input"] is None and report["quality"] is None
    assert report["schema"]["path"] == str(drawn / "model" / "schema.yaml")
    assert "not scored" in result.stdout


def test_a_model_alone_without_a_schema_is_a_one_line_error(run_cli, tmp_path):
    """Synthesizer.save writes no schema: with no --input such a model is checked against
    the bundled table, and one of another table is refused with what to pass instead."""
    from synthvae import Synthesizer
    model = tmp_path / "model"
    table = read_table(ROOT / "tests" / "data" / "corpus" / "gss_wages.csv.gz")
    Synthesizer(epochs=1, random_state=0, hidden_dim=16, latent_dim=4).fit(table).save(model)
    result = run_cli("flows.generate", "--model", model, "--rows", "10")
    assert result.returncode == 2, result.stderr[-2000:]
    assert "carries no schema.yaml" in result.stderr and "--schema" in result.stderr
    assert "Traceback" not in result.stderr


def test_failure_inside_the_flow_leaves_existing_output_untouched(run_cli, tmp_path):
    # 200 distinct codes cannot fill 300 synthetic rows uniquely: the synthetic rows fail
    # the schema after fit and sample have written into the staging folder.
    table = pd.DataFrame(
        {"code": np.arange(200), "group": np.random.default_rng(0).choice(["a", "b", "c"], 200)}
    )
    table.to_csv(tmp_path / "codes.csv", index=False)
    schema = {
        "name": "codes",
        "columns": {
            "code": {"kind": "numeric", "dtype": "int64", "unique": True, "min": 0, "max": 199},
            "group": {"kind": "categorical", "dtype": "str", "categories": ["a", "b", "c"]},
        },
    }
    (tmp_path / "codes.yaml").write_text(yaml.safe_dump(schema))
    output = tmp_path / "out"
    output.mkdir()
    (output / "synthetic.parquet").write_text("from an earlier run")

    result = run_cli(
        "flows.generate",
        "--input",
        tmp_path / "codes.csv",
        "--schema",
        tmp_path / "codes.yaml",
        "--output",
        output,
        *QUICK,
    )

    assert result.returncode == 1
    assert "synthetic sample failed schema 'codes'" in result.stderr
    assert "  - code: " in result.stderr
    assert "These rows were generated" in result.stderr  # not "fix the data"
    assert "Fix these values in the data" not in result.stderr
    assert "Traceback" not in result.stderr
    assert [p.name for p in output.iterdir()] == ["synthetic.parquet"]
    assert (output / "synthetic.parquet").read_text() == "from an earlier run"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["codes.csv", "codes.yaml", "out"]


# ------------------------------------------------------------------ bad input: fails fast


def test_schema_violation_names_columns_values_and_rows(run_cli, adult_sample, tmp_path):
    bad = adult_sample.copy()
    bad.loc[3, "age"] = -5
    bad.loc[[7, 9], "sex"] = "Banana"
    bad.to_csv(tmp_path / "bad.csv", index=False)
    output = tmp_path / "out"
    output.mkdir()
    (output / "report.json").write_text("{}")

    result = run_cli(
        "flows.generate",
        "--input",
        tmp_path / "bad.csv",
        "--schema",
        ADULT_SCHEMA,
        "--output",
        output,
    )

    assert result.returncode == 1
    assert "age: must be >= 17 (1 row): -5 at row 4" in result.stderr
    assert "sex: must be one of" in result.stderr
    assert "'Banana' at row 8, 'Banana' at row 10" in result.stderr
    assert "Traceback" not in result.stderr
    assert [p.name for p in output.iterdir()] == ["report.json"]
    assert (output / "report.json").read_text() == "{}"


@pytest.mark.parametrize(
    ("make_input", "message"),
    [
        (lambda d: d / "missing.csv", "input file not found"),
        (lambda d: _write(d / "header_only.csv", "age,sex\n"), "empty (header but 0 rows)"),
        (lambda d: _write(d / "zero_bytes.csv", ""), "empty (no columns)"),
        (lambda d: _write(d / "corrupt.csv.gz", "not gzip at all"), "could not read CSV"),
        (lambda d: _write(d / "table.xlsx", "a,b\n1,2\n"), "unsupported table format"),
    ],
    ids=["missing", "header-only", "zero-bytes", "corrupt", "unsupported"],
)
def test_unusable_input_file_is_a_one_line_error(run_cli, tmp_path, make_input, message):
    result = run_cli(
        "flows.generate", "--input", make_input(tmp_path), "--output", tmp_path / "out"
    )
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and message in result.stderr
    assert result.stderr.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_unknown_column_in_the_schema_is_a_one_line_error(run_cli, sample_csv, tmp_path):
    schema = yaml.safe_load(ADULT_SCHEMA.read_text())
    schema["columns"]["salary"] = {"kind": "numeric", "dtype": "int64"}
    (tmp_path / "schema.yaml").write_text(yaml.safe_dump(schema))
    result = run_cli(
        "flows.generate",
        "--input",
        sample_csv,
        "--schema",
        tmp_path / "schema.yaml",
        "--output",
        tmp_path / "out",
    )
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    assert "unknown column in the schema" in result.stderr and "'salary'" in result.stderr


def test_missing_schema_file_is_a_one_line_error(run_cli, sample_csv, tmp_path):
    result = run_cli("flows.generate", "--input", sample_csv, "--schema", tmp_path / "no.yaml")
    assert result.returncode == 2
    assert result.stderr == f"error: schema file not found: {tmp_path / 'no.yaml'}\n"


@pytest.mark.parametrize("rows", ["0", "-5", "ten", "2.5"])
def test_rows_must_be_a_positive_integer(rows):
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["--rows", rows])
    assert exit_info.value.code == 2


def test_rows_zero_through_the_cli_is_a_usage_error(run_cli):
    result = run_cli("flows.generate", "--rows", "0")
    assert result.returncode == 2
    assert "argument --rows: must be a positive integer, got '0'" in result.stderr


def test_help_lists_exactly_the_run_options_with_their_defaults():
    parser = build_parser()
    options = {a.dest: a for a in parser._actions if a.dest != "help"}
    defaults = RunOptions()
    assert list(options) == [f.name for f in dataclasses.fields(RunOptions)]
    for name, action in options.items():
        assert action.default in (getattr(defaults, name), False)
        assert action.option_strings == [flag(name)]
    assert "(default: 100,000)" in parser.format_help()
    assert RunOptions(**vars(parser.parse_args([]))) == defaults


# ------------------------------------------------------------------------- the real thing


@pytest.mark.slow
def test_default_command_writes_100k_rows_that_pass_the_schema(run_cli, tmp_path):
    output = tmp_path / "adult"
    result = run_cli("flows.generate", "--rows", "100000", "--output", output, timeout=3600)
    assert result.returncode == 0, result.stderr[-3000:]
    synthetic = read_table(output / "synthetic.parquet")
    assert len(synthetic) == 100_000
    validate(synthetic, load_schema(ADULT_SCHEMA), what="synthetic sample")
    report = json.loads((output / "report.json").read_text())
    assert report["quality"] > 0.814  # SDV GaussianCopula on Adult (shared/ANCHORS.md)


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def schema_with_rules(tmp_path: Path, rules: list[str]) -> Path:
    doc = yaml.safe_load(ADULT_SCHEMA.read_text())
    doc["rules"] = rules
    path = tmp_path / "adult_rules.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def test_a_declared_rule_the_input_breaks_is_refused_before_training(run_cli, sample_csv,
                                                                     adult_sample, tmp_path):
    schema = schema_with_rules(tmp_path, ["education-num is determined by education",
                                          "age <= hours-per-week"])
    result = run_cli("flows.generate", "--input", sample_csv, "--schema", schema, *QUICK)
    breaking = int((adult_sample["age"] > adult_sample["hours-per-week"]).sum())
    assert result.returncode == 2, result.stderr[-2000:]
    error = result.stderr.strip().splitlines()
    assert len(error) == 1
    assert f"'age <= hours-per-week' in {breaking} rows" in error[0]
    assert "--drop-violating" in error[0] and "education-num" not in error[0]
    assert not (tmp_path / "out").exists()


def test_drop_violating_trains_without_the_rows_breaking_a_declared_rule(
        run_cli, sample_csv, adult_sample, tmp_path):
    schema = schema_with_rules(tmp_path, ["age <= hours-per-week"])
    output = tmp_path / "out"
    result = run_cli("flows.generate", "--input", sample_csv, "--schema", schema,
                     "--output", output, "--drop-violating", *QUICK)
    assert result.returncode == 0, result.stderr[-3000:]
    breaking = int((adult_sample["age"] > adult_sample["hours-per-week"]).sum())
    report = json.loads((output / "report.json").read_text())
    assert report["rows_dropped"]["count"] == breaking > 0
    assert report["train_rows"] + report["holdout_rows"] == SAMPLE_ROWS - breaking
    rows = read_table(output / "synthetic.parquet")
    assert (rows["age"] <= rows["hours-per-week"]).all()
    assert f"trained without {breaking} input rows" in result.stdout
    assert "age <= hours-per-week" in [r["rule"] for r in report["rules"]]
