"""DatabaseSynthesizer on a slice of the bundled flights database: every foreign key points
to a generated parent (or is null or an orphan, as the real rows are), keys are new, the
children per parent and a child's columns follow its parent, and models are data."""
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from synthvae.relational import DatabaseSynthesizer, DatasetSchemaError, infer_dataset_schema
from synthvae.relational.synthesizer import training_frame

FLIGHTS = Path(__file__).resolve().parents[1] / "data" / "flights"
QUICK = {"epochs": 12, "hidden_dim": 64, "latent_dim": 8, "prior_components": 5}


@pytest.fixture(scope="module")
def tables() -> dict[str, pd.DataFrame]:
    """Airlines, airports, 3,000 flights, the planes they fly and 400 planes more."""
    t = {name: pd.read_csv(FLIGHTS / f"{name}.csv.gz")
         for name in ("airlines", "airports", "planes", "flights")}
    flights = t["flights"].sample(3000, random_state=0).reset_index(drop=True)
    planes = t["planes"]
    flown = planes["tailnum"].isin(flights["tailnum"])
    t["planes"] = pd.concat([planes[flown], planes[~flown].sample(400, random_state=0)]
                            ).sort_index().reset_index(drop=True)
    t["flights"] = flights
    return t


@pytest.fixture(scope="module")
def fitted(tables) -> DatabaseSynthesizer:
    return DatabaseSynthesizer(orphans="keep", random_state=0, **QUICK).fit(tables)


@pytest.fixture(scope="module")
def database(fitted) -> dict[str, pd.DataFrame]:
    return fitted.sample(random_state=0)


def test_every_table_comes_back_with_its_columns_dtypes_and_about_its_rows(tables, database):
    for name, real in tables.items():
        synth = database[name]
        assert list(synth.columns) == list(real.columns), name
        assert synth.dtypes.astype(str).to_dict() == real.dtypes.astype(str).to_dict(), name
    for name in ("airlines", "airports", "planes"):
        assert len(database[name]) == len(tables[name])
    assert abs(len(database["flights"]) / len(tables["flights"]) - 1) < 0.25


def test_foreign_keys_point_to_generated_parents_or_are_null_or_orphans_at_the_real_rate(
        tables, database):
    for child, column, parent, key in [("flights", "tailnum", "planes", "tailnum"),
                                       ("flights", "carrier", "airlines", "carrier"),
                                       ("flights", "origin", "airports", "faa"),
                                       ("flights", "dest", "airports", "faa")]:
        def rates(db):
            values = db[child][column]
            found = values.isin(db[parent][key])
            return values.isna().mean(), (values.notna() & ~found).mean()
        real_null, real_orphan = rates(tables)
        null, orphan = rates(database)
        assert abs(null - real_null) < 0.01 and abs(orphan - real_orphan) < 0.03, column
        if real_orphan == 0:
            assert orphan == 0, column  # referential integrity where the real rows keep it


def test_keys_are_generated_never_copied(tables, database):
    for name, key in [("airlines", "carrier"), ("airports", "faa"), ("planes", "tailnum")]:
        synth = database[name][key]
        assert synth.is_unique and synth.notna().all()
        assert not synth.isin(tables[name][key]).any(), name
    # orphan keys are new too, and none is a generated plane's
    orphans = database["flights"]["tailnum"].dropna()
    orphans = orphans[~orphans.isin(database["planes"]["tailnum"])]
    assert len(orphans) and not orphans.isin(tables["planes"]["tailnum"]).any()


def test_children_per_parent_and_a_childs_columns_follow_the_parent(tables, database):
    def per_plane(db):
        n = db["flights"]["tailnum"].value_counts()
        return n.reindex(db["planes"]["tailnum"]).fillna(0)
    real, synth = per_plane(tables), per_plane(database)
    assert abs((synth == 0).mean() - (real == 0).mean()) < 0.1
    assert abs(synth.mean() - real.mean()) < 0.3 * real.mean()

    # a plane's seats say which airline flies it: JetBlue's have 100-200, ExpressJet's < 60
    def seats_by_airline(db):
        joined = db["flights"].merge(db["planes"], on="tailnum").merge(
            db["airlines"].rename(columns={"name": "airline"}), on="carrier")
        return joined.groupby("airline")["seats"].median()
    real_seats, synth_seats = seats_by_airline(tables), seats_by_airline(database)
    assert real_seats["JetBlue Airways"] > 2 * real_seats["ExpressJet Airlines Inc."]
    # (weaker after these few epochs, but there: with no link both would be the overall 149)
    assert synth_seats["JetBlue Airways"] > 1.2 * synth_seats["ExpressJet Airlines Inc."]
    # a plane flies for one airline, as in the real rows
    assert database["flights"].dropna(subset=["tailnum"]).groupby("tailnum")[
        "carrier"].nunique().max() == 1


def test_three_origins_as_in_the_real_flights(tables, database):
    """Three airports of 1,458 are every flight's origin: too rare for the airports' model
    to generate their counts, so the flights are clustered onto three generated airports."""
    assert tables["flights"]["origin"].nunique() == 3
    assert database["flights"]["origin"].nunique() == 3


def test_same_seed_same_database_and_save_load_keeps_it(fitted, database, tmp_path):
    again = fitted.sample(random_state=0)
    assert all(again[name].equals(database[name]) for name in database)
    path = fitted.save(tmp_path / "model")
    files = sorted(p.suffix for p in path.rglob("*") if p.is_file())
    assert set(files) == {".json", ".safetensors"}  # data only: nothing that runs on load
    assert json.loads((path / "dataset.json").read_text())["format_version"] == 1
    loaded = DatabaseSynthesizer.load(path)
    reloaded = loaded.sample(random_state=0)
    assert all(reloaded[name].equals(database[name]) for name in database)


def test_scale_and_conditions_on_a_parent_table(fitted, tables):
    half = fitted.sample(scale=0.5, random_state=1)
    assert len(half["planes"]) == round(0.5 * len(tables["planes"]))
    boeing = fitted.sample(random_state=1, conditions={"planes": {"manufacturer": "BOEING"}})
    assert (boeing["planes"]["manufacturer"] == "BOEING").all()
    flown = boeing["flights"]["tailnum"]
    in_planes = flown.isin(boeing["planes"]["tailnum"])
    assert in_planes.sum() > 100
    with pytest.raises(ValueError, match="only tables without foreign keys"):
        fitted.sample(conditions={"flights": {"origin": "JFK"}})
    with pytest.raises(ValueError, match="scale"):
        fitted.sample(scale=0)


def test_training_frame_holds_parent_columns_links_and_counts(tables):
    schema = infer_dataset_schema(tables)
    checked, _ = schema.check(tables, orphans="keep")
    frame = training_frame("flights", checked, schema)
    assert frame.columns[0] == "tailnum.__link"  # the context parent's columns come first
    assert set(frame["tailnum.__link"]) == {"parent", "null", "orphan"}
    assert "tailnum" not in frame and "tailnum.seats" in frame and "dest.lat" in frame
    planes = training_frame("planes", checked, schema)
    n = planes.set_index(checked["planes"]["tailnum"])["__n.flights.tailnum"]
    real = checked["flights"]["tailnum"].value_counts()
    flown = n[n > 0]
    assert flown.sort_index().to_dict() == real[real.index.isin(n.index)].sort_index().to_dict()
    assert n.sum() == checked["flights"]["tailnum"].isin(checked["planes"]["tailnum"]).sum()


def test_orphans_refused_by_default_and_bad_arguments(tables):
    with pytest.raises(DatasetSchemaError, match="flights.tailnum -> planes.tailnum"):
        DatabaseSynthesizer(**QUICK).fit(tables)
    with pytest.raises(TypeError, match="dict"):
        DatabaseSynthesizer(**QUICK).fit([tables["planes"]])
    with pytest.raises(RuntimeError, match="not fitted"):
        DatabaseSynthesizer().sample()
    with pytest.raises(ValueError, match="table_params"):
        DatabaseSynthesizer(table_params={"pilots": {}}, **QUICK).fit(tables)
