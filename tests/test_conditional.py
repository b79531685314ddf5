"""Conditional sampling: every row meets its conditions, the other columns follow them, and
conditions the model cannot meet get clear errors."""
import numpy as np
import pandas as pd
import pytest

from synthvae import Synthesizer
from synthvae.columns import ConditionError
from synthvae.conditional import parse_where
from test_synthesizer import ADULT, QUICK, generality_table

N_ROWS = 4000


@pytest.fixture(scope="module")
def adult() -> pd.DataFrame:
    return pd.read_csv(ADULT).sample(N_ROWS, random_state=1).reset_index(drop=True)


@pytest.fixture(scope="module")
def fitted(adult) -> Synthesizer:
    return Synthesizer(epochs=50, random_state=0, **QUICK).fit(adult)


def test_parse_where_reads_values_lists_ranges_and_nulls():
    assert parse_where(["income=>50K", "age=30..40", "sex=Female|Male", "hours-per-week=..20",
                        "capital-gain=5000..", "workclass=<null>"]) == {
        "income": ">50K", "age": ("30", "40"), "sex": ["Female", "Male"],
        "hours-per-week": (None, "20"), "capital-gain": ("5000", None), "workclass": None}


@pytest.mark.parametrize("bad", [["income"], ["=x"], ["age=1", "age=2"]])
def test_parse_where_rejects_malformed_conditions(bad):
    with pytest.raises(ConditionError):
        parse_where(bad)


def test_every_row_meets_the_conditions_and_exactly_n_come_back(adult, fitted):
    conditions = {"income": ">50K", "sex": "Female", "age": (30, 40)}
    rows = fitted.sample(700, random_state=0, conditions=conditions)
    assert len(rows) == 700
    assert (rows["income"] == ">50K").all() and (rows["sex"] == "Female").all()
    assert rows["age"].between(30, 40).all()
    assert rows["age"].nunique() > 3  # a range, not one value
    assert list(rows.columns) == list(adult.columns)
    assert (rows.dtypes == adult.dtypes).all()


def test_lists_discrete_ranges_nulls_and_command_line_strings(fitted):
    rows = fitted.sample(300, random_state=0, conditions=parse_where(
        ["native-country=Mexico|Canada", "education-num=9..10", "hours-per-week=40"]))
    assert set(rows["native-country"]) <= {"Mexico", "Canada"}
    assert set(rows["education-num"]) <= {9, 10}
    assert (rows["hours-per-week"] == 40).all()
    nulls = fitted.sample(200, random_state=0, conditions={"occupation": None})
    assert nulls["occupation"].isna().all()


def test_conditioning_shifts_the_other_columns_the_way_the_real_rows_do(adult, fitted):
    """Rows drawn for income >50K are mostly married, as the real ones are; a sample that only
    forced the income column would keep the overall marriage rate."""
    def married(df):
        return (df["marital-status"] == "Married-civ-spouse").mean()
    rich = fitted.sample(2000, random_state=0, conditions={"income": ">50K"})
    everyone = fitted.sample(2000, random_state=0)
    real_rich = adult[adult["income"] == ">50K"]
    assert married(real_rich) - married(adult) > 0.3  # the real effect is large
    assert married(rich) - married(everyone) > 0.5 * (married(real_rich) - married(adult))
    assert abs(married(rich) - married(real_rich)) < 0.1


def test_a_rare_condition_is_met_without_an_open_ended_loop(adult, fitted):
    rare = "Amer-Indian-Eskimo"
    assert (adult["race"] == rare).mean() < 0.02
    rows = fitted.sample(1000, random_state=0, conditions={"race": rare})
    assert len(rows) == 1000 and (rows["race"] == rare).all()
    assert fitted.last_pool_["pool"] <= 64 * 1000 + 2048


def test_conditional_sampling_is_reproducible(fitted):
    a = fitted.sample(100, random_state=5, conditions={"sex": "Female"})
    b = fitted.sample(100, random_state=5, conditions={"sex": "Female"})
    pd.testing.assert_frame_equal(a, b)


@pytest.mark.parametrize("conditions, words", [
    ({"colour": "red"}, "colour"),
    ({"sex": "Banana"}, "'Banana' never appears"),
    ({"age": (200, 300)}, "outside the range"),
    ({"age": (40, 30)}, "empty range"),
    ({"fnlwgt": "lots"}, "not a number"),
    ({"sex": ("a", "b")}, "needs a numeric column"),
])
def test_impossible_conditions_raise_naming_the_column(fitted, conditions, words):
    with pytest.raises(ConditionError, match=words):
        fitted.sample(10, conditions=conditions)


def test_conditions_on_mixed_kinds(adult):
    mixed = generality_table(adult.head(1500))
    synth = Synthesizer(epochs=5, random_state=0, **QUICK).fit(mixed)
    day = mixed["signup"].dropna().sort_values().iloc[len(mixed) // 2]
    rows = synth.sample(200, random_state=0, conditions={"signup": (None, day), "rich": True})
    assert (pd.to_datetime(rows["signup"].dropna()) <= pd.Timestamp(day)).all()
    assert rows["rich"].all()
    with pytest.raises(ConditionError, match="cannot be conditioned"):
        synth.sample(5, conditions={"customer_id": 3})


def test_real_rows_matching_conditions(adult, fitted):
    mask = fitted.encoder_.rows_matching(adult, {"income": ">50K", "age": (30, 40)})
    expected = (adult["income"] == ">50K") & adult["age"].between(30, 40)
    np.testing.assert_array_equal(mask, expected.to_numpy())


def test_sample_given_holds_each_rows_values_and_draws_the_rest_beside_them(adult, fitted):
    """Each row gets its own given values, and the columns drawn after them follow them
    (education-num is a function of education); the columns before them follow too, through
    the latent picked for the row: women are rarely husbands."""
    given = pd.DataFrame({"education": ["Doctorate", "HS-grad"] * 500,
                          "sex": ["Female"] * 500 + ["Male"] * 500}, index=range(10, 1010))
    rows = fitted.sample_given(given, random_state=0)
    assert list(rows.index) == list(given.index) and list(rows.columns) == list(adult.columns)
    assert (rows["education"] == given["education"]).all() and (rows["sex"] == given["sex"]).all()
    real_num = adult.groupby("education")["education-num"].first()
    assert (rows["education-num"] == rows["education"].map(real_num)).mean() > 0.98
    husbands = rows[rows["sex"] == "Female"]["relationship"].eq("Husband").mean()
    blind = fitted.sample_given(given, random_state=0, particles=1)
    assert husbands < 0.1 < blind[blind["sex"] == "Female"]["relationship"].eq("Husband").mean()
    assert fitted.sample_given(given, random_state=0).equals(rows)


def test_sample_given_refuses_ids_unknown_columns_and_bad_particles(fitted):
    with pytest.raises(ConditionError, match="not in the table"):
        fitted.sample_given(pd.DataFrame({"colour": ["red"]}))
    with pytest.raises(ValueError, match="particles"):
        fitted.sample_given(pd.DataFrame({"sex": ["Male"]}), particles=0)
    assert len(fitted.sample_given(pd.DataFrame({"sex": pd.Series([], dtype=object)}))) == 0
