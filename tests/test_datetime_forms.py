"""Date, time and timestamp forms: every value comes back in its column's format, padding and
zone, from slices of real tables (tests/data/forms/, 300 rows each)."""
import datetime
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from synthvae import Synthesizer
from synthvae.columns import (ConditionError, DatetimeEncoder, TableEncoder, TimeOfDayEncoder,
                              UnsupportedColumnError, detect_time_format)
from synthvae.kinds import detect_kind
from synthvae.columns.datetime import detect_format, pandas_format, parse, write

FORMS = Path(__file__).resolve().parent / "data" / "forms"

# Every date or time column of the slices, with the format it must be read in.
COLUMNS = {
    ("nyc_weather", "time_hour"): "%Y-%m-%dT%H:%M:%SZ",
    ("spam_email", "time"): "%Y-%m-%dT%H:%M:%SZ",
    ("trump_tweets", "created_at"): "%Y-%m-%dT%H:%M:%SZ",
    ("birds", "date"): "%-m/%-d/%Y %-H:%M:%S",
    ("police_force", "response_datetime"): "%Y/%m/%d %H:%M:%S",
    ("city_weather", "date"): "%Y-%m-%d",
    ("hotel_rates", "arrival_date"): "%Y-%m-%d",
    ("seattlepets", "license_issue_date"): "%Y-%m-%d",
    ("pizzaplace", "date"): "%Y-%m-%d",
    ("pizzaplace", "time"): "%H:%M:%S",
}
TABLES = sorted({table for table, _ in COLUMNS})


def table(name: str) -> pd.DataFrame:
    return pd.read_csv(FORMS / f"{name}.csv")


def fitted(encoder_cls, s: pd.Series, seed: int = 0):
    return encoder_cls(name=s.name).fit(s, np.random.default_rng(seed))


def round_trip(enc, s: pd.Series) -> pd.Series:
    encoded = enc.encode(s)
    return enc.decode(encoded.continuous, encoded.discrete, np.random.default_rng(1))


def assert_round_trip(enc, s: pd.Series, fmt: str) -> None:
    """Seen values come back in the same form, as the same instants: exactly for dates; for
    finer columns to within what float32 model features hold over the column's span
    (a second or so over years)."""
    back = round_trip(enc, s)
    assert back.dtype == s.dtype and (back.isna() == s.isna()).all()
    assert in_form(back.dropna(), fmt).all()
    parsed, real = parse(back, fmt), parse(s, fmt)
    span = (real.max() - real.min()).total_seconds()
    tolerance = pd.Timedelta(seconds=0 if enc.step_ >= 86400 else max(enc.step_, 2e-7 * span))
    assert (parsed - real).abs().max() <= tolerance


def generated(enc, n: int = 2000, seed: int = 2) -> pd.Series:
    """Values decoded from standard normal noise: what an untrained model could produce."""
    rng = np.random.default_rng(seed)
    continuous = rng.standard_normal((n, enc.n_continuous)).astype(np.float32)
    discrete = np.column_stack([rng.integers(0, c, n) for c in enc.cardinalities]) \
        if enc.cardinalities else np.zeros((n, 0), np.int64)
    return enc.decode(continuous, discrete, np.random.default_rng(seed + 1))


def in_form(values: pd.Series, fmt: str) -> pd.Series:
    """Whether each string is exactly what the format writes for the instant it parses to:
    the same fields, padding, fraction width and zone notation, not merely parsable."""
    parsed = parse(values, fmt)
    ok = parsed.notna()
    offsets = values.str.extract(r"([+-]\d\d:?\d\d)$")[0] if fmt.endswith("z") else None
    again = pd.Series(False, index=values.index)
    if ok.any():
        ns = parsed[ok].to_numpy(dtype="datetime64[ns]").astype("int64")
        if offsets is not None:  # each value compared in its own offset
            minutes = offsets[ok].str.replace(":", "").map(
                lambda z: (1 if z[0] == "+" else -1) * (int(z[1:3]) * 60 + int(z[3:5])))
            texts = [write(np.array([n + m * 60_000_000_000]), fmt, m)[0]
                     for n, m in zip(ns, minutes)]
        else:
            texts = write(ns, fmt)
        again[ok] = np.asarray(texts, dtype=object) == values[ok].to_numpy(dtype=object)
    return again


@pytest.mark.parametrize("key", sorted(COLUMNS), ids="/".join)
def test_real_date_columns_are_detected_with_their_exact_format(key):
    name, column = key
    s = table(name)[column]
    fmt = COLUMNS[key]
    kind = "time" if column == "time" and name == "pizzaplace" else "datetime"
    assert detect_kind(s) == kind
    detected = detect_time_format(s) if kind == "time" else detect_format(s)
    assert detected == fmt
    # The format is the column's own form: every real value is a fixed point of it.
    assert in_form(s.dropna(), fmt).all()


@pytest.mark.parametrize("key", sorted(COLUMNS), ids="/".join)
def test_real_date_columns_round_trip_and_generate_in_their_form(key):
    name, column = key
    s = table(name)[column]
    fmt = COLUMNS[key]
    enc = fitted(TimeOfDayEncoder if fmt == "%H:%M:%S" else DatetimeEncoder, s)
    assert_round_trip(enc, s, fmt)
    out = generated(enc)
    assert out.notna().all()
    assert in_form(out, COLUMNS[key]).all(), out[~in_form(out, COLUMNS[key])].head().tolist()


@pytest.mark.parametrize("name", TABLES)
def test_synthesizer_writes_every_date_and_time_in_the_input_form(name):
    real = table(name)
    synth = Synthesizer(epochs=2, random_state=0).fit(real)
    rows = synth.sample(400, random_state=1)
    for (table_name, column), fmt in COLUMNS.items():
        if table_name != name:
            continue
        kind = "time" if fmt == "%H:%M:%S" else "datetime"
        assert synth.column_kinds_[column] == kind
        values = rows[column]
        assert values.notna().all() and values.dtype == real[column].dtype
        assert in_form(values, fmt).all(), values[~in_form(values, fmt)].head().tolist()
        # Not only the values it saw: a datetime model invents new instants.
        assert not values.isin(real[column]).all()


def zoned(fmt_zone: str) -> pd.Series:
    """nyc_weather's UTC hours written in another zone notation."""
    utc = pd.to_datetime(table("nyc_weather")["time_hour"], utc=True)
    if fmt_zone == "+00:00":
        return utc.dt.strftime("%Y-%m-%d %H:%M:%S+00:00").rename("t")
    if fmt_zone == "fraction":  # milliseconds, as JavaScript's toISOString writes them
        ms = pd.to_timedelta(np.arange(len(utc)) * 37 % 1000, unit="ms")
        return (utc + ms).dt.strftime("%Y-%m-%dT%H:%M:%S.%f").str[:-3].add("Z").rename("t")
    berlin = utc.dt.tz_convert("Europe/Berlin")  # +01:00 in winter, +02:00 in summer
    text = berlin.dt.strftime("%Y-%m-%dT%H:%M:%S%z")
    return (text.str[:-2] + ":" + text.str[-2:]).rename("t")


@pytest.mark.parametrize("notation, fmt", [
    ("+00:00", "%Y-%m-%d %H:%M:%S%:z"),
    ("fraction", "%Y-%m-%dT%H:%M:%S.%3fZ"),
    ("Europe/Berlin", "%Y-%m-%dT%H:%M:%S%:z"),
])
def test_zoned_timestamps_keep_their_zone_notation(notation, fmt):
    s = zoned(notation)
    assert detect_kind(s) == "datetime" and detect_format(s) == fmt
    enc = fitted(DatetimeEncoder, s)
    out = generated(enc)
    assert in_form(out, fmt).all()
    if notation != "Europe/Berlin":
        assert_round_trip(enc, s, fmt)
        return
    # Mixed offsets: every generated value is written in the column's most common offset
    # (summer time in these rows), and real values come back as the same instants.
    summer = (s.str[-6:] == "+02:00").mean()
    assert summer > 0.5 and (out.str[-6:] == "+02:00").all()
    back = round_trip(enc, s)
    assert (parse(back, fmt) == parse(s, fmt)).all()


def test_zoned_timestamps_survive_save_and_load(tmp_path):
    s = zoned("Europe/Berlin")
    enc = fitted(DatetimeEncoder, s)
    table_enc = TableEncoder().fit(s.to_frame(), np.random.default_rng(0))
    metas, arrays = table_enc.state()
    loaded = TableEncoder.from_state(metas, arrays)
    n = 300
    rng = np.random.default_rng(4)
    noise = rng.standard_normal((n, enc.n_continuous)).astype(np.float32)
    disc = np.column_stack([rng.integers(0, c, n) for c in enc.cardinalities]) \
        if enc.cardinalities else np.zeros((n, 0), np.int64)
    assert metas[0]["offset"] == enc.offset_ == 120
    pd.testing.assert_frame_equal(table_enc.decode(noise, disc, np.random.default_rng(5)),
                                  loaded.decode(noise, disc, np.random.default_rng(5)))


@pytest.mark.parametrize("fmt", ["%m/%d/%Y", "%-m/%-d/%Y %-H:%M:%S", "%Y/%m/%d %H:%M:%S",
                                 "%d.%m.%Y", "%-m/%-d/%Y %-I:%M %p", "%Y%m%d",
                                 "%Y-%m-%dT%H:%M:%S.%f"])
def test_date_formats_round_trip_exactly(fmt):
    base = parse(table("police_force")["response_datetime"], "%Y/%m/%d %H:%M:%S")
    if not re.search("%-?[HI]", fmt):
        base = base.dt.floor("D")
    elif "%S" not in fmt:
        base = base.dt.floor("min")
    ns = base.to_numpy(dtype="datetime64[ns]").astype("int64")
    if "%f" in fmt:
        ns = ns + np.arange(len(ns)) * 1234_000
    s = pd.Series(write(ns, fmt), dtype=object, name="when")
    assert detect_format(s) == fmt
    enc = fitted(DatetimeEncoder, s)
    assert_round_trip(enc, s, fmt)
    assert in_form(generated(enc), fmt).all()


def test_ambiguous_day_month_order_reads_month_first():
    s = pd.Series(["01/02/2020", "03/04/2020", "12/11/2019"], name="d")
    assert detect_format(s) == "%m/%d/%Y"
    assert detect_format(pd.Series(["13/02/2020", "03/04/2020"])) == "%d/%m/%Y"


def test_padded_and_unpadded_fields_are_told_apart():
    assert detect_format(pd.Series(["10/31/1996 0:00:00", "10/30/1996 12:00:00"])) \
        == "%m/%d/%Y %-H:%M:%S"
    assert detect_format(pd.Series(["9/03/1996", "10/31/1996"])) == "%-m/%d/%Y"


@pytest.mark.parametrize("values", [["2-10", "99-999", "3-4"], ["2015-000073", "2015-010874"],
                                    ["11:58:56", "09:00:01"], ["13/13/2020", "01/01/2020"]])
def test_non_dates_are_not_dates(values):
    assert detect_format(pd.Series(values)) is None


@pytest.mark.parametrize("fmt", ["%H:%M", "%H:%M:%S", "%-H:%M", "%-I:%M %p", "%H:%M:%S.%3f"])
def test_times_of_day_round_trip_in_their_format(fmt):
    clock = parse(table("pizzaplace")["time"], "%H:%M:%S") - pd.Timestamp("1900-01-01")
    ns = clock.to_numpy(dtype="timedelta64[ns]").astype("int64")
    ns = (ns - 4 * 3600 * 10**9) % (86400 * 10**9)  # opening hours start at 9: some one-digit hours
    if "%S" not in fmt:
        ns = ns - ns % (60 * 10**9)
    if "%3f" in fmt:
        ns = ns + np.arange(len(ns)) * 7 % 1000 * 10**6
    s = pd.Series(write(ns, fmt), dtype=object, name="at").mask(np.arange(len(ns)) % 10 == 0)
    assert detect_kind(s) == "time" and detect_time_format(s) == fmt
    enc = fitted(TimeOfDayEncoder, s)
    assert_round_trip(enc, s, fmt)
    out = generated(enc)
    assert in_form(out.dropna(), fmt).all() and out.isna().any()
    seconds = (parse(out.dropna(), fmt) - pd.Timestamp("1900-01-01")).dt.total_seconds()
    real = (parse(s.dropna(), fmt) - pd.Timestamp("1900-01-01")).dt.total_seconds()
    assert seconds.min() >= real.min() and seconds.max() <= real.max()


def test_times_are_not_taken_for_other_strings():
    for values in (["16:9", "4:3"], ["25:00", "26:30"], ["12:61", "10:00"], ["2015-01-02"]):
        assert detect_time_format(pd.Series(values)) is None


def test_a_time_column_with_a_stray_value_names_it():
    s = table("pizzaplace")["time"].copy()
    s.iloc[5] = "lunch"
    expected = r"'time'.*'%H:%M:%S'.*\['lunch'\] \(rows \[5\]\)"
    with pytest.raises(UnsupportedColumnError, match=expected):
        TimeOfDayEncoder(name="time").fit(s, np.random.default_rng(0))


def test_a_date_column_with_a_stray_value_names_it():
    s = table("birds")["date"].copy()
    s.iloc[7] = "unknown"
    expected = r"'date'.*'%m/%d/%Y %H:%M:%S'.*\['unknown'\] \(rows \[7\]\)"
    with pytest.raises(UnsupportedColumnError, match=expected):
        DatetimeEncoder(name="date").fit(s, np.random.default_rng(0))


def test_time_conditions_select_times_of_day():
    real = table("pizzaplace")
    synth = Synthesizer(epochs=2, random_state=0).fit(real)
    rows = synth.sample(200, conditions={"time": ("12:00:00", "13:00:00")}, random_state=3)
    assert rows["time"].between("12:00:00", "13:00:00").all()
    # A condition may be written in another time form than the column's.
    rows = synth.sample(100, conditions={"time": ("1:00 PM", datetime.time(14, 30))},
                        random_state=4)
    assert rows["time"].between("13:00:00", "14:30:00").all()
    with pytest.raises(ConditionError, match="'time'.*'noon' is not a time of day"):
        synth.sample(10, conditions={"time": "noon"})


def test_date_objects_and_time_objects_keep_their_types():
    # What pandas reads from Parquet date32 and time64 columns: objects, not strings.
    real = table("pizzaplace")
    objects = pd.DataFrame({
        "date": pd.to_datetime(real["date"]).dt.date.astype(object),
        "time": pd.to_datetime(real["time"], format="%H:%M:%S").dt.time.astype(object),
        "price": real["price"]})
    objects.loc[::7, "date"] = None
    assert detect_format(objects["date"]) == "%Y-%m-%d"
    assert detect_kind(objects["date"]) == "datetime" and detect_kind(objects["time"]) == "time"
    for column, cls in (("date", DatetimeEncoder), ("time", TimeOfDayEncoder)):
        enc = fitted(cls, objects[column])
        pd.testing.assert_series_equal(round_trip(enc, objects[column]), objects[column],
                                       check_names=False)
    rows = Synthesizer(epochs=2, random_state=0).fit(objects).sample(300, random_state=1)
    dates, times = rows["date"].dropna(), rows["time"]
    assert rows["date"].dtype == object and rows["date"].isna().any()
    assert dates.map(type).eq(datetime.date).all()
    assert times.map(type).eq(datetime.time).all()


def test_written_dates_equal_pandas_strftime():
    ns = np.random.default_rng(0).integers(0, 2 * 10**18, 200_000) // 10**9 * 10**9
    for fmt in ("%Y/%m/%d %H:%M:%S", "%d.%m.%Y", "%Y-%m-%dT%H:%M:%S.%f", "%I:%M %p"):
        ours = write(ns + 123_456_000, fmt)
        theirs = pd.DatetimeIndex((ns + 123_456_000).astype("datetime64[ns]")).strftime(fmt)
        assert (ours == theirs.to_numpy(dtype=str)).all(), fmt


def test_models_saved_before_zones_and_date_objects_still_load():
    s = table("police_force")["response_datetime"]
    enc = fitted(DatetimeEncoder, s)
    meta, arrays = enc.state()
    del meta["values"], meta["offset"]  # what an older model's JSON holds
    old = DatetimeEncoder.from_state(meta, arrays)
    rng = np.random.default_rng(6)
    noise = rng.standard_normal((100, enc.n_continuous)).astype(np.float32)
    disc = np.column_stack([rng.integers(0, c, 100) for c in enc.cardinalities]) \
        if enc.cardinalities else np.zeros((100, 0), np.int64)
    pd.testing.assert_series_equal(old.decode(noise, disc, np.random.default_rng(7)),
                                   enc.decode(noise, disc, np.random.default_rng(7)))


def police_instants(fraction_us: np.ndarray | None = None) -> np.ndarray:
    base = parse(table("police_force")["response_datetime"], "%Y/%m/%d %H:%M:%S")
    ns = base.to_numpy(dtype="datetime64[ns]").astype("int64")
    return ns if fraction_us is None else ns + fraction_us * 1000


def test_python_isoformat_fractions_left_out_when_zero_keep_that_form():
    # datetime.isoformat() writes ".ffffff" only when the microseconds are not zero.
    fraction = np.where(np.arange(300) % 3 == 0, 0, np.arange(300) * 3331 % 10**6)
    ns = police_instants(fraction)
    s = pd.Series([ts.isoformat() for ts in pd.DatetimeIndex(ns).to_pydatetime()], name="at")
    assert s.str.contains(".", regex=False).any() and not s.str.contains(".", regex=False).all()
    fmt = "%Y-%m-%dT%H:%M:%S%.6f"
    assert detect_kind(s) == "datetime" and detect_format(s) == fmt
    assert (write(ns, fmt) == s.to_numpy(dtype=str)).all()
    enc = fitted(DatetimeEncoder, s)
    assert_round_trip(enc, s, fmt)
    out = generated(enc)
    assert in_form(out, fmt).all()
    assert out.str.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?").all()


def test_fractions_with_trailing_zeros_left_out_keep_that_form():
    fraction = np.arange(300) * 250_000 % 10**6  # .0, .25, .5, .75 s
    ns = police_instants(fraction)
    s = pd.Series(write(ns, "%Y-%m-%dT%H:%M:%S%.fZ"), dtype=object, name="at")
    assert set(s.str.extract(r"(\.\d+)?Z$")[0].fillna("").str.len()) == {0, 2, 3}
    assert detect_format(s) == "%Y-%m-%dT%H:%M:%S%.fZ"
    enc = fitted(DatetimeEncoder, s)
    assert enc.step_ == 1e-3  # quarter seconds: the coarsest step of ours they are multiples of
    out = generated(enc)
    assert in_form(out, "%Y-%m-%dT%H:%M:%S%.fZ").all()
    assert not out.str.contains(r"\.\d*0Z$", regex=True).any()  # no trailing zero written


@pytest.mark.parametrize("fmt", ["%-m/%-d/%Y %-H:%M:%S", "%Y-%m-%dT%H:%M:%S%:z",
                                 "%Y-%m-%dT%H:%M:%S.%3fZ", "%Y-%m-%dT%H:%M:%S%.6f", "%-I:%M %p"])
def test_pandas_reads_our_formats_through_pandas_format(fmt):
    # For code that parses with pd.to_datetime directly (scores, report).
    ns = police_instants(np.arange(300) % 2 * 123_000)
    s = pd.Series(write(ns, fmt, 120 if fmt.endswith("z") else 0), dtype=object)
    theirs = pd.to_datetime(s, format=pandas_format(fmt), utc=fmt.endswith(("z", "Z")))
    if theirs.dt.tz is not None:
        theirs = theirs.dt.tz_convert(None)
    pd.testing.assert_series_equal(theirs.astype("datetime64[ns]"), parse(s, fmt))


def office_hours() -> pd.Series:
    """Police response instants moved into 08:00-17:59 on their own days: a column whose
    times of day keep to a window, as opening hours or shifts do."""
    s = parse(table("police_force")["response_datetime"], "%Y/%m/%d %H:%M:%S")
    day, clock = s.dt.floor("D"), s - s.dt.floor("D")
    clock = pd.to_timedelta(8 * 3600 + clock.dt.total_seconds() % (10 * 3600), unit="s")
    return pd.Series(write((day + clock).to_numpy("datetime64[ns]").astype("int64"),
                           "%Y/%m/%d %H:%M:%S"), dtype=object, name="opened")


def ranged(s: pd.Series) -> DatetimeEncoder:
    """The encoder as a table of 10,000 rows or more has it: numbers drawn as ranges."""
    enc = DatetimeEncoder(name=s.name)
    enc.numeric_bins = 32
    return enc.fit(s, np.random.default_rng(0))


def test_times_of_day_are_a_part_of_their_own():
    # As seconds since the epoch, a time of day was finer than any range the model draws a
    # value from: generated instants fell at any hour. As its own part, a time of day comes
    # from the times the column has, whatever day it is drawn on.
    s = office_hours()
    assert fitted(DatetimeEncoder, s).clock_ is None  # no ranges: one number, as before
    enc = ranged(s)
    assert enc.clock_ is not None and enc.n_continuous == 2
    assert_round_trip(enc, s, "%Y/%m/%d %H:%M:%S")
    out = parse(generated(enc, n=5000), "%Y/%m/%d %H:%M:%S")
    hours = out.dt.hour
    assert hours.between(8, 17).all(), hours.value_counts().sort_index()
    assert hours.nunique() == 10  # every hour of the window, not one
    real = parse(s, "%Y/%m/%d %H:%M:%S")
    # The first and last days' times are drawn like any day's, yet stay within the column.
    assert real.min() <= out.min() and out.max() <= real.max()


def test_dates_alone_have_no_time_of_day_part():
    s = table("police_force")["response_datetime"].str[:10]
    enc = ranged(s)
    assert enc.step_ == 86400 and enc.clock_ is None and enc.n_continuous == 1


def test_a_condition_on_an_instant_range_holds_within_its_end_days():
    s = office_hours()
    enc = ranged(s)
    constraint = enc.constrain(("2017/03/01 12:30:00", "2017/03/04 09:15:00"))
    # What the model gives under the condition: a day in range, any time of that day.
    drawn = parse(generated(enc, n=3000), "%Y/%m/%d %H:%M:%S")
    day = pd.Timestamp("2017-03-01") + pd.to_timedelta(np.arange(3000) % 4, unit="D")
    out = pd.Series(write((day + (drawn - drawn.dt.floor("D"))).to_numpy("datetime64[ns]")
                          .astype("int64"), "%Y/%m/%d %H:%M:%S"), dtype=object, name=s.name)
    assert not constraint.matches(out).all()
    held = constraint.enforce(out, np.random.default_rng(0))
    assert constraint.matches(held).all()
    hours = parse(held, "%Y/%m/%d %H:%M:%S").dt.hour
    # Moved inside by a new time of day on its end day, not piled onto the bound.
    assert hours.between(8, 17).all() and hours.nunique() > 3
    one = enc.constrain("2017/03/02 10:00:00")
    assert len(one.intervals) + len(one.classes) >= 2  # the day and the time of day


def test_models_saved_before_times_of_day_were_a_part_still_load():
    s = office_hours()
    enc = DatetimeEncoder(name=s.name)
    enc.numeric_bins, enc.splits_clock = 32, False  # what fitting did before: seconds since the epoch alone
    enc.fit(s, np.random.default_rng(0))
    meta, arrays = enc.state()
    assert "clock" not in meta
    old = DatetimeEncoder.from_state(meta, arrays)
    assert old.clock_ is None and old.n_continuous == 1
    pd.testing.assert_series_equal(generated(old), generated(enc))
