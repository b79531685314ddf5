"""A generate run's plain steps, without Prefect: options, inputs read once, the steps in
order, the report they assemble and the words it is summed up in."""

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pandas as pd
import pytest

from synthvae import io
from synthvae.evaluation.gate import PrivacyGate
from synthvae.io import InputError, read_table
from synthvae.report.run_report import SCHEMA_FILE, RunReport
from synthvae.run import options as run_options
from synthvae.run import steps
from synthvae.run.options import RunOptions, build_parser
from synthvae.run.prepare import holdout_rows, prepare
from synthvae.run.summary import markdown, summary
from synthvae.synthesizer import SAMPLE_CHUNK, Synthesizer

ROOT = Path(__file__).resolve().parents[1]
ADULT = ROOT / "data" / "adult.csv.gz"
ADULT_SCHEMA = ROOT / "schemas" / "adult.yaml"


@pytest.fixture(scope="module")
def small_adult(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("input") / "adult_small.csv"
    read_table(ADULT).sample(600, random_state=1).to_csv(path, index=False)
    return path


def test_options_module_constants_agree_with_the_library():
    assert run_options.READ_SUFFIXES == io.SUPPORTED_SUFFIXES
    assert run_options.WRITE_FORMATS == io.WRITE_FORMATS
    assert run_options.SAMPLE_CHUNK == SAMPLE_CHUNK
    gate = PrivacyGate()
    assert RunOptions().gate_thresholds() == dataclasses.asdict(gate)


def test_help_loads_neither_torch_nor_pandas_nor_prefect():
    code = ("import sys, flows.generate as g\ntry:\n    g.main(['--help'])\nexcept SystemExit:\n"
            "    pass\nprint(sorted(m for m in ('torch', 'pandas', 'prefect') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, check=True)
    assert "--holdout-fraction" in done.stdout
    assert done.stdout.strip().endswith("[]")


def test_repeatable_options_collect_lists():
    options = RunOptions(**vars(build_parser().parse_args(
        ["--where", "sex=Female", "--where", "age=30..40", "--sensitive", "income"])))
    assert options.where == ["sex=Female", "age=30..40"] and options.sensitive == ["income"]
    assert RunOptions().where == [] and RunOptions().where is not RunOptions().where


def test_prepare_reads_the_input_once_and_resolves_every_default(small_adult, tmp_path,
                                                                 monkeypatch):
    reads = []
    real_read = io.read_table
    monkeypatch.setattr("synthvae.run.prepare.read_table",
                        lambda path: reads.append(path) or real_read(path))
    prepared = prepare(RunOptions(input_path=str(small_adult), output_dir=str(tmp_path / "o")))
    assert reads == [small_adult]
    assert len(prepared.table) == 600 and len(prepared.sha256) == 64
    assert prepared.inferred and prepared.schema_path is None
    assert set(prepared.schema.columns) == set(prepared.table.columns)
    assert prepared.options.output_dir == str(tmp_path / "o")


@pytest.mark.parametrize("options, words", [
    (dict(publish="adult", format="csv"), "--publish needs --format parquet"),
    (dict(workers=2, dask_address="tcp://x:1"), "give one of them"),
    (dict(privacy_gate=True, holdout_fraction=0.0), "--holdout-fraction 0 holds none back"),
    (dict(sensitive=["no_such_column"]), "no_such_column"),
    (dict(where=["age=500..600"]), "--where"),
])
def test_prepare_refuses_contradicting_or_impossible_options(small_adult, tmp_path, options,
                                                             words):
    with pytest.raises(InputError, match=words.replace("(", r"\(").replace("-", r"\-")):
        prepare(RunOptions(input_path=str(small_adult), schema_path=str(ADULT_SCHEMA),
                           output_dir=str(tmp_path / "o"), **options))


def test_the_steps_alone_make_a_run_whose_report_matches_the_schema(small_adult, tmp_path):
    options = RunOptions(input_path=str(small_adult), schema_path=str(ADULT_SCHEMA),
                         output_dir=str(tmp_path / "out"), rows=400, epochs=2)
    prepared = prepare(options)
    train, holdout = steps.split_holdout(prepared.table, holdout_rows(600, 0.2), seed=0)
    assert len(train) == 480 and len(holdout) == 120
    rows = lambda df: sorted(pd.util.hash_pandas_object(df, index=False))  # noqa: E731
    assert rows(pd.concat([train, holdout])) == rows(prepared.table)  # every row, once
    seen = []
    model, fit = steps.fit(train, prepared.schema, prepared.options, tmp_path / "model",
                           prepared.schema_path, on_epoch=lambda s, most: seen.append(most))
    assert (tmp_path / "model" / "schema.yaml").read_text() == ADULT_SCHEMA.read_text()
    assert fit["epochs_run"] == len(seen) == 2 and seen == [2, 2]
    counts = []
    written = steps.sample(model, 400, tmp_path / "rows.parquet", "parquet", prepared.schema,
                           seed=0, on_rows=counts.append)
    assert written == 400 and counts[-1] == 400
    synthetic = read_table(tmp_path / "rows.parquet")
    scores = steps.score_rows(train, holdout, synthetic, prepared.schema, model,
                              prepared.options)
    gate = steps.judge_privacy(scores["privacy_report"], prepared.options)
    report = steps.assemble_report(
        prepared.options, output=prepared.output, files={"synthetic": "rows.parquet"},
        input={"path": str(small_adult), "sha256": prepared.sha256, "rows": 600},
        schema_path=str(ADULT_SCHEMA), inferred=False, fit=fit, train_rows=len(train),
        holdout_rows=len(holdout), scores=scores, gate=gate, rows_dropped=None,
        sharding=None, timings={"total": 1.0})
    as_json = json.loads(report.to_json())
    jsonschema.validate(as_json, json.loads(SCHEMA_FILE.read_text()))
    assert RunReport.model_validate(as_json) == report
    assert 0 <= report.quality <= 1 and 0 <= report.detection.auc <= 1
    assert report.privacy_gate.thresholds == RunOptions().gate_thresholds()
    words = summary(report, 3.0)
    assert f"quality {report.quality:.3f}" in words and "detection AUC" in words
    assert "| quality |" in markdown(report)


def test_split_holdout_is_seeded(small_adult):
    table = read_table(small_adult)
    first = steps.split_holdout(table, 100, seed=3)[1]
    assert first.equals(steps.split_holdout(table, 100, seed=3)[1])
    assert not first.equals(steps.split_holdout(table, 100, seed=4)[1])


def test_shard_plan_refuses_a_size_off_the_chunk_grid():
    assert steps.shard_plan(3 * SAMPLE_CHUNK, 2 * SAMPLE_CHUNK) == [
        (0, 0, 2 * SAMPLE_CHUNK), (1, 2 * SAMPLE_CHUNK, SAMPLE_CHUNK)]
    with pytest.raises(InputError, match="multiple of 65,536"):
        steps.shard_plan(10, 1000)


@pytest.mark.parametrize("option", [dict(privacy_gate=True), dict(dp_epsilon=1.0)])
def test_a_saved_model_with_the_bundled_table_refuses_options_that_need_training(tmp_path,
                                                                                 option):
    with pytest.raises(InputError, match="--model skips training"):
        prepare(RunOptions(model_dir=str(tmp_path / "model"), output_dir=str(tmp_path / "o"),
                           **option))


def test_validation_groups_reach_the_synthesizer_and_stay_with_the_model(small_adult, tmp_path):
    options = RunOptions(**vars(build_parser().parse_args(
        ["--input", str(small_adult), "--schema", str(ADULT_SCHEMA), "--epochs", "1",
         "--output", str(tmp_path / "out"), "--validation-groups", "workclass"])))
    prepared = prepare(options)
    model, _ = steps.fit(prepared.table, prepared.schema, prepared.options, tmp_path / "model",
                         prepared.schema_path)
    assert model.validation_groups_ == "workclass"
    assert Synthesizer.load(tmp_path / "model").validation_groups_ == "workclass"
    assert RunOptions().validation_groups is None
