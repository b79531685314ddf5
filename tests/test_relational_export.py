"""A synthetic database written out and read back with SQL: a real PostgreSQL server
(started from the `pgserver` wheel in the test itself), SQLite, DuckDB and Parquet. Keys and
foreign keys are declared and enforced; row counts and joins survive the trip."""
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from synthvae.relational import DatabaseSynthesizer, infer_dataset_schema
from synthvae.relational.export import write_database

FLIGHTS = Path(__file__).resolve().parents[1] / "data" / "flights"
QUICK = {"epochs": 5, "hidden_dim": 32, "latent_dim": 8, "prior_components": 3}


@pytest.fixture(scope="module")
def database():
    """A quick synthetic copy of airlines, planes and 1,500 of their flights (the rows whose
    plane is known), with its schema."""
    t = {name: pd.read_csv(FLIGHTS / f"{name}.csv.gz") for name in ("airlines", "planes", "flights")}
    flights = t["flights"]
    flights = flights[flights["tailnum"].isin(t["planes"]["tailnum"])].sample(1500, random_state=0)
    t["flights"] = flights.drop(columns=["origin", "dest"]).reset_index(drop=True)
    t["planes"] = t["planes"][t["planes"]["tailnum"].isin(flights["tailnum"])]
    schema = infer_dataset_schema(t)
    synth = DatabaseSynthesizer(random_state=0, **QUICK).fit(t, schema).sample(random_state=0)
    return synth, schema


def _check_sql(engine: sa.Engine, synth: dict[str, pd.DataFrame]) -> None:
    with engine.connect() as con:
        for name, df in synth.items():
            assert con.execute(sa.text(f'select count(*) from "{name}"')).scalar() == len(df)
        joined = con.execute(sa.text(
            "select count(*) from flights f join planes p on f.tailnum = p.tailnum "
            "join airlines a on f.carrier = a.carrier")).scalar()
        assert joined == synth["flights"]["tailnum"].notna().sum()
        fks = sa.inspect(con).get_foreign_keys("flights")
        assert {(fk["constrained_columns"][0], fk["referred_table"]) for fk in fks} == {
            ("tailnum", "planes"), ("carrier", "airlines")}
        assert sa.inspect(con).get_pk_constraint("planes")["constrained_columns"] == ["tailnum"]
    # enforced, not only declared: a flight of a plane that does not exist is refused
    with pytest.raises(sa.exc.IntegrityError):
        with engine.begin() as con:
            con.execute(sa.text("insert into flights (tailnum, carrier) values "
                                "('NOPLANE', (select min(carrier) from airlines))"))


def test_postgresql_loads_with_keys_declared_and_enforced(database, tmp_path):
    pgserver = pytest.importorskip("pgserver")
    synth, schema = database
    server = pgserver.get_server(tmp_path / "pg", cleanup_mode="stop")
    try:
        url = server.get_uri()
        assert write_database(synth, schema, url) == []
        engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
        _check_sql(engine, synth)
        engine.dispose()
        # a second load onto the same tables is refused, and changes nothing
        with pytest.raises(FileExistsError, match="already has tables"):
            write_database(synth, schema, url)
    finally:
        server.cleanup()


def test_sqlite_duckdb_and_parquet(database, tmp_path):
    duckdb = pytest.importorskip("duckdb")
    synth, schema = database
    write_database(synth, schema, tmp_path / "qa.sqlite")
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'qa.sqlite'}")

    @sa.event.listens_for(engine, "connect")
    def _foreign_keys_on(connection, _):  # SQLite checks them only when a connection asks
        connection.execute("PRAGMA foreign_keys = ON")
    _check_sql(engine, synth)

    write_database(synth, schema, tmp_path / "qa.duckdb")
    with duckdb.connect(str(tmp_path / "qa.duckdb")) as con:
        assert con.execute("select count(*) from flights").fetchone()[0] == len(synth["flights"])
        with pytest.raises(duckdb.ConstraintException):
            con.execute("insert into flights (tailnum) values ('NOPLANE')")

    write_database(synth, schema, tmp_path / "qa")
    assert sorted(p.name for p in (tmp_path / "qa").iterdir()) == [
        "airlines.parquet", "dataset.yaml", "flights.parquet", "planes.parquet"]
    back = pd.read_parquet(tmp_path / "qa" / "flights.parquet")
    pd.testing.assert_frame_equal(back, synth["flights"])


def test_orphan_keys_leave_their_constraint_undeclared(database, tmp_path):
    synth, schema = database
    broken = dict(synth, flights=synth["flights"].assign(
        tailnum=synth["flights"]["tailnum"].where(synth["flights"].index > 0, "NOPLANE")))
    undeclared = write_database(broken, schema, tmp_path / "qa.sqlite")
    assert [fk.describe() for fk in undeclared] == ["flights.tailnum -> planes.tailnum"]
    fks = sa.inspect(sa.create_engine(f"sqlite:///{tmp_path / 'qa.sqlite'}")).get_foreign_keys(
        "flights")
    assert [fk["referred_table"] for fk in fks] == ["airlines"]


def test_a_part_of_the_database_keeps_every_key(database):
    from synthvae.relational.subset import subset

    synth, schema = database
    part = subset(synth, schema, 0.1, seed=3)
    assert len(part["planes"]) < 0.5 * len(synth["planes"])
    # all the flights of the planes kept, and nothing else of theirs
    kept = synth["flights"]["tailnum"].isin(part["planes"]["tailnum"])
    assert len(part["flights"]) >= kept.sum() and kept.sum() > 0
    for fk in schema.foreign_keys:
        values = part[fk.child][fk.column].dropna()
        assert values.isin(part[fk.parent][fk.parent_column]).all(), fk.describe()
    with pytest.raises(ValueError, match="scale"):
        subset(synth, schema, 1.5)
