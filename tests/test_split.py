from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from synthvae import Synthesizer
from synthvae.columns import TableEncoder
from synthvae.io import InputError, read_table
from synthvae.split import EVENT_SHARE, event_column, event_groups, validation_split

DATA = Path(__file__).parent / "data"
FLIGHTS = Path(__file__).parents[1] / "data" / "flights"


def fitted_encoder(df: pd.DataFrame) -> TableEncoder:
    return TableEncoder().fit(df, np.random.default_rng(0))


def test_without_groups_the_split_is_the_plain_seeded_permutation():
    order = np.random.default_rng(7).permutation(1000)
    val, fit = validation_split(1000, 100, np.random.default_rng(7))
    np.testing.assert_array_equal(val, order[:100])
    np.testing.assert_array_equal(fit, order[100:])


@pytest.mark.parametrize("path, column", [
    (DATA / "groups" / "covid_testing.csv.gz", "subject_id"),  # a subject's tests
    (DATA / "groups" / "pizzaplace.csv.gz", "id"),  # an order's lines
    (FLIGHTS / "weather.csv.gz", "time_hour"),  # one hour's weather at three airports
    (FLIGHTS / "flights.csv.gz", "time_hour"),  # the flights of one scheduled hour
])
def test_rows_of_one_event_are_held_back_together(path, column):
    df = read_table(path)
    assert event_column(df, fitted_encoder(df)) == column
    n_val = len(df) // 10
    val, fit = validation_split(len(df), n_val, np.random.default_rng(0),
                                event_groups(df[column]))
    assert sorted(np.concatenate([val, fit]).tolist()) == list(range(len(df)))
    assert not set(df[column].iloc[val].dropna()) & set(df[column].iloc[fit].dropna())
    assert n_val <= len(val) < n_val + df[column].value_counts().max()
    # and the groups are drawn at random, not taken from the top of the table
    assert np.median(val) == pytest.approx(len(df) / 2, rel=0.35)


def test_days_and_timestamps_that_never_repeat_name_no_event():
    hotels = read_table(DATA / "corpus" / "hotel_rates.csv.gz")  # arrival dates: days
    share = hotels["arrival_date"].nunique() / hotels["arrival_date"].notna().sum()
    assert EVENT_SHARE[0] <= share <= EVENT_SHARE[1]  # it repeats, yet a day is no event
    assert event_column(hotels, fitted_encoder(hotels)) is None
    tweets = read_table(DATA / "corpus" / "trump_tweets.csv.gz")  # each tweet its own time
    assert tweets["created_at"].is_unique
    assert event_column(tweets, fitted_encoder(tweets)) is None


def test_each_null_is_a_group_of_its_own():
    groups = event_groups(pd.Series(["a", None, "b", "a", None]))
    assert groups[0] == groups[3] and len(set(groups)) == 4


def test_a_fit_holds_back_whole_events_when_asked_and_keeps_the_column_with_the_model(
        tmp_path):
    df = read_table(DATA / "groups" / "covid_testing.csv.gz")
    model = Synthesizer(epochs=1, random_state=0, calibrate=False,
                        validation_groups="auto").fit(df)
    assert model.validation_groups_ == "subject_id"
    assert Synthesizer.load(model.save(tmp_path / "m")).validation_groups_ == "subject_id"
    named = Synthesizer(epochs=1, random_state=0, calibrate=False,
                        validation_groups="age").fit(df)
    assert named.validation_groups_ == "age"
    # by default the split is row by row, as it always was
    assert Synthesizer(epochs=1, random_state=0, calibrate=False).fit(df).validation_groups_ \
        is None
    with pytest.raises(InputError, match="validation_groups: no column 'patient'"):
        Synthesizer(epochs=1, validation_groups="patient").fit(df)
    # two values cannot hold back a tenth of the rows: one of them is about half
    with pytest.raises(InputError, match="column 'gender' has too few distinct values"):
        Synthesizer(epochs=1, validation_groups="gender").fit(df)
