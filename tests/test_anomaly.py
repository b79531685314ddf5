"""Anomaly scores: rows whose columns disagree score higher than the same rows intact, the
explanation points at the columns, and rows outside the schema are refused or scored."""
import numpy as np
import pandas as pd
import pytest

from synthvae import Synthesizer
from synthvae.schema import SchemaViolation
from test_synthesizer import ADULT, QUICK

ADULT_TEST = ADULT.with_name("adult_test.csv.gz")


@pytest.fixture(scope="module")
def adult() -> pd.DataFrame:
    return pd.read_csv(ADULT).sample(4000, random_state=2).reset_index(drop=True)


@pytest.fixture(scope="module")
def fitted(adult) -> Synthesizer:
    return Synthesizer(epochs=50, random_state=0, **QUICK).fit(adult)


@pytest.fixture(scope="module")
def husbands(adult) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Real married men, and the same rows turned into female husbands (each value common
    on its own, together almost never seen)."""
    clean = adult[(adult["relationship"] == "Husband")].head(200).reset_index(drop=True)
    broken = clean.copy()
    broken["sex"] = "Female"
    return clean, broken


def test_scores_are_finite_nats_indexed_like_the_rows(adult, fitted):
    rows = adult.head(300).set_axis(range(1000, 1300))
    scores = fitted.anomaly_score(rows)
    assert isinstance(scores, pd.Series) and list(scores.index) == list(rows.index)
    assert np.isfinite(scores).all()
    assert scores.std() > 0.5  # rows differ in how typical they are


def test_rows_with_inconsistent_columns_score_higher_than_intact_ones(fitted, husbands):
    clean, broken = husbands
    before, after = fitted.anomaly_score(clean), fitted.anomaly_score(broken)
    assert (after > before).mean() > 0.9
    assert (after - before).median() > 2.0  # nats: several times less likely


def test_explanation_sums_to_the_score_and_names_the_broken_columns(fitted, husbands):
    _, broken = husbands
    parts = fitted.explain_anomaly(broken)
    scores = fitted.anomaly_score(broken)
    assert list(parts.columns) == list(broken.columns) + ["(latent)"]
    np.testing.assert_allclose(parts.sum(axis=1), scores, rtol=1e-6, atol=1e-6)
    columns = parts.drop(columns="(latent)")
    assert columns.idxmax(axis=1).isin(["sex", "relationship"]).mean() > 0.5
    top3 = columns.apply(lambda row: set(row.nlargest(3).index), axis=1)
    assert top3.apply(lambda names: bool(names & {"sex", "relationship"})).mean() > 0.9


def test_scoring_is_reproducible_with_its_random_state(adult, fitted):
    rows = adult.head(100)
    pd.testing.assert_series_equal(fitted.anomaly_score(rows, random_state=3),
                                   fitted.anomaly_score(rows, random_state=3))


def test_values_outside_the_training_support_are_refused_with_validate(adult, fitted):
    rows = adult.head(3).copy()
    rows.loc[1, "age"] = 300
    rows.loc[2, "sex"] = "Banana"
    with pytest.raises(SchemaViolation) as err:
        fitted.anomaly_score(rows, validate=True)
    message = str(err.value)
    assert "age" in message and "300" in message and "outside the training range" in message
    assert "sex" in message and "Banana" in message
    assert {p["column"] for p in err.value.problems} == {"age", "sex"}


def test_by_default_such_values_are_scored_and_further_out_scores_higher(adult, fitted):
    rows = pd.concat([adult.head(1)] * 4, ignore_index=True)
    rows.loc[1, "age"] = 95
    rows.loc[2, "age"] = 300
    rows.loc[3, "sex"] = "Banana"
    scores = fitted.anomaly_score(rows)
    pd.testing.assert_series_equal(scores, fitted.anomaly_score(rows, validate=False))
    assert scores[0] < scores[1] < scores[2]
    assert scores[3] > scores[0] + 5
    parts = fitted.explain_anomaly(rows)
    assert parts.loc[2].drop("(latent)").idxmax() == "age"
    assert parts.loc[3].drop("(latent)").idxmax() == "sex"


def test_rows_with_other_columns_raise_naming_them(adult, fitted):
    with pytest.raises(ValueError, match="missing \\['income'\\]"):
        fitted.anomaly_score(adult.drop(columns="income").head(5))
    with pytest.raises(ValueError, match="unexpected \\['extra'\\]"):
        fitted.anomaly_score(adult.head(5).assign(extra=1))


def test_real_test_rows_just_outside_the_training_range_are_scored_high(adult, fitted):
    """Real rows of the Adult test split with a number beyond what the training rows
    showed (fnlwgt 1,490,400 among them) are scored, above the same rows brought back
    into range; only validate=True refuses them."""
    test = pd.read_csv(ADULT_TEST)
    numbers = ["age", "fnlwgt", "capital-gain", "capital-loss", "hours-per-week"]
    low, high = adult[numbers].min(), adult[numbers].max()
    outside = ((test[numbers] < low) | (test[numbers] > high)).any(axis=1)
    rows = test[outside].head(50)
    assert 1_490_400 in set(rows["fnlwgt"]) and len(rows) >= 10
    scores = fitted.anomaly_score(rows)
    assert np.isfinite(scores).all() and list(scores.index) == list(rows.index)
    in_range = rows.assign(**{c: rows[c].clip(low[c], high[c]) for c in numbers})
    assert (scores > fitted.anomaly_score(in_range)).all()
    with pytest.raises(SchemaViolation, match="fnlwgt.*1490400"):
        fitted.anomaly_score(rows, validate=True)


def test_a_value_never_seen_in_a_constant_column_adds_surprise(adult):
    rows = adult.head(300).assign(survey=2024)
    fitted = Synthesizer(epochs=2, random_state=0, **QUICK).fit(rows)
    odd = rows.head(3).copy()
    odd.loc[1, "survey"] = 2025
    odd["survey"] = odd["survey"].astype("float64")
    odd.loc[2, "survey"] = np.nan
    scores = fitted.anomaly_score(odd)
    assert scores[1] > scores[0] + 50 and scores[2] > scores[0] + 50
    assert fitted.explain_anomaly(odd).loc[1].drop("(latent)").idxmax() == "survey"
    with pytest.raises(SchemaViolation, match="survey: is constant in the training rows"):
        fitted.anomaly_score(odd, validate=True)
