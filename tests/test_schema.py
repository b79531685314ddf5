import copy
import pickle
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from synthvae.io import InputError, read_table
from synthvae.schema import (
    ColumnSpec,
    SchemaViolation,
    TableSchema,
    check_declared,
    infer_schema,
    load_schema,
    validate,
    witness_rows,
)

ROOT = Path(__file__).resolve().parents[1]
ADULT_SCHEMA = ROOT / "schemas" / "adult.yaml"


@pytest.fixture(scope="module")
def adult() -> pd.DataFrame:
    return read_table(ROOT / "data" / "adult.csv.gz")


@pytest.fixture(scope="module")
def adult_schema() -> TableSchema:
    return load_schema(ADULT_SCHEMA)


@pytest.mark.parametrize("file", ["adult.csv.gz", "adult_test.csv.gz"])
def test_adult_schema_accepts_both_bundled_splits(file, adult_schema):
    validate(read_table(ROOT / "data" / file), adult_schema)


def test_adult_schema_declares_kinds_and_sensitive_columns(adult_schema):
    kinds = adult_schema.kinds()
    assert len(kinds) == 15
    numeric = {"age", "fnlwgt", "capital-gain", "capital-loss", "hours-per-week", "education-num"}
    assert {c for c, k in kinds.items() if k == "numeric"} == numeric
    assert {k for c, k in kinds.items() if c not in numeric} == {"categorical"}
    assert adult_schema.sensitive == ["income"]
    assert adult_schema.columns["income"].categories == ["<=50K", ">50K"]


def test_violation_names_columns_rules_values_and_rows(adult, adult_schema):
    bad = adult.copy()
    bad.loc[[3, 10, 12], "age"] = -5
    bad.loc[[4, 5], "sex"] = "Banana"

    with pytest.raises(SchemaViolation) as caught:
        validate(bad, adult_schema)

    message = str(caught.value)
    header, *lines = message.splitlines()
    assert header == ("input table failed schema 'adult': 2 problems in 2 columns (rows "
                      "counted from 1, after the header)")
    age_line = next(line for line in lines if "age:" in line)
    assert "must be >= 17" in age_line and "3 rows" in age_line
    assert "-5 at row 4" in age_line and "-5 at row 13" in age_line
    sex_line = next(line for line in lines if "sex:" in line)
    assert "must be one of {'Female', 'Male'}" in sex_line
    assert "'Banana' at row 5" in sex_line and "'Banana' at row 6" in sex_line
    assert "Traceback" not in message and "SCHEMA" not in message

    problems = {p["column"]: p for p in caught.value.problems}
    assert problems["age"]["count"] == 3
    assert problems["age"]["examples"][0] == {"row": 3, "value": -5}  # the index, for code
    assert problems["sex"]["rule"] == "must be one of {'Female', 'Male'}"
    copy = pickle.loads(pickle.dumps(caught.value))  # Prefect pickles task errors
    assert str(copy) == message and copy.problems == caught.value.problems


def test_violation_reports_nulls_dtypes_and_long_category_lists(adult, adult_schema):
    bad = adult.head(200).copy()
    bad["hours-per-week"] = bad["hours-per-week"].astype(float)
    bad.loc[7, "income"] = None
    bad.loc[[1, 2, 3, 4, 5, 6], "native-country"] = "Atlantis"

    with pytest.raises(SchemaViolation) as caught:
        validate(bad, adult_schema, what="synthetic sample")

    message = str(caught.value)
    assert message.startswith("synthetic sample failed schema 'adult': 3 problems in 3 columns")
    assert "hours-per-week: dtype must be int64, got float64" in message
    assert "income: must not be null (1 row): null at row 8" in message
    assert "(showing 5 of 41) (6 rows)" in message
    assert "'Atlantis' at row 6, ..." in message  # five examples, then an ellipsis


def test_schema_column_missing_from_table_is_named(adult, adult_schema):
    with pytest.raises(SchemaViolation, match="unknown column in the schema.*'age'") as caught:
        validate(adult.drop(columns=["age"]), adult_schema)
    assert caught.value.problems[0]["column"] == "age"


def test_table_column_missing_from_schema_is_an_error_not_dropped(adult, adult_schema):
    extra = adult.head(50).assign(zip_code=12345)
    with pytest.raises(SchemaViolation, match="in the table but not in the schema: 'zip_code'"):
        validate(extra, adult_schema)


def test_unknown_field_in_yaml_names_the_column_and_field(tmp_path):
    path = tmp_path / "typo.yaml"
    path.write_text("columns:\n  age: {dtype: int64, maxx: 90}\n")
    with pytest.raises(InputError, match=r"column 'age': unknown field\(s\) maxx"):
        load_schema(path)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("columns:\n  a: {dtype: int65}\n", "dtype 'int65' is not supported"),
        ("columns:\n  a: {dtype: str, kind: colour}\n", "kind 'colour' is unknown"),
        ("columns:\n  a: {dtype: str, min: 3}\n", "'min' only applies to numeric"),
        ("columns:\n  a: {dtype: str, categories: [yes, no]}\n", "quote it"),
        ("columns:\n  a: {dtype: int64, min: 5, max: 1}\n", "min 5 is greater than max 1"),
        ("columns: [a, b]\n", "'columns' must be a non-empty mapping"),
        ("columns:\n  a: {dtype: str}\nsensitive: [b]\n", "'sensitive' names unknown"),
        ("columns:\n  a: {dtype: str\n", "is not valid YAML"),
        ("colums:\n  a: {dtype: str}\n", "unknown top-level field"),
        ("columns:\n  a: {dtype: str}\ndiscovered_rules: a = b\n",
         "'discovered_rules' must be a list"),
    ],
)
def test_bad_schema_files_give_one_line_input_errors(tmp_path, text, expected):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(InputError, match=expected) as caught:
        load_schema(path)
    assert "\n" not in str(caught.value)


def test_missing_schema_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="schema file not found"):
        load_schema(tmp_path / "nope.yaml")


def test_inferred_adult_schema_round_trips_through_yaml_and_validates(adult, tmp_path):
    inferred = infer_schema(adult, "adult_draft")
    path = inferred.save_yaml(tmp_path / "adult_draft.yaml")

    reloaded = load_schema(path)
    assert reloaded == inferred
    validate(adult, reloaded)
    assert reloaded.columns["age"] == ColumnSpec(dtype="int64", kind="numeric", min=17, max=90)
    assert reloaded.columns["workclass"].nullable
    assert reloaded.kinds() == load_schema(ADULT_SCHEMA).kinds()


def small_mixed_table(n: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "signup": [f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}" for i in range(n)],
            "customer_id": np.arange(1000, 1000 + n),
            "code": [f"C-{i:05d}" for i in range(n)],
            "active": rng.random(n) > 0.5,
            "note": [f"called about order {i}" for i in range(n)],
            "plan": rng.choice(["basic", "pro", "yes"], n),
            "score": np.where(np.arange(n) % 7 == 0, np.nan, rng.normal(size=n)),
            "seen_at": pd.date_range("2024-01-01", periods=n, freq="h"),
            "visits": pd.array(np.where(np.arange(n) % 5 == 0, None, np.arange(n)), dtype="Int64"),
        }
    )


def test_infer_detects_datetime_id_boolean_text_and_categorical(tmp_path):
    table = small_mixed_table()
    inferred = infer_schema(table, "customers")

    assert inferred.kinds() == {
        "signup": "datetime",
        "customer_id": "id",
        "code": "id",
        "active": "boolean",
        "note": "text",
        "plan": "categorical",
        "score": "numeric",
        "seen_at": "datetime",
        "visits": "numeric",
    }
    assert inferred.columns["signup"].dtype == "str"  # still strings in the table
    assert inferred.columns["customer_id"].unique
    # synthetic ids count on from the largest real one, so a drafted schema must allow that
    assert inferred.columns["customer_id"].max is None
    assert inferred.columns["customer_id"].min is not None
    assert inferred.columns["plan"].categories == ["basic", "pro", "yes"]
    assert inferred.columns["score"].nullable and not inferred.columns["active"].nullable
    assert inferred.columns["seen_at"].max == pd.Timestamp("2024-01-03 11:00")
    assert inferred.columns["visits"].dtype == "Int64"

    # "yes" must come back as text, not YAML's boolean true.
    reloaded = load_schema(inferred.save_yaml(tmp_path / "customers.yaml"))
    assert reloaded == inferred
    validate(table, reloaded)


def test_datetime_unique_and_regex_rules_are_enforced():
    table = small_mixed_table(10)
    schema = TableSchema(
        name="customers",
        columns={
            **{c: ColumnSpec(dtype=str(table[c].dtype)) for c in ("active", "score", "note")},
            "signup": ColumnSpec(dtype="str", regex=r"\d{4}-\d{2}-\d{2}"),
            "customer_id": ColumnSpec(dtype="int64", unique=True),
            "code": ColumnSpec(dtype="str", regex=r"C-\d{4}"),  # one digit short
            "plan": ColumnSpec(dtype="str"),
            "seen_at": ColumnSpec(dtype="datetime64[ns]", max=pd.Timestamp("2024-01-01 05:00")),
            "visits": ColumnSpec(dtype="Int64", nullable=True),
        },
    )
    table.loc[9, "customer_id"] = 1000

    with pytest.raises(SchemaViolation) as caught:
        validate(table, schema)

    message = str(caught.value)
    assert "customer_id: must be unique (2 rows): 1000 at row 1, 1000 at row 10" in message
    assert "code: must fully match the pattern 'C-\\\\d{4}' (10 rows)" in message
    assert (
        "seen_at: must be <= 2024-01-01T05:00:00 (4 rows): 2024-01-01T06:00:00 at row 7"
    ) in message


def test_validating_100k_adult_rows_is_fast(adult, adult_schema):
    big = pd.concat([adult] * 4, ignore_index=True).head(100_000)
    start = time.perf_counter()
    validate(big, adult_schema)
    assert time.perf_counter() - start < 5.0


def test_wrong_dtype_is_reported_once_not_as_crashed_range_checks(adult, adult_schema):
    bad = adult.head(50).astype({"age": str})
    with pytest.raises(SchemaViolation) as caught:
        validate(bad, adult_schema)
    assert [p["rule"] for p in caught.value.problems] == ["dtype must be int64, got object"]


def _verdict(df: pd.DataFrame, schema: TableSchema, monkeypatch, witness: bool):
    monkeypatch.setattr("synthvae.schema.WITNESS_FROM_ROWS", 0 if witness else 10**12)
    try:
        validate(df, schema)
        return None
    except SchemaViolation as err:
        return str(err)


CORRUPTIONS = {
    "none": lambda t: None,
    "age above the maximum": lambda t: t.__setitem__("age", t["age"].where(t.index != 777, 500)),
    "age below the minimum, twice": lambda t: t.__setitem__(
        "age", t["age"].where(~t.index.isin([3, 30_003]), 1)),
    "unseen category": lambda t: t.__setitem__(
        "workclass", t["workclass"].where(t.index != 12_345, "Astronaut")),
    "null where none are allowed": lambda t: t.__setitem__(
        "education", t["education"].where(t.index != 30_000, None)),
    "a number among strings": lambda t: t.__setitem__(
        "native-country", t["native-country"].astype(object).where(t.index != 5, 7)),
}


@pytest.mark.parametrize("corruption", list(CORRUPTIONS))
def test_witness_rows_give_the_same_verdict_and_report_as_every_row(
        corruption, adult, adult_schema, monkeypatch):
    table = adult.copy()
    CORRUPTIONS[corruption](table)
    by_witness = _verdict(table, adult_schema, monkeypatch, witness=True)
    assert by_witness == _verdict(table, adult_schema, monkeypatch, witness=False)
    assert (by_witness is None) == (corruption == "none")


def test_witness_rows_catch_repeats_patterns_and_bounds_on_a_mixed_table(monkeypatch):
    table = small_mixed_table(5_000)
    schema = infer_schema(table, "customers")
    assert _verdict(table, schema, monkeypatch, witness=True) is None
    repeated = table.copy()
    repeated.loc[4_321, "customer_id"] = repeated.loc[17, "customer_id"]
    late = table.copy()
    late["seen_at"] = late["seen_at"].where(late.index != 4_000, pd.Timestamp("2100-01-01"))
    for bad in (repeated, late):
        by_witness = _verdict(bad, schema, monkeypatch, witness=True)
        assert by_witness is not None
        assert by_witness == _verdict(bad, schema, monkeypatch, witness=False)
    picked = witness_rows(table, schema)
    assert len(picked) < len(table) / 2  # the point: far fewer rows than the table


@pytest.mark.parametrize("corruption", ["none", "unseen category", "null where none are allowed",
                                        "age above the maximum", "a number among strings"])
def test_strings_as_categoricals_give_the_same_verdict_and_report(
        corruption, adult, adult_schema, monkeypatch):
    """Synthetic chunks for Arrow keep string columns as categoricals (as_category): they
    must be judged, and reported, as the strings they stand for."""
    table = adult.copy()
    CORRUPTIONS[corruption](table)
    strings = [c for c in table.columns if table[c].dtype == object]
    coded = table.astype({c: "category" for c in strings})
    for witness in (True, False):
        monkeypatch.setattr("synthvae.schema.WITNESS_FROM_ROWS", 0 if witness else 10**12)
        try:
            validate(coded, adult_schema, as_category=True)
            verdict = None
        except SchemaViolation as err:
            verdict = str(err)
        assert verdict == _verdict(table, adult_schema, monkeypatch, witness)
        assert (verdict is None) == (corruption == "none")


@pytest.mark.parametrize("corruption", ["none", "NaN where none are allowed", "above the maximum",
                                        "only NaN"])
def test_witness_rows_of_float_columns_give_the_same_verdict(corruption, monkeypatch):
    rng = np.random.default_rng(0)
    table = pd.DataFrame({"score": rng.uniform(0, 1, 20_000),
                          "gap": np.where(rng.uniform(size=20_000) < 0.1, np.nan, 1.0)})
    schema = TableSchema("floats", {
        "score": ColumnSpec(dtype="float64", nullable=False, min=0.0, max=1.0),
        "gap": ColumnSpec(dtype="float64", nullable=True, min=0.5)})
    if corruption == "NaN where none are allowed":
        table.loc[13_000, "score"] = np.nan
    elif corruption == "above the maximum":
        table.loc[19_999, "score"] = 1.5
    elif corruption == "only NaN":
        table["gap"] = np.nan
    by_witness = _verdict(table, schema, monkeypatch, witness=True)
    assert by_witness == _verdict(table, schema, monkeypatch, witness=False)
    assert (by_witness is None) == (corruption in ("none", "only NaN"))


def test_a_schema_edited_in_place_is_checked_by_its_new_rules(adult, adult_schema):
    schema = copy.deepcopy(adult_schema)
    validate(adult, schema)
    schema.columns["age"].max = 60
    with pytest.raises(SchemaViolation, match="age"):
        validate(adult, schema)


def with_rules(schema: TableSchema, rules: list[str]) -> TableSchema:
    edited = copy.deepcopy(schema)
    edited.rules = rules
    return edited


def test_declared_rules_are_checked_on_every_row_and_named_with_their_values(adult,
                                                                              adult_schema):
    """32,561 rows: the witness rows check the columns; one row deep inside breaks a rule
    across columns, which has no witnesses, and is still found."""
    schema = with_rules(adult_schema, ["education-num is determined by education",
                                       "capital-loss <= fnlwgt"])
    validate(adult, schema)
    broken = adult.copy()
    broken.loc[20_000, "capital-loss"] = 4000
    broken.loc[20_000, "fnlwgt"] = 3000
    with pytest.raises(SchemaViolation) as err:
        validate(broken, schema)
    (problem,) = err.value.problems
    assert problem["column"] == "capital-loss, fnlwgt"
    assert problem["rule"] == "breaks declared rule capital-loss <= fnlwgt"
    assert problem["count"] == 1
    assert problem["examples"] == [{"row": 20_000, "value": {"capital-loss": 4000,
                                                             "fnlwgt": 3000}}]
    assert "(capital-loss=4000, fnlwgt=3000) at row 20001" in str(err.value)
    validate(broken, schema, rules=False)  # the columns alone pass


def test_check_declared_gives_the_rows_to_keep_and_one_line(adult, adult_schema):
    schema = with_rules(adult_schema, ["age <= hours-per-week"])
    keep, message = check_declared(adult, schema)
    expected = (adult["age"] <= adult["hours-per-week"]).to_numpy()
    np.testing.assert_array_equal(keep, expected)
    first = np.flatnonzero(~expected)[:5] + 1
    assert message == (f"input table breaks declared rule 'age <= hours-per-week' in "
                       f"{(~expected).sum()} rows (row {', '.join(map(str, first))}, ...)")
    keep, message = check_declared(adult, adult_schema)
    assert keep.all() and message is None


@pytest.mark.parametrize("rule, words", [
    ("age =< fnlwgt", "is not one of"),
    ("age <= salary", "no column 'salary'"),
    ("education <= age", "an order needs two numbers or two dates"),
    ("age is determined by sex, race, education", "one or two others"),
    ("age == age", "names a column twice"),
])
def test_bad_declared_rules_are_one_line_errors_naming_the_rule(tmp_path, rule, words):
    text = ADULT_SCHEMA.read_text() + f"rules: [{rule!r}]\n"
    path = tmp_path / "s.yaml"
    path.write_text(text)
    with pytest.raises(InputError, match=words) as err:
        load_schema(path)
    assert rule in str(err.value) and "\n" not in str(err.value)


def test_declared_rules_round_trip_through_yaml(adult_schema, tmp_path):
    schema = with_rules(adult_schema, ["capital-loss <= fnlwgt",
                                       "education-num is determined by education"])
    assert load_schema(schema.save_yaml(tmp_path / "s.yaml")).rules == schema.rules


def test_rows_of_a_table_with_its_own_index_are_named_by_that_index(adult, adult_schema):
    bad = adult.head(50).copy()
    bad.index = bad.index + 1000
    bad.loc[1003, "age"] = -5
    with pytest.raises(SchemaViolation) as caught:
        validate(bad, adult_schema)
    assert "(rows by the table's index)" in str(caught.value)
    assert "-5 at row 1003" in str(caught.value)


def test_discovered_rules_round_trip_and_an_empty_list_is_kept(adult, tmp_path):
    schema = infer_schema(adult, "adult")
    assert schema.discovered_rules is None and "discovered_rules" not in schema.to_yaml()
    for listed in (["education-num is determined by education"], []):
        schema.discovered_rules = listed
        assert load_schema(schema.save_yaml(tmp_path / "s.yaml")).discovered_rules == listed
