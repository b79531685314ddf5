"""One kind per column, read alike by the model, the drafted schema, the scores and the report.

The tables under tests/data/kinds/ are the first 300 rows of real tables (see
/work/shared/datasets' README for their sources), kept as the source writes them.
"""
from __future__ import annotations

import datetime
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from synthvae.columns import TableEncoder
from synthvae.evaluation.fidelity import score, sdmetrics_metadata
from synthvae.io import InputError, read_table
from synthvae.kinds import datetime_format, detect_kind, sdtype
from synthvae.report.html import render_report
from synthvae.report.html.values import resolve_kinds
from synthvae.schema import SchemaViolation, infer_schema, load_schema, validate

DATA = Path(__file__).parent / "data" / "kinds"
TABLES = sorted(p.name.split(".")[0] for p in DATA.glob("*.csv.gz"))


def real(name: str) -> pd.DataFrame:
    return read_table(DATA / f"{name}.csv.gz")


def model_kinds(df: pd.DataFrame, column_kinds: dict[str, str] | None = None) -> dict[str, str]:
    return TableEncoder(column_kinds).fit(df, np.random.default_rng(0)).kinds


def test_there_is_one_detector_and_any_module_can_be_imported_first():
    import synthvae.columns

    assert not hasattr(synthvae.columns, "detect_kind")
    for module in ("synthvae.kinds", "synthvae.evaluation.fidelity", "synthvae.columns",
                   "synthvae.report.html", "synthvae.run.steps", "synthvae.schema"):
        done = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True,
                              text=True)
        assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("name", TABLES)
def test_the_drafted_schema_names_the_kind_the_model_fits(name, tmp_path):
    df = real(name)
    schema = load_schema(infer_schema(df, name).save_yaml(tmp_path / f"{name}.yaml"))
    validate(df, schema)  # the draft accepts the table it was drafted from
    assert schema.kinds() == model_kinds(df)
    # The flow fits with the schema's kinds: that must change nothing.
    assert model_kinds(df, schema.kinds()) == model_kinds(df)


@pytest.mark.parametrize("name, column, kind", [
    # Each was drafted as one kind and modelled as another before there was one detector.
    ("spam_email", "time", "datetime"),            # 2012-01-16T21:32:18Z: was modelled as id
    ("trump_tweets", "created_at", "datetime"),    # ditto
    ("nyc_weather", "time_hour", "datetime"),      # 2013-06-19T05:00:00Z: was categorical
    ("nyc_weather", "year", "constant"),           # was drafted numeric
    ("trump_tweets", "is_retweet", "constant"),    # was drafted boolean
    ("trump_tweets", "id_str", "id"),              # was drafted numeric
    ("pizzaplace", "time", "time"),                # 11:58:56: was drafted categorical
    ("birds", "date", "datetime"),                 # 10/31/1996 0:00:00: was drafted categorical
    ("police_force", "response_datetime", "datetime"),  # 2017/01/18 23:35:59: ditto
])
def test_real_columns_get_one_kind_everywhere(name, column, kind):
    df = real(name)
    assert detect_kind(df[column]) == kind
    assert infer_schema(df, name).columns[column].kind == kind
    assert model_kinds(df)[column] == kind
    assert resolve_kinds({}, df, df, list(df.columns), None)[column] == kind
    expected = sdtype(kind)
    if expected == "numerical" and df[column].nunique() <= 15:
        expected = "categorical"
    assert sdmetrics_metadata(df)["columns"][column]["sdtype"] == expected


def test_scores_parse_dates_and_times_in_the_form_the_table_writes_them():
    columns = {**sdmetrics_metadata(real("nyc_weather"))["columns"],
               **sdmetrics_metadata(real("pizzaplace"))["columns"],
               **sdmetrics_metadata(real("birds"))["columns"]}
    assert columns["time_hour"] == {"sdtype": "datetime", "datetime_format": "%Y-%m-%dT%H:%M:%SZ"}
    assert columns["time"] == {"sdtype": "datetime", "datetime_format": "%H:%M:%S"}
    assert columns["date"] == {"sdtype": "datetime", "datetime_format": "%m/%d/%Y %H:%M:%S"}
    birds = real("birds")["date"]
    parsed = pd.to_datetime(birds, format=columns["date"]["datetime_format"], errors="coerce")
    assert parsed.notna().sum() == birds.notna().sum()


def test_a_kind_scores_do_not_know_is_refused_naming_the_column():
    with pytest.raises(ValueError, match=r"'temp'.*unknown kind 'float'"):
        sdmetrics_metadata(real("nyc_weather"), {"temp": "float"})
    assert datetime_format(real("nyc_weather")["temp"], "numeric") is None


def zoned_table() -> pd.DataFrame:
    """nyc_weather's hours as Parquet holds them: zoned timestamps in microseconds (UTC, a
    named zone, a fixed offset) and dates as date32."""
    df = real("nyc_weather")[["origin", "temp", "humid", "wind_dir", "time_hour"]]
    hours = pd.to_datetime(df.pop("time_hour"), utc=True)
    table = pa.Table.from_pandas(df, preserve_index=False).append_column(
        "time_hour", pa.array(hours.dt.tz_convert(None).to_numpy("datetime64[us]"),
                              pa.timestamp("us", tz="UTC")))
    table = table.append_column("local_hour", table["time_hour"].cast(
        pa.timestamp("ms", tz="America/New_York")))
    table = table.append_column("offset_hour", table["time_hour"].cast(
        pa.timestamp("us", tz="+02:00")))
    table = table.append_column("day", pa.array(hours.dt.date, pa.date32()))
    return table


def test_parquet_zoned_timestamps_and_dates_are_drafted_and_checked(tmp_path):
    path = tmp_path / "zoned.parquet"
    pq.write_table(zoned_table(), path)
    df = read_table(path)
    assert isinstance(df["day"].iloc[0], datetime.date)
    schema = infer_schema(df, "zoned")
    assert {c: schema.columns[c].dtype for c in ("time_hour", "local_hour", "offset_hour", "day")} \
        == {"time_hour": "datetime64[ns, UTC]", "local_hour": "datetime64[ns, America/New_York]",
            "offset_hour": "datetime64[ns, +02:00]", "day": "date"}
    assert {schema.columns[c].kind for c in ("time_hour", "local_hour", "offset_hour", "day")} \
        == {"datetime"}
    assert schema.columns["day"].min == datetime.date(2013, 1, 1)
    reloaded = load_schema(schema.save_yaml(tmp_path / "zoned.yaml"))
    assert reloaded == schema
    validate(df, reloaded)  # [us] and [ms] columns pass a schema that writes [ns]

    moved = df.assign(local_hour=df["local_hour"].dt.tz_convert("Europe/Paris"),
                      day=df["day"].astype(str))
    with pytest.raises(SchemaViolation) as caught:
        validate(moved, reloaded)
    message = str(caught.value)
    assert "local_hour: dtype must be datetime64[ns, America/New_York], got datetime64[ms, " \
           "Europe/Paris]" in message
    assert "day: dtype must be date" in message


def test_times_of_day_as_objects_are_drafted_and_checked(tmp_path):
    times = pd.to_datetime(real("pizzaplace")["time"], format="%H:%M:%S").dt.time
    df = pd.DataFrame({"time": times, "price": real("pizzaplace")["price"]})
    schema = load_schema(infer_schema(df, "pizza").save_yaml(tmp_path / "pizza.yaml"))
    assert (schema.columns["time"].kind, schema.columns["time"].dtype) == ("time", "time")
    validate(df, schema)
    with pytest.raises(SchemaViolation, match=r"time: dtype must be time .* '11:58:56' at row 1"):
        validate(df.assign(time=df["time"].astype(str)), schema)


def test_generate_runs_on_parquet_with_zoned_timestamps_and_dates(run_cli, tmp_path):
    source = tmp_path / "zoned.parquet"
    pq.write_table(zoned_table(), source)
    output = tmp_path / "out"
    result = run_cli("flows.generate", "--input", source, "--rows", 100, "--epochs", 2,
                     "--output", output)
    assert result.returncode == 0, result.stderr[-3000:]
    synthetic = pd.read_parquet(output / "synthetic.parquet")
    assert len(synthetic) == 100
    assert str(synthetic["time_hour"].dtype).endswith(", UTC]")
    assert str(synthetic["local_hour"].dt.tz) == "America/New_York"
    assert isinstance(synthetic["day"].dropna().iloc[0], datetime.date)
    validate(synthetic, load_schema(output / "schema.draft.yaml"))


def test_a_column_of_one_unsupported_type_is_named_as_such():
    df = real("pizzaplace")[["id"]].assign(raw=lambda t: t["id"].str.encode("ascii"))
    with pytest.raises(InputError, match=r"^column 'raw' holds bytes values, which schemas do "
                                         r"not support; convert it"):
        infer_schema(df, "pizza")


def test_the_report_plots_times_of_day_on_a_clock():
    df = real("pizzaplace")
    page = render_report({}, df, df.sample(frac=1, random_state=1))
    cards = re.findall(r'<div class="card" id="c\d+">.*?</ul></div>', page, flags=re.DOTALL)
    card = dict(zip(df.columns, cards))["time"]
    assert ">time<" in card and "<svg" in card
    first, last = df["time"].min()[:5], df["time"].max()[:5]
    assert f"range {first} … {last} / {first} … {last}" in card


def test_scores_read_timestamps_whose_offset_changes_with_the_season():
    df = real("nyc_weather")[["temp", "time_hour"]]
    local = pd.to_datetime(df["time_hour"], utc=True).dt.tz_convert("America/New_York")
    df = df.assign(time_hour=[t.isoformat() for t in local])  # -05:00 in winter, -04:00 in summer
    assert df["time_hour"].str[-6:].nunique() == 2
    columns = score(df, df.sample(frac=1, random_state=0))["columns"]
    assert columns["time_hour"] == 1.0  # the same rows: every timestamp read


def test_free_text_that_sometimes_repeats_is_text_not_a_category():
    # Incident reports: a few stock phrases repeat, most rows hold a sentence of their own
    # (84% distinct: under the 90% that makes a column near-unique).
    stock = ["NO DAMAGE.", "NO DAMAGE OR DELAY.", "BIRD REMAINS FOUND ON RWY."]
    own = [f"FLT {i} STRUCK A BIRD ON FINAL APPROACH, ENG {i % 4 + 1} INSPECTED." for i in range(840)]
    reports = pd.Series(own + stock * 53, name="remarks")
    assert 0.5 < reports.nunique() / len(reports) < 0.9
    assert detect_kind(reports) == "text"
    # Categories with spaces that repeat stay categories.
    jobs = pd.Series(["Tech support", "Craft repair", "Other service"] * 300, name="occupation")
    assert detect_kind(jobs) == "categorical"


def test_a_key_that_repeats_is_an_id_and_a_code_that_repeats_is_not():
    # covid_testing's subject_id: 462 subjects over 774 tests, each test a row
    tests = read_table(Path(__file__).parent / "data" / "groups" / "covid_testing.csv.gz")
    assert detect_kind(tests["subject_id"]) == "id"
    assert infer_schema(tests, "covid_testing").columns["subject_id"].kind == "id"
    assert detect_kind(tests["subject_id"].rename("zip_code")) == "numeric"
    assert detect_kind(tests["subject_id"].rename("subjects")) == "numeric"
    # a key of a few big groups (plots of a survey) is a value, not a key of groups
    assert detect_kind((tests["subject_id"] % 20).rename("plot_id")) == "numeric"
    orders = read_table(Path(__file__).parent / "data" / "groups" / "pizzaplace.csv.gz")
    assert detect_kind(orders["id"]) == "id"
    assert detect_kind(orders["id"].rename("order")) == "categorical"
