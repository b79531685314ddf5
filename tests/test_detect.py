"""flows.detect through its command line, as a user runs it."""
import json

import pandas as pd
import pytest

from synthvae import Synthesizer
from test_synthesizer import ADULT, QUICK


@pytest.fixture(scope="module")
def adult() -> pd.DataFrame:
    return pd.read_csv(ADULT).sample(1500, random_state=3).reset_index(drop=True)


@pytest.fixture(scope="module")
def model_dir(adult, tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "adult"
    Synthesizer(epochs=15, random_state=0, **QUICK).fit(adult).save(path)
    return path


@pytest.fixture(scope="module")
def planted(adult, tmp_path_factory):
    """300 real rows with two impossible ones planted: an age of 400 and a sex never seen
    (subtler anomalies are tested on the library in test_anomaly.py)."""
    rows = adult.head(300).copy()
    rows.loc[10, "age"] = 400
    rows.loc[20, "sex"] = "Unknown"
    path = tmp_path_factory.mktemp("input") / "planted.csv"
    rows.to_csv(path, index=False)
    return path, {10, 20}


def test_detect_ranks_planted_rows_first_and_explains_them(run_cli, model_dir, planted, tmp_path):
    path, expected = planted
    out = tmp_path / "anomalies.csv"
    result = run_cli("flows.detect", "--input", path, "--model", model_dir, "--top", "10",
                     "--output", out)
    assert result.returncode == 0, result.stderr[-3000:]
    ranked = pd.read_csv(out)
    assert len(ranked) == 10 and list(ranked["rank"]) == list(range(1, 11))
    assert ranked["anomaly_score"].is_monotonic_decreasing
    assert set(ranked["row"].head(2)) == expected
    why = dict(zip(ranked["row"], ranked["why"]))
    assert why[10].startswith("age") and why[20].startswith("sex")
    assert {"nats:age", "nats:sex", "nats:(latent)"} <= set(ranked.columns)
    assert json.loads(out.with_suffix(".json").read_text())["rows_ranked"] == 10
    assert "Wrote the 10 most unusual rows" in result.stdout


def test_detect_refuses_a_table_with_other_columns(run_cli, model_dir, adult, tmp_path):
    path = tmp_path / "other.csv"
    adult.drop(columns="income").head(20).to_csv(path, index=False)
    result = run_cli("flows.detect", "--input", path, "--model", model_dir)
    assert result.returncode == 2
    assert "missing ['income']" in result.stderr and "Traceback" not in result.stderr


def test_detect_refuses_a_cut_short_model_in_one_line(run_cli, model_dir, planted, tmp_path):
    broken = tmp_path / "model"
    broken.mkdir()
    for part in model_dir.iterdir():
        (broken / part.name).write_bytes(part.read_bytes())
    weights = (broken / "model.safetensors").read_bytes()
    (broken / "model.safetensors").write_bytes(weights[:len(weights) // 2])
    result = run_cli("flows.detect", "--input", planted[0], "--model", broken)
    assert result.returncode == 2, result.stderr[-2000:]
    assert f"{broken / 'model.safetensors'} cannot be read" in result.stderr
    assert "Traceback" not in result.stderr


def test_detect_refuses_an_output_it_cannot_write_before_scoring(run_cli, model_dir, planted):
    path, _ = planted  # a file: nothing can be written beneath it
    result = run_cli("flows.detect", "--input", path, "--model", model_dir,
                     "--output", path / "anomalies.csv")
    assert result.returncode == 2, result.stderr[-2000:]
    assert f"cannot write {path / 'anomalies.csv'}" in result.stderr
    assert "is a file, not a folder" in result.stderr and "Traceback" not in result.stderr
