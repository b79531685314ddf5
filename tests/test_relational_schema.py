"""Dataset schemas: keys inferred from the bundled flights database, YAML round trips, and
one clear line for what is not supported or does not hold."""
from pathlib import Path

import pandas as pd
import pytest

from synthvae.relational import DatasetSchema, DatasetSchemaError, infer_dataset_schema

FLIGHTS = Path(__file__).resolve().parents[1] / "data" / "flights"
TABLES = ("airlines", "airports", "planes", "flights", "weather")


@pytest.fixture(scope="module")
def tables() -> dict[str, pd.DataFrame]:
    return {name: pd.read_csv(FLIGHTS / f"{name}.csv.gz") for name in TABLES}


def test_keys_of_the_flights_database_are_inferred(tables):
    schema = infer_dataset_schema(tables)
    keys = {name: t.primary_key for name, t in schema.tables.items()}
    assert keys == {"airlines": "carrier", "airports": "faa", "planes": "tailnum",
                    "flights": None, "weather": None}
    assert schema.tables["flights"].foreign_keys == {
        "carrier": "airlines.carrier", "tailnum": "planes.tailnum",
        "origin": "airports.faa", "dest": "airports.faa"}
    assert schema.tables["weather"].foreign_keys == {"origin": "airports.faa"}
    # a flight is drawn beside its plane, the largest of its parents
    assert schema.context("flights").column == "tailnum"
    order = schema.order()
    assert order.index("planes") < order.index("flights") > order.index("airports")
    # numbers are not keys by their values alone: flights.month is not an airport
    assert "month" not in schema.tables["flights"].foreign_keys


def test_yaml_round_trip(tables, tmp_path):
    schema = infer_dataset_schema(tables)
    schema.to_yaml(tmp_path / "dataset.yaml")
    again = DatasetSchema.from_yaml(tmp_path / "dataset.yaml")
    assert again.to_dict() == schema.to_dict()


@pytest.mark.parametrize("tables_yaml, message", [
    ({"a": {"primary_key": ["x", "y"]}}, "composite primary key"),
    ({"a": {"primary_key": "id", "foreign_keys": {"boss": "a.id"}}}, "self-reference"),
    ({"a": {"primary_key": "id", "foreign_keys": {"b_id": "b.id"}},
      "b": {"primary_key": "id", "foreign_keys": {"a_id": "a.id"}}}, "cycle"),
    ({"a": {"primary_key": "id"}, "b": {"foreign_keys": {"a_id": "a.name"}}},
     "is not 'a''s primary key"),
    ({"b": {"foreign_keys": {"a_id": "a.id"}}}, "no table 'a'"),
    ({"a": {"primary_key": "id"}, "b": {"foreign_keys": {"x": "a.(id,k)"}}}, "composite foreign"),
    ({"a": {"primary_key": "id"}, "b": {"foreign_keys": {"a_id": "a.id"}, "context": "z"}},
     "context 'z'"),
])
def test_unsupported_structures_are_refused_in_one_line(tables_yaml, message):
    with pytest.raises(DatasetSchemaError, match=message.replace("(", r"\(")) as err:
        DatasetSchema.from_dict({"tables": tables_yaml})
    assert "\n" not in str(err.value)


def test_orphans_are_counted_and_refused_kept_or_dropped(tables):
    schema = infer_dataset_schema(tables)
    real = tables["flights"]
    n = int((real["tailnum"].notna() & ~real["tailnum"].isin(tables["planes"]["tailnum"])).sum())
    assert n > 1000
    with pytest.raises(DatasetSchemaError, match=rf"flights.tailnum -> planes.tailnum: {n} of "
                       rf"20000 rows hold values missing from planes.tailnum, e.g. \['N"):
        schema.check(tables)
    kept, found = schema.check(tables, orphans="keep")
    assert found["flights.tailnum -> planes.tailnum"] == n and len(kept["flights"]) == 20000
    dropped, _ = schema.check(tables, orphans="drop")
    lost = (real["tailnum"].notna() & ~real["tailnum"].isin(tables["planes"]["tailnum"])) | (
        ~real["dest"].isin(tables["airports"]["faa"]))
    assert len(dropped["flights"]) == int((~lost).sum())


def test_tables_that_break_their_keys_are_refused(tables):
    schema = infer_dataset_schema(tables)
    twice = dict(tables, planes=pd.concat([tables["planes"], tables["planes"].head(2)]))
    with pytest.raises(DatasetSchemaError, match=r"planes.tailnum \(primary key\): 2 duplicated"):
        schema.check(twice, orphans="keep")
    with pytest.raises(DatasetSchemaError, match=r"missing \['weather'\]"):
        schema.check({k: v for k, v in tables.items() if k != "weather"})
