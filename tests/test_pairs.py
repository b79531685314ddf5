"""Column pair trends in numpy (synthvae.evaluation.pairs): the statistics on inputs whose
answer is known, and the whole pair_trends table against SDMetrics' own on the same rows."""

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats.contingency import association

from synthvae.evaluation.fidelity import sdmetrics_metadata
from synthvae.evaluation.pairs import (
    category_codes,
    contingency_similarity,
    correlation_similarity,
    cramers_v,
    discretize,
    pair_trends,
    pearson,
)

with warnings.catch_warnings():
    warnings.simplefilter("ignore", FutureWarning)
    from sdmetrics.reports.single_table import QualityReport

DATA = Path(__file__).resolve().parents[1] / "data"


def test_pearson_is_one_for_a_line_minus_one_for_a_falling_line_and_near_zero_when_independent():
    rng = np.random.default_rng(0)
    x = rng.normal(size=20_000)
    r = pearson(np.column_stack([x, 3 * x + 2, -x, rng.normal(size=x.size)]))
    assert r[0, 1] == pytest.approx(1) and r[0, 2] == pytest.approx(-1)
    assert abs(r[0, 3]) < 0.03
    assert np.allclose(np.diag(r), 1) and np.allclose(r, r.T)


def test_pearson_skips_rows_with_a_null_pair_by_pair_and_a_constant_column_is_undefined():
    x = np.array([1.0, 2.0, 3.0, 4.0, np.nan])
    y = np.array([2.0, 4.0, 6.0, np.nan, 100.0])  # a line on the rows both have
    z = np.array([1.0, 4.0, 2.0, 3.0, 5.0])
    r = pearson(np.column_stack([x, y, z, np.full(5, 7.0)]))
    assert r[0, 1] == pytest.approx(1)
    assert r[0, 2] == pytest.approx(np.corrcoef(x[:4], z[:4])[0, 1])
    assert np.isnan(r[0, 3]) and np.isnan(r[2, 3])


def test_correlation_similarity_is_one_minus_half_the_gap_elementwise():
    assert correlation_similarity(0.8, 0.2) == pytest.approx(0.7)
    assert correlation_similarity(1.0, -1.0) == pytest.approx(0.0)
    assert np.allclose(correlation_similarity([0.5, 0.1], [0.5, 0.3]), [1.0, 0.9])
    assert np.isnan(correlation_similarity(np.nan, 0.3))


def test_cramers_v_is_one_when_a_column_decides_the_other_and_zero_when_independent():
    x = np.repeat(np.arange(4), 50)
    assert cramers_v(x, x) == pytest.approx(1)
    assert cramers_v(x, (x + 1) % 4) == pytest.approx(1)  # relabelled: still decided
    # Every (x, y) combination equally often: independent, exactly.
    grid_x, grid_y = np.meshgrid(np.arange(3), np.arange(5))
    assert cramers_v(np.tile(grid_x.ravel(), 4), np.tile(grid_y.ravel(), 4)) == pytest.approx(0)
    rng = np.random.default_rng(1)
    assert cramers_v(rng.integers(0, 4, 50_000), rng.integers(0, 6, 50_000)) < 0.02
    assert np.isnan(cramers_v(np.zeros(10, int), np.arange(10)))  # one value: undefined


def test_cramers_v_is_scipys_and_skips_codes_that_do_not_occur():
    rng = np.random.default_rng(2)
    x, y = rng.integers(0, 5, 400), rng.integers(0, 3, 400)
    y[x == 0] = 2  # some association
    table = np.zeros((5, 3), dtype=int)
    np.add.at(table, (x, y), 1)
    assert cramers_v(x, y) == pytest.approx(association(table, method="cramer"))
    assert cramers_v(x * 7, y + 10) == pytest.approx(cramers_v(x, y))  # empty rows and columns


def test_contingency_similarity_is_one_minus_the_total_variation_distance():
    a = np.array([0, 0, 1, 1])
    b = np.array([0, 1, 0, 1])
    assert contingency_similarity(a, b, a[::-1], b[::-1]) == pytest.approx(1)  # same table
    # Real: (0,0) and (1,1) half each; synthetic: (0,0) always. TVD 0.5.
    assert contingency_similarity([0, 1], [0, 1], [0, 0], [0, 0]) == pytest.approx(0.5)
    assert contingency_similarity([0, 0], [0, 0], [1, 1], [1, 1]) == pytest.approx(0)  # disjoint
    assert np.isnan(contingency_similarity([0], [0], [], []))


def test_contingency_similarity_of_many_categories_counts_only_the_cells_that_occur():
    rng = np.random.default_rng(3)
    x, y = rng.integers(0, 3000, 2000), rng.integers(0, 3000, 2000)  # 9M cells, 2,000 used
    assert contingency_similarity(x, y, x, y) == pytest.approx(1)
    assert contingency_similarity(x, y, x, (y + 1) % 3000) == pytest.approx(0)


def test_discretize_cuts_ten_equal_bins_and_puts_null_with_the_maximum_as_sdmetrics_does():
    codes = discretize(np.array([0.0, 0.5, 1.0, 5.0, 9.99, 10.0, np.nan]))
    assert codes.tolist() == [1, 1, 2, 6, 10, 11, 11]
    assert discretize(np.array([1.0, np.inf])) is None


def test_category_codes_are_shared_by_both_tables_with_null_a_value_of_its_own():
    real, synthetic = category_codes(pd.Series(["a", None, "b"]), pd.Series(["b", np.nan, "c"]))
    assert real[0] != real[2] and real[2] == synthetic[0] and real[1] == synthetic[1]
    assert len(set(real.tolist() + synthetic.tolist())) == 4
    assert category_codes(pd.Series([[1], [2]]), pd.Series([[1]])) is None  # unhashable


def _tables():
    real = pd.read_csv(DATA / "adult.csv.gz").sample(3000, random_state=0).reset_index(drop=True)
    rng = np.random.default_rng(1)
    synthetic = real.sample(2500, replace=True, random_state=1).reset_index(drop=True)
    synthetic["age"] = synthetic["age"] + rng.integers(-5, 6, len(synthetic))
    synthetic.loc[rng.random(len(synthetic)) < 0.1, "hours-per-week"] = np.nan
    real.loc[rng.random(len(real)) < 0.05, "workclass"] = None
    for frame, spread in ((real, 30), (synthetic, 300)):
        days = frame["age"] * 7 + rng.integers(0, spread, len(frame))
        frame["when"] = pd.Timestamp("2020-01-01") + pd.to_timedelta(days, "D")
    return real, synthetic


def test_pair_trends_are_sdmetrics_column_pair_trends():
    real, synthetic = _tables()
    metadata = sdmetrics_metadata(real)
    ours = pair_trends(real, synthetic, metadata)
    report = QualityReport()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report.generate(real, synthetic, metadata, verbose=False)
    theirs = report.get_details("Column Pair Trends")
    both = ours.merge(theirs, left_on=["column_1", "column_2"], right_on=["Column 1", "Column 2"])
    assert len(both) == len(ours) == len(theirs) == 16 * 15 // 2
    assert (both["metric"] == both["Metric"]).all()
    assert set(both["metric"]) == {"CorrelationSimilarity", "ContingencySimilarity"}
    # SDMetrics scores only the pairs it counts; those scores are ours to 1e-12.
    assert (both["counted"] == both["Score"].notna()).all() and both["counted"].sum() > 5
    counted = both[both["counted"]]
    assert np.allclose(counted["score"], counted["Score"], atol=1e-12)
    correlation = both[both["metric"] == "CorrelationSimilarity"]
    assert np.allclose(correlation["real"], correlation["Real Correlation"], atol=1e-12)
    contingency = both[both["metric"] == "ContingencySimilarity"]
    assert np.allclose(contingency["real"], contingency["Real Association"], atol=1e-12)
    assert ours["score"].between(0, 1).all()
