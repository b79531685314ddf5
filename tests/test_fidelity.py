"""Fidelity and privacy scores on real Adult rows: a few thousand of them, so the file runs fast."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from synthvae.evaluation.fidelity import (
    distance_to_closest_record,
    exact_copies,
    quality,
    score,
    sdmetrics_metadata,
)

DATA = Path(__file__).resolve().parents[1] / "data"
ADULT_NUMERICAL = {
    "age",
    "fnlwgt",
    "education-num",
    "capital-gain",
    "capital-loss",
    "hours-per-week",
}


@pytest.fixture(scope="module")
def adult() -> pd.DataFrame:
    return pd.read_csv(DATA / "adult.csv.gz")


@pytest.fixture(scope="module")
def train(adult) -> pd.DataFrame:
    return adult.sample(3000, random_state=0).reset_index(drop=True)


@pytest.fixture(scope="module")
def test_rows() -> pd.DataFrame:
    """6,000 rows of Adult's official test split: rows no model was trained on."""
    return (
        pd.read_csv(DATA / "adult_test.csv.gz").sample(6000, random_state=0).reset_index(drop=True)
    )


@pytest.fixture(scope="module")
def holdout(test_rows) -> pd.DataFrame:
    return test_rows.iloc[:3000].reset_index(drop=True)


@pytest.fixture(scope="module")
def metadata(train) -> dict:
    return sdmetrics_metadata(train)


def test_metadata_detection_on_adult_matches_yardstick_rules(adult):
    # Numeric with more than 15 distinct values → numerical (education-num has 16);
    # every other column, numeric with few values or string, → categorical.
    sdtypes = {c: m["sdtype"] for c, m in sdmetrics_metadata(adult)["columns"].items()}
    assert sdtypes == {c: "numerical" if c in ADULT_NUMERICAL else "categorical" for c in adult}


def test_metadata_detects_booleans_iso_dates_and_ids(train):
    df = train.assign(
        rich=train["income"].eq(">50K"),
        birth_date=(
            pd.Timestamp("2020-01-01") - pd.to_timedelta(train["age"] * 365, "D")
        ).dt.strftime("%Y-%m-%d"),
        person_id=[f"p{i:05d}" for i in range(len(train))],
        few_values=train["education-num"].clip(upper=10),
    )
    columns = sdmetrics_metadata(df)["columns"]
    assert columns["rich"] == {"sdtype": "boolean"}
    assert columns["birth_date"] == {"sdtype": "datetime", "datetime_format": "%Y-%m-%d"}
    assert columns["person_id"] == {"sdtype": "id"}
    assert columns["few_values"] == {"sdtype": "categorical"}


def test_kinds_override_detection_but_few_valued_numerics_stay_categorical(train):
    kinds = {"fnlwgt": "id", "sex": "constant", "race": "text", "capital-loss": "numeric"}
    columns = sdmetrics_metadata(
        train.assign(**{"capital-loss": train["race"].factorize()[0]}), kinds
    )["columns"]
    assert columns["fnlwgt"]["sdtype"] == "id"
    assert columns["sex"]["sdtype"] == "categorical"
    assert columns["race"]["sdtype"] == "text"
    assert columns["capital-loss"]["sdtype"] == "categorical"  # 5 distinct values
    assert columns["age"]["sdtype"] == "numerical"  # not in kinds: detected
    with pytest.raises(ValueError, match="age.*unknown kind"):
        sdmetrics_metadata(train, {"age": "float"})


def test_real_holdout_scores_high_quality(train, holdout, metadata):
    result = quality(train, holdout, metadata)
    assert result["quality"] > 0.9
    assert set(result["columns"]) == set(train.columns)
    assert result["rows"] == {"real": 3000, "synthetic": 3000}
    scores = [pair["score"] for pair in result["pairs_worst"]]
    assert len(scores) == 5 and scores == sorted(scores)


def test_shuffled_columns_lose_pair_trends_but_keep_shapes(train, holdout, metadata):
    rng = np.random.default_rng(0)
    shuffled = holdout.apply(lambda s: rng.permutation(s.to_numpy()))
    real = quality(train, holdout, metadata)
    broken = quality(train, shuffled, metadata)
    assert broken["column_shapes"] == real["column_shapes"]  # each column is the same multiset
    assert broken["column_pair_trends"] < real["column_pair_trends"] - 0.1


def test_quality_subsamples_each_side_to_max_rows(train, holdout, metadata):
    result = quality(train, holdout, metadata, max_rows=1000)
    assert result["rows"] == {"real": 1000, "synthetic": 1000}


def test_copy_of_training_rows_has_dcr_ratio_near_zero(train, holdout, metadata):
    copied = distance_to_closest_record(train, train.copy(), holdout, metadata)
    assert copied["dcr_synthetic_median"] == 0
    assert copied["dcr_ratio"] < 0.05
    assert copied["share_synthetic_closer"] > 0.9
    assert copied["share_holdout_closer"] == pytest.approx(0.05, abs=0.01)


def test_unseen_real_rows_have_dcr_ratio_near_one(train, test_rows, holdout, metadata):
    unseen = test_rows.iloc[3000:]
    result = distance_to_closest_record(train, unseen, holdout, metadata, n=2000)
    assert 0.8 < result["dcr_ratio"] < 1.25
    assert result["share_synthetic_closer"] < 0.1
    assert result["rows"] == {"train": 3000, "synthetic": 2000, "holdout": 2000}


def test_copy_of_training_rows_is_all_exact_copies(train, holdout, metadata):
    result = exact_copies(train, train.copy(), holdout, metadata)
    assert result["synthetic_copies"] == len(train.drop_duplicates())
    assert result["synthetic_copy_rate"] == 1.0
    assert result["holdout_copy_rate"] < 0.01


def test_exact_copies_ignore_dtype_spelling_and_count_repeats(train, holdout, metadata):
    # The same rows written as floats / nullable ints are still copies; repeats count in
    # the rate but not in the distinct count.
    spelled = train.head(100).astype({"age": float, "fnlwgt": "Int64", "education-num": "Int64"})
    synthetic = pd.concat([spelled, spelled, holdout.head(200)], ignore_index=True)
    result = exact_copies(train, synthetic, holdout, metadata)
    assert result["synthetic_copies"] == 100
    assert result["synthetic_copy_rate"] == pytest.approx(200 / 400)


def test_nullable_int64_columns_score_same_as_int64(train, holdout):
    # NaN-holding int columns arrive as float64 from numpy or as Int64 from a nullable
    # pipeline; SDMetrics pair metrics have returned NaN on Int64, so the spelling of a
    # dtype must never change a score (DCR and exact copies included).
    nullable = dict.fromkeys([c for c in train if pd.api.types.is_integer_dtype(train[c])], "Int64")
    holes = holdout.copy()
    holes.loc[holes.index % 7 == 0, ["age", "hours-per-week", "education-num"]] = np.nan
    plain = score(train, holes, holdout, max_rows=2000)
    spelled = score(
        train.astype(nullable), holes.astype(nullable), holdout.astype(nullable), max_rows=2000
    )
    del plain["seconds"], spelled["seconds"]
    assert spelled == plain
    assert plain["column_pair_trends"] is not None


def test_datetime_strings_are_scored_and_measured(train, holdout):
    def with_dates(df, shift_days=0):
        days = pd.to_timedelta(df["age"] * 365 + df.index % 365 - shift_days, "D")
        return df.assign(birth_date=(pd.Timestamp("2020-01-01") - days).dt.strftime("%Y-%m-%d"))

    train_dated, holdout_dated = with_dates(train), with_dates(holdout)
    metadata_dated = sdmetrics_metadata(train_dated)
    assert quality(train_dated, holdout_dated, metadata_dated)["columns"]["birth_date"] > 0.9
    # Training rows whose dates alone moved by ten years are no longer at distance 0.
    shifted = with_dates(train, shift_days=3650)
    result = distance_to_closest_record(train_dated, shifted, holdout_dated, metadata_dated)
    assert result["dcr_synthetic_median"] > 0.05


def test_score_is_json_serialisable_and_reports_rows(train, holdout):
    result = score(train, holdout, holdout.iloc[:1000], max_rows=2000, seed=1)
    json.dumps(result, allow_nan=False)
    assert result["rows_scored"] == {
        "train": 3000,
        "synthetic": 3000,
        "quality_real": 2000,
        "quality_synthetic": 2000,
        "holdout": 1000,
        "dcr_synthetic": 3000,
        "dcr_holdout": 1000,
    }
    assert {"dcr_ratio", "synthetic_copy_rate", "holdout_copy_rate"} <= set(result["privacy"])
    assert isinstance(result["seconds"], float)


def test_score_without_holdout_has_no_privacy_figures(train, holdout):
    result = score(train.drop(columns="fnlwgt"), holdout, max_rows=1000)
    assert "privacy" not in result and "holdout" not in result["rows_scored"]
    assert "fnlwgt" not in result["columns"]  # extra synthetic columns are ignored


def test_missing_synthetic_column_is_named(train, holdout):
    with pytest.raises(ValueError, match="income"):
        score(train, holdout.drop(columns="income"))


# --- Odd real tables: every legal table scores, a missing figure says why -------------------

SCORING = Path(__file__).resolve().parent / "data" / "scoring"


def _tiny_fit_rows(table: pd.DataFrame, rows: int) -> pd.DataFrame:
    """Real synthetic rows: a one-epoch fit of the table, sampled."""
    from synthvae import Synthesizer

    return Synthesizer(epochs=1, random_state=0).fit(table).sample(rows, random_state=0)


def _wide(rows: int, copies: int = 20, seed: int = 0) -> pd.DataFrame:
    """Adult's 15 columns repeated `copies` times, numbers jittered and 10% of categories
    swapped, so the copies differ: 300 real-looking columns by default."""
    rng = np.random.default_rng(seed)
    adult = pd.read_csv(DATA / "adult.csv.gz", nrows=rows)
    out = {}
    for k in range(copies):
        for name in adult.columns:
            s = adult[name]
            if pd.api.types.is_numeric_dtype(s):
                noise = np.round(rng.normal(0, s.std() * 0.1, rows)).astype(s.dtype)
                out[f"{name}_{k}"] = s + noise
            else:
                swap = rng.random(rows) < 0.1
                out[f"{name}_{k}"] = s.where(~swap, s.sample(frac=1, random_state=k).to_numpy())
    return pd.DataFrame(out)


def test_odd_column_names_are_scored_and_mapped_back():
    table = pd.read_csv(SCORING / "adult_odd_names.csv")
    train, holdout = (table.iloc[:300].reset_index(drop=True),
                      table.iloc[300:].reset_index(drop=True))  # fmt: skip
    result = score(train, _tiny_fit_rows(train, 300), holdout, seed=0)
    json.dumps(result, allow_nan=False)
    odd = {"âge 🎂", "work`class", "index", "sex_diff", 'it\'s "race"'}
    assert odd <= set(result["columns"])
    assert result["quality"] is not None and result["column_pair_trends"] is not None
    named = {c for pair in result["pairs_worst"] for c in pair["columns"]}
    assert named <= set(table.columns)
    assert result["privacy"]["dcr_ratio"] is not None


def test_no_scored_pair_leaves_pair_trends_none_with_the_reason():
    table = pd.read_csv(SCORING / "unpaired.csv")
    result = score(table.iloc[:200], _tiny_fit_rows(table.iloc[:200], 200), table.iloc[200:])
    json.dumps(result, allow_nan=False)
    assert result["column_pair_trends"] is None and result["pairs_counted"] == 0
    assert "real correlation exceeds 0.5" in result["not_available"]["column_pair_trends"]
    assert result["quality"] == result["column_shapes"]  # SDMetrics' mean of what it has
    assert "row id" not in result["columns"]  # an id is not compared


def test_text_only_table_has_no_figures_and_says_why():
    table = pd.read_csv(SCORING / "tweets_text_only.csv", dtype=str)
    result = score(table.iloc[:60], table.iloc[60:].reset_index(drop=True), table.iloc[60:])
    json.dumps(result, allow_nan=False)
    assert result["quality"] is None and result["privacy"]["dcr_ratio"] is None
    assert "every column is an id or text" in result["not_available"]["quality"]
    assert "every column is an id or text" in result["privacy"]["not_available"]["privacy"]


def test_one_scored_column_has_no_pairs_and_says_so(train, holdout, metadata):
    age = {"columns": {"age": {"sdtype": "numerical"}}}
    result = quality(train[["age"]], holdout[["age"]], age)
    assert result["column_pair_trends"] is None and result["quality"] == result["column_shapes"]
    assert "only one column" in result["not_available"]["column_pair_trends"]


def test_narrow_table_quality_equals_sdmetrics_quality_report(train, holdout, metadata):
    from sdmetrics.reports.single_table import QualityReport

    from synthvae.evaluation.fidelity import as_scored, scored_metadata

    scored = scored_metadata(metadata)
    report = QualityReport()
    report.generate(as_scored(train, scored, train), as_scored(holdout, scored, train), scored,
                    verbose=False)  # fmt: skip
    ours = quality(train, holdout, metadata)
    assert ours["subsampled"] == {} and ours["pairs_total"] == 105
    assert ours["quality"] == round(report.get_score(), 4)


def test_wide_table_scores_pairs_among_a_sample_of_columns_and_says_so():
    table = _wide(400)
    train, holdout = (table.iloc[:300].reset_index(drop=True),
                      table.iloc[300:].reset_index(drop=True))  # fmt: skip
    result = score(train, _tiny_fit_rows(train, 300), holdout, seed=0)
    assert len(result["columns"]) == 300  # every column's shape is scored
    pairs = result["subsampled"]["column_pairs"]
    assert pairs["pairs_of"] == 300 * 299 // 2 and pairs["columns_of"] == 300
    assert pairs["pairs_scored"] == result["pairs_total"] == 40 * 39 // 2
    assert result["column_pair_trends"] is not None


def test_cli_finishes_a_table_with_no_scored_pair_and_reports_na(run_cli, tmp_path):
    output = tmp_path / "run"
    done = run_cli("flows.generate", "--input", SCORING / "unpaired.csv", "--rows", 200,
                   "--epochs", 2, "--output", output)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((output / "report.json").read_text())
    assert report["column_pair_trends"] is None
    assert "real correlation" in report["not_available"]["column_pair_trends"]
    assert "column pair trends n/a" in done.stdout
    assert "n/a" in (output / "report.html").read_text()
