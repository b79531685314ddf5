"""Values keep their form through fit and sample: codes their fixed parts, zip codes their
leading zeros, prices their cents, big integers their exactness, infinities their rate."""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from synthvae import Synthesizer
from synthvae.columns import IdEncoder, NumericEncoder
from synthvae.io import read_table
from synthvae.schema import infer_schema, validate

IO_DATA = Path(__file__).resolve().parent / "data" / "io"


def fit(table: pd.DataFrame, epochs: int = 2) -> Synthesizer:
    return Synthesizer(epochs=epochs, random_state=0).fit(table)


# ------------------------------------------------------------------------- infinities


@pytest.fixture(scope="module")
def ratios() -> pd.DataFrame:
    # Ames house sales with two derived columns: living area per garage area (+inf for the
    # houses without a garage) and the log of the veneer area (-inf for those without).
    return read_table(IO_DATA / "ames_ratios.csv")


def test_infinities_round_trip_through_the_numeric_encoder(ratios):
    rng = np.random.default_rng(0)
    for column in ("area_per_garage", "log_mas_vnr_area"):
        enc = NumericEncoder(column).fit(ratios[column], rng)
        part = enc.encode(ratios[column])
        assert np.isfinite(part.continuous).all()
        back = enc.decode(part.continuous, part.discrete, rng)
        pd.testing.assert_series_equal(np.isinf(back), np.isinf(ratios[column]))
        assert (np.sign(back[np.isinf(back)]) == np.sign(ratios[column][np.isinf(ratios[column])])).all()
        assert np.isfinite(enc.quantiles_).all()


def test_infinities_are_learned_and_written_back_at_their_rate(ratios):
    synthetic = fit(ratios, epochs=30).sample(2000, random_state=1)
    negative = np.isneginf(synthetic["log_mas_vnr_area"]).mean()
    positive = np.isposinf(synthetic["area_per_garage"]).mean()
    assert abs(negative - np.isneginf(ratios["log_mas_vnr_area"]).mean()) < 0.1
    assert 0 < positive < 0.12  # 4% of the real rows
    assert not synthetic.isna().any().any()  # no null invented where there was none
    finite = synthetic["area_per_garage"][np.isfinite(synthetic["area_per_garage"])]
    real = ratios["area_per_garage"][np.isfinite(ratios["area_per_garage"])]
    assert real.min() <= finite.min() and finite.max() <= real.max()


def test_an_infinity_never_seen_in_training_is_out_of_support(ratios):
    enc = NumericEncoder("Sale_Price").fit(ratios["Sale_Price"].astype(float), np.random.default_rng(0))
    found = enc.out_of_support(pd.Series([150_000.0, np.inf, -np.inf]))
    assert [f.rule for f in found] == ["is +inf, which no training row is",
                                       "is -inf, which no training row is"]
    assert found[0].rows.tolist() == [False, True, False]


def test_numeric_models_saved_before_infinities_load_with_their_null_flag():
    enc = NumericEncoder("age").fit(pd.Series([20.0, None, 35.0, 50.0]), np.random.default_rng(0))
    meta, arrays = enc.state()
    for newer in ("specials", "whole_range"):
        del meta[newer]
    old = NumericEncoder.from_state(meta, arrays)
    assert old.specials_ == ["null"] and old.cardinalities == [2]


# --------------------------------------------------------------------------- integers


def test_integers_beyond_2_53_decode_exactly_within_their_range():
    # float64 holds 2**60 + 7 as 2**60: a float bound would let values fall below the minimum
    real = pd.Series(2**60 + np.array([7, 1_000_003, 5_000_017, 2**58 + 11] * 8), dtype="int64")
    rng = np.random.default_rng(0)
    enc = NumericEncoder("user").fit(real, rng)
    z = rng.standard_normal((5000, 1)).astype(np.float32) * 3  # far past both ends, too
    out = enc.decode(z, np.zeros((5000, 0), np.int64), rng)
    assert out.dtype == "int64"
    # the float grid's ends, 2**60 and 2**60 + 2**58, are 7 below and 11 below the real ones
    assert out.min() == real.min() and out.max() == real.max()
    assert out.between(real.min(), real.max()).all()
    assert out.nunique() > 4  # spread over the range, not stuck at the ends


def test_int64_extremes_decode_without_overflow():
    real = pd.Series([np.iinfo(np.int64).min, -5, 0, 7, np.iinfo(np.int64).max] * 5, dtype="int64")
    rng = np.random.default_rng(0)
    enc = NumericEncoder("x").fit(real, rng)
    out = enc.decode(np.array([[-9.0], [0.0], [9.0]], np.float32), np.zeros((3, 0), np.int64), rng)
    assert out.tolist()[0] == real.min() and out.tolist()[-1] == real.max()


def test_big_integers_with_gaps_stay_exact_int64_through_a_fit(tmp_path):
    # trump_tweets' reply-to user ids, nullable, scaled past 2**53 as tweet ids are
    ids = 2**60 + np.arange(40, dtype=np.int64) * 1_000_003
    table = pd.DataFrame({"reply_to": pd.array(list(ids[:20]) + [None] * 5 + list(ids[20:]) * 2,
                                               dtype="Int64")})
    table["likes"] = np.arange(len(table)) % 7
    synthetic = fit(table).sample(300, random_state=1)
    assert synthetic["reply_to"].dtype == "Int64"
    observed = synthetic["reply_to"].dropna()
    assert observed.min() >= table["reply_to"].min() and observed.max() <= table["reply_to"].max()
    validate(synthetic, infer_schema(table, name="replies"), what="synthetic rows")


# --------------------------------------------------------------------------- decimals


@pytest.fixture(scope="module")
def pizzas() -> pd.DataFrame:
    return read_table(IO_DATA / "pizzaplace_400.csv")


def test_prices_keep_their_cents(pizzas):
    synthetic = fit(pizzas).sample(500, random_state=1)
    cents = np.round(synthetic["price"] * 100)
    assert np.allclose(synthetic["price"] * 100, cents, atol=1e-6)
    assert (synthetic["price"] * 100 % 5 == 0).mean() > 0.9  # pizzaplace prices step by 0.05
    assert synthetic["price"].between(pizzas["price"].min(), pizzas["price"].max()).all()
