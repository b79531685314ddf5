"""The classifier two-sample test on real Adult rows: real against real is near 0.5, rows with
one column broken are told apart, and that column is named as the giveaway."""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from synthvae.evaluation.detection import detection
from synthvae.evaluation.fidelity import sdmetrics_metadata

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture(scope="module")
def halves() -> tuple[pd.DataFrame, pd.DataFrame]:
    adult = pd.read_csv(DATA / "adult.csv.gz").sample(4000, random_state=0)
    return adult.iloc[:2000].reset_index(drop=True), adult.iloc[2000:].reset_index(drop=True)


def test_real_rows_against_real_rows_score_near_one_half(halves):
    real, other = halves
    found = detection(real, other, sdmetrics_metadata(real))
    assert 0.42 <= found["auc"] <= 0.58, found
    assert found["rows"] == 2000 and found["seconds"] >= 0


def test_a_broken_relationship_is_told_apart_and_its_columns_named(halves):
    """Each marginal kept, one relationship broken: education-num no longer follows
    education. Quality's pair trends read it weakly; the trees read it at once."""
    real, other = halves
    broken = other.copy()
    broken["education-num"] = np.random.default_rng(0).permutation(broken["education-num"])
    found = detection(real, broken, sdmetrics_metadata(real))
    assert found["auc"] >= 0.75, found
    named = [g["column"] for g in found["giveaways"]]
    assert named and named[0] in ("education-num", "education"), found["giveaways"]


def test_ids_and_text_alone_cannot_be_compared():
    ids = pd.DataFrame({"id": [f"row-{i}" for i in range(100)]})
    found = detection(ids, ids, {"columns": {"id": {"sdtype": "id"}}})
    assert found["auc"] is None and "id or text" in found["not_available"]


def test_too_few_rows_to_split_into_folds_are_not_scored(halves):
    real, other = halves
    found = detection(real.head(10), other.head(10), sdmetrics_metadata(real))
    assert found["auc"] is None and "at least 20" in found["not_available"]


def test_dates_infinities_and_nulls_are_features_not_errors():
    rng = np.random.default_rng(0)
    days = pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 365, 400), unit="D")
    real = pd.DataFrame({"when": days.strftime("%Y-%m-%dT%H:%M:%SZ"),
                         "x": rng.normal(size=400)})
    real.loc[::7, "x"] = np.nan
    real.loc[3, "x"] = np.inf
    late = real.copy()
    late["when"] = (days + pd.Timedelta(days=200)).strftime("%Y-%m-%dT%H:%M:%SZ")
    found = detection(real, late, sdmetrics_metadata(real))
    assert found["auc"] >= 0.7 and found["giveaways"][0]["column"] == "when", found


def test_real_rows_name_no_giveaway(halves):
    real, other = halves
    assert detection(real, other, sdmetrics_metadata(real))["giveaways"] == []


def test_a_column_null_everywhere_is_left_out_not_an_error(halves):
    real, other = halves
    real, other = real.assign(empty=np.nan), other.assign(empty=np.nan)
    found = detection(real, other, sdmetrics_metadata(real))
    assert 0.42 <= found["auc"] <= 0.58


def test_nothing_but_null_columns_is_not_scored():
    empty = pd.DataFrame({"x": [np.nan] * 50})
    found = detection(empty, empty, {"columns": {"x": {"sdtype": "numerical"}}})
    assert found["auc"] is None and "null throughout" in found["not_available"]
