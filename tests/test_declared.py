"""Declared rules: parsed (never evaluated), checked on the real rows, kept by sampled rows."""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from synthvae import Synthesizer
from synthvae.declared import Declared, broken, parse
from synthvae.io import InputError, read_table

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "data" / "corpus"


@pytest.fixture(scope="module")
def adult() -> pd.DataFrame:
    return pd.read_csv(ROOT / "data" / "adult.csv.gz").sample(2000, random_state=0) \
        .reset_index(drop=True)


@pytest.mark.parametrize("text, rule", [
    ("age <= hours-per-week", Declared("age <= hours-per-week", "order", ("age",),
                                       "hours-per-week")),
    ("hours-per-week >= age", Declared("hours-per-week >= age", "order", ("age",),
                                       "hours-per-week")),
    ("sex == race", Declared("sex == race", "equal", ("sex",), "race")),
    ("education-num is determined by education",
     Declared("education-num is determined by education", "lookup", ("education",),
              "education-num")),
    ("income is determined by sex, race",
     Declared("income is determined by sex, race", "lookup", ("sex", "race"), "income")),
])
def test_the_three_forms_parse(adult, text, rule):
    assert parse(text, adult.columns) == rule


def test_broken_rows_per_form(adult):
    cols = adult.columns
    np.testing.assert_array_equal(broken(parse("age <= hours-per-week", cols), adult),
                                  (adult["age"] > adult["hours-per-week"]).to_numpy())
    assert not broken(parse("education-num is determined by education", cols), adult).any()
    by_sex = broken(parse("income is determined by sex", cols), adult)
    assert by_sex.all()  # both sexes earn both incomes: every row is in a mixed group
    nulls = pd.DataFrame({"a": [1.0, np.nan, 3.0], "b": [2.0, 0.0, np.nan],
                          "c": [1.0, np.nan, 3.0]})
    assert not broken(parse("a <= b", nulls.columns), nulls).any()  # a null is no order
    assert not broken(parse("a == c", nulls.columns), nulls).any()  # null equals null
    assert broken(parse("a == b", nulls.columns), nulls).tolist() == [True, True, True]


def test_a_declared_rule_the_training_rows_break_is_refused_before_training(adult):
    n = int((adult["age"] > adult["hours-per-week"]).sum())
    model = Synthesizer(epochs=1, declared_rules=["age <= hours-per-week"])
    with pytest.raises(InputError, match=rf"'age <= hours-per-week': {n} of 2000 training rows "
                                         r"break it \(rows \d+, "):
        model.fit(adult)
    assert not hasattr(model, "model_")


def test_declared_rules_are_kept_by_sampled_rows_and_saved(adult, tmp_path):
    """Without found rules, three epochs break the lookup; declared, no sampled row does."""
    rule = "education-num is determined by education"
    loose = Synthesizer(epochs=3, random_state=0, rules=False).fit(adult)
    model = Synthesizer(epochs=3, random_state=0, rules=False, declared_rules=[rule]).fit(adult)
    assert [r.describe() for r in model.rules_.rules] == [rule]
    parsed = parse(rule, adult.columns)
    assert broken(parsed, loose.sample(3000, random_state=1)).any()
    assert not broken(parsed, model.sample(3000, random_state=1)).any()
    model.save(tmp_path)
    pd.testing.assert_frame_equal(Synthesizer.load(tmp_path).sample(500, random_state=2),
                                  model.sample(500, random_state=2))


def test_a_declared_order_is_kept_beside_the_found_rules():
    weather = read_table(CORPUS / "city_weather.csv.gz")
    rule = "low_dewpt <= high_dewpt"
    assert not broken(parse(rule, weather.columns), weather).any()
    model = Synthesizer(epochs=2, random_state=0, declared_rules=[rule]).fit(weather)
    assert rule in [r.describe() for r in model.rules_.rules]
    rows = model.sample(2000, random_state=0)
    assert not broken(parse(rule, weather.columns), rows).any()
    assert sum(model.rules_.violations(rows, model.encoder_)) == 0


def test_declared_lookups_are_refused_under_differential_privacy(adult):
    with pytest.raises(InputError, match="differential privacy"):
        Synthesizer(epochs=1, dp_epsilon=5.0,
                    declared_rules=["education-num is determined by education"]).fit(adult)
