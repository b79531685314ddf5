"""Class shares of sampled rows are pulled to the training rows' after training."""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from synthvae import Synthesizer
from synthvae.calibration import calibrate_marginals

ADULT = Path(__file__).resolve().parents[1] / "data" / "adult.csv.gz"


@pytest.fixture(scope="module")
def adult() -> pd.DataFrame:
    return pd.read_csv(ADULT).sample(3000, random_state=0).reset_index(drop=True)


def shares(df: pd.DataFrame, column: str) -> pd.Series:
    return df[column].value_counts(normalize=True, dropna=False)


def test_a_head_pushed_off_its_shares_is_pulled_back(adult):
    """Push sex's head hard toward one class, as a mismatched prior would, and calibrate."""
    model = Synthesizer(epochs=5, random_state=0, calibrate=False).fit(adult)
    slot = model.encoder_.columns_per_slot().index("sex")
    with torch.no_grad():
        model.model_.heads.discrete_heads[slot].bias[0] += 3.0
    drifted = shares(model.sample(20_000, random_state=1), "sex")
    real = shares(adult, "sex")
    assert (drifted - real).abs().max() > 0.1  # the push shows

    encoded = model.encoder_.encode(adult, np.random.default_rng(0))[1]
    found = calibrate_marginals(model.model_, model.prior_, encoded, seed=0)
    after = shares(model.sample(20_000, random_state=1), "sex")
    assert (after - real).abs().max() < 0.015, (after, real)
    assert found["max_share_gap_after"] < found["max_share_gap_before"]


def test_fit_calibrates_by_default_and_reports_the_gaps(adult):
    model = Synthesizer(epochs=5, random_state=0).fit(adult)
    gaps = model.calibration_
    assert gaps["max_share_gap_after"] <= gaps["max_share_gap_before"]
    rows = model.sample(20_000, random_state=2)
    for column in ("workclass", "income", "race"):
        gap = (shares(rows, column) - shares(adult, column)).abs().max()
        assert gap < 0.02, column


def test_calibration_keeps_the_same_seed_giving_the_same_rows(adult):
    first = Synthesizer(epochs=3, random_state=4).fit(adult).sample(500, random_state=0)
    again = Synthesizer(epochs=3, random_state=4).fit(adult).sample(500, random_state=0)
    pd.testing.assert_frame_equal(first, again)
