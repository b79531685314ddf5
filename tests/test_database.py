"""`python -m flows.generate --dataset DIR` and `python -m flows.pull` of a database, run as a
user runs them: bad input refused in one line before Prefect starts, a whole database written,
published and pulled into SQLite and a part of it into Parquet."""
import json
import sqlite3
from pathlib import Path

import pandas as pd
import pytest

FLIGHTS = Path(__file__).resolve().parents[1] / "data" / "flights"


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    """Airlines, 300 planes and 800 of their flights, as CSV files of one folder."""
    folder = tmp_path_factory.mktemp("db")
    planes = pd.read_csv(FLIGHTS / "planes.csv.gz").sample(300, random_state=0)
    flights = pd.read_csv(FLIGHTS / "flights.csv.gz")
    flights = flights[flights["tailnum"].isin(planes["tailnum"])].head(800)
    pd.read_csv(FLIGHTS / "airlines.csv.gz").to_csv(folder / "airlines.csv", index=False)
    planes.to_csv(folder / "planes.csv", index=False)
    flights.drop(columns=["origin", "dest"]).to_csv(folder / "flights.csv", index=False)
    return folder


def test_bad_datasets_exit_2_in_one_line_before_training(run_cli, dataset, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    for f in dataset.iterdir():
        (bad / f.name).write_bytes(f.read_bytes())
    orphan = pd.read_csv(bad / "flights.csv")
    orphan.loc[0, "tailnum"] = "NOPLANE"
    orphan.to_csv(bad / "flights.csv", index=False)
    done = run_cli("flows.generate", "--dataset", bad, "--output", tmp_path / "out")
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "error: foreign key flights.tailnum -> planes.tailnum: 1 of 800 rows hold values "
        "missing from planes.tailnum, e.g. ['NOPLANE'] (keep them as orphans or drop their "
        "rows)")
    one_to_one = tmp_path / "one_to_one.yaml"
    one_to_one.write_text("tables:\n  airlines: {primary_key: carrier, foreign_keys: "
                      "{carrier: planes.tailnum}}\n  planes: {primary_key: tailnum}\n"
                      "  flights: {}\n")
    done = run_cli("flows.generate", "--dataset", dataset, "--schema", one_to_one)
    assert done.returncode == 2 and "both the primary key and a foreign key" in done.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_generate_publish_and_pull_a_database(run_cli, dataset, tmp_path):
    out, catalog = tmp_path / "out", tmp_path / "catalog"
    done = run_cli("flows.generate", "--dataset", dataset, "--output", out, "--epochs", "3",
                   "--publish", "fleet", "--catalog", catalog)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "multi-table quality" in done.stdout and "published as" in done.stdout
    assert sorted(p.name for p in (out / "tables").iterdir()) == [
        "airlines.parquet", "flights.parquet", "planes.parquet"]
    report = json.loads((out / "report.json").read_text())
    assert report["scores"]["referential_integrity"] == {
        "flights.carrier -> airlines.carrier": 1.0, "flights.tailnum -> planes.tailnum": 1.0}
    assert 0 < report["scores"]["quality"] <= 1
    assert (out / "dataset.draft.yaml").is_file() and (out / "model" / "dataset.json").is_file()

    done = run_cli("flows.pull", "--dataset", "fleet", "--catalog", catalog,
                   "--out", tmp_path / "qa.sqlite")
    assert done.returncode == 0, done.stderr
    assert "every foreign key declared" in done.stdout
    with sqlite3.connect(tmp_path / "qa.sqlite") as con:
        n = con.execute("select count(*) from flights").fetchone()[0]
        assert n == report["rows"]["flights"]["synthetic"]
        assert con.execute("select count(*) from flights f join planes p using (tailnum)"
                           ).fetchone()[0] == n

    done = run_cli("flows.pull", "--dataset", "fleet", "--catalog", catalog, "--scale", "0.2",
                   "--out", tmp_path / "part")
    assert done.returncode == 0, done.stderr
    planes = pd.read_parquet(tmp_path / "part" / "planes.parquet")
    flights = pd.read_parquet(tmp_path / "part" / "flights.parquet")
    assert 0 < len(planes) < 0.5 * report["rows"]["planes"]["synthetic"]
    assert flights["tailnum"].dropna().isin(planes["tailnum"]).all()

    done = run_cli("flows.pull", "--dataset", "fleet", "--catalog", catalog, "--rows", "5")
    assert done.returncode == 2 and "--scale" in done.stderr
