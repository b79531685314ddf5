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
        real = ratios[column]
        assert (np.sign(back[np.isinf(back)]) == np.sign(real[np.isinf(real)])).all()
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
    prices = ratios["Sale_Price"].astype(float)
    enc = NumericEncoder("Sale_Price").fit(prices, np.random.default_rng(0))
    found = enc.out_of_support(pd.Series([150_000.0, np.inf, -np.inf]))
    assert [f.rule for f in found] == ["is +inf, which no training row is",
                                       "is -inf, which no training row is"]
    assert found[0].rows.tolist() == [False, True, False]


def test_a_range_condition_takes_in_the_infinity_beyond_its_open_end(ratios):
    enc = NumericEncoder("area_per_garage").fit(ratios["area_per_garage"], np.random.default_rng(0))
    assert enc.specials_ == ["+inf"] and enc.cardinalities == [2]
    assert enc.constrain((5, None)).classes[0].tolist() == [True, True]
    assert enc.constrain((2, 5)).classes[0].tolist() == [True, False]
    matches = enc.constrain((5, None)).matches(pd.Series([np.inf, 4.0, 6.0]))
    assert matches.tolist() == [True, False, True]


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
    ids = 2**60 + 7 + np.arange(40, dtype=np.int64) * 1_000_003  # 2**60 + 7: 2**60 as a float
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


# ------------------------------------------------------------------------- codes and ids


def test_order_ids_keep_their_constant_year_through_fit_save_and_load(pizzas, tmp_path):
    synthesizer = fit(pizzas)
    assert synthesizer.column_kinds_["id"] == "id"
    synthetic = synthesizer.sample(1000, random_state=1)
    assert synthetic["id"].str.fullmatch(r"2015-\d{6}").all()  # not "1721-787776"
    # a few orders have two lines: the ids key groups of rows, one group each, none real
    assert pizzas["id"].duplicated().any()
    ids = synthetic["id"]
    assert (ids != ids.shift()).sum() == ids.nunique() and not ids.isin(set(pizzas["id"])).any()
    loaded = Synthesizer.load(synthesizer.save(tmp_path / "model"))
    pd.testing.assert_frame_equal(loaded.sample(1000, random_state=1), synthetic)


def test_licence_numbers_keep_their_letter():
    pets = read_table(IO_DATA / "seattlepets_cp1252_semicolon.csv")
    enc = IdEncoder("license_number").fit(pets["license_number"], np.random.default_rng(0))
    ids = enc.ids(0, 5000, key=1)
    # the most common shape, its letter kept; the rare id that would be real takes a digit more
    assert ids.str.fullmatch(r"S\d{6,7}").all() and ids.str.fullmatch(r"S\d{6}").mean() > 0.99
    assert ids.str[1:].nunique() == 5000  # the digits vary


def test_a_fixed_part_allows_a_stray_real_id_or_two():
    # Seattle's pet licences: one "C" among 18,905 "S" licences of the same shape
    rng = np.random.default_rng(0)
    licences = pd.Series([f"S{v:06d}" for v in rng.choice(10**6, 3000, replace=False)]
                         + ["C123456"])
    enc = IdEncoder("license_number").fit(licences, rng)
    assert enc.fixed_ == {0: "S"}
    ids = enc.ids(0, 1000, key=1)
    assert ids.str.fullmatch(r"S\d{6,7}").all() and ids.str.fullmatch(r"S\d{6}").mean() > 0.98


def test_a_constant_digit_prefix_is_kept_and_a_counters_leading_zeros_are_not():
    rng = np.random.default_rng(0)
    codes = pd.Series([f"17-{v:06d}" for v in rng.choice(10**6, 3000, replace=False)])
    enc = IdEncoder("case_code").fit(codes, rng)
    ids = enc.ids(0, 2000, key=1)
    assert ids.str.fullmatch(r"17-\d{6,7}").all()  # not "50-509471"
    assert ids.str.fullmatch(r"17-\d{6}").mean() > 0.98
    counter = pd.Series([f"ORD{i:06d}" for i in range(3000)])  # 000000 .. 002999
    enc = IdEncoder("order").fit(counter, rng)
    ids = enc.ids(0, 2000, key=1)
    assert ids.str.fullmatch(r"ORD\d{6,7}").all() and ids.str.fullmatch(r"ORD\d{6}").mean() > 0.98
    assert (ids.str[3:5] != "00").mean() > 0.9  # the zeros were padding, not a fixed part


def test_a_fixed_part_that_would_leave_too_little_room_stays_free():
    narrow = pd.Series([f"C-{i:03d}" for i in range(900)])  # 900 of the 1,000 "C-ddd"
    enc = IdEncoder("narrow").fit(narrow, np.random.default_rng(0))
    assert enc.fixed_ == {}
    assert enc.ids(0, 1000, key=1).str.fullmatch(r"[0-9A-F]-\d{3}").mean() > 0.9


def test_id_models_saved_before_fixed_parts_load_with_none():
    enc = IdEncoder("case_code").fit(pd.Series([f"17-{v:06d}" for v in range(100, 3100)]),
                                     np.random.default_rng(0))
    meta, arrays = enc.state()
    del meta["fixed"]
    old = IdEncoder.from_state(meta, arrays)
    assert old.fixed_ == {} and old.ids(0, 10, key=1).str.fullmatch(r"\d{2}-\d{6}").all()


# ------------------------------------------------------------------------ leading zeros


def test_zip_codes_come_back_as_strings_of_their_width():
    towns = read_table(IO_DATA / "new_england_zips.csv")
    table = pd.concat([towns] * 20, ignore_index=True)
    synthetic = fit(table).sample(500, random_state=1)
    zips = synthetic["zip"].dropna()
    assert synthetic["zip"].dtype == object and len(zips) > 400
    assert zips.isin(set(towns["zip"].dropna())).all()
    assert zips.str.startswith("0").mean() > 0.5


def test_coordinates_keep_their_seven_decimals():
    # Ames' house locations, as the source gives them
    longitude = pd.Series([-93.6428531, -93.692135, -93.643862, -93.6289845, -93.6500162,
                           -93.6913834, -93.6123427, -93.6391037] * 5)
    rng = np.random.default_rng(0)
    enc = NumericEncoder("Longitude").fit(longitude, rng)
    z = rng.standard_normal((500, 1)).astype(np.float32)
    out = enc.decode(z, np.zeros((500, 0), np.int64), rng)
    assert enc.decimals_ == 7
    assert (out.map(repr).str.split(".").str[1].str.len() <= 7).all()
