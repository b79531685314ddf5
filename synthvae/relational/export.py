"""A whole database written out: Parquet files, SQLite, DuckDB, or any SQLAlchemy URL
(PostgreSQL through psycopg), tables created with their primary and foreign keys declared.

Parents are written before their children, in one transaction where the target has them,
so a failure leaves no half-loaded database; files are written beside their path and renamed
into place. A foreign key is declared (and so enforced by the database) wherever every
value finds its parent; one whose tables hold orphans (keys that the real rows had pointing
nowhere, kept at their real rate) cannot be, and is returned among the undeclared.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pandas as pd

from ..io import atomic_dir
from .schema import DatasetSchema, ForeignKey

FORMATS = ("parquet", "sqlite", "duckdb")


def declarable(tables: dict[str, pd.DataFrame], schema: DatasetSchema
               ) -> tuple[list[ForeignKey], list[ForeignKey]]:
    """The foreign keys every value of which finds its parent, and the others."""
    ok, not_ok = [], []
    for fk in schema.foreign_keys:
        values = tables[fk.child][fk.column].dropna()
        (ok if values.isin(tables[fk.parent][fk.parent_column]).all() else not_ok).append(fk)
    return ok, not_ok


def write_database(tables: dict[str, pd.DataFrame], schema: DatasetSchema, target: str | Path,
                   format: str | None = None) -> list[ForeignKey]:
    """Writes `tables` to `target`: a folder (parquet), a file (sqlite, duckdb: from the
    suffix, .db and .sqlite being SQLite, when `format` is None) or a database URL
    (`postgresql://...`). Returns the foreign keys left undeclared (module doc)."""
    text = str(target)
    if "://" in text:
        return _write_sql(tables, schema, text)
    path = Path(target)
    format = format or {".duckdb": "duckdb", ".db": "sqlite", ".sqlite": "sqlite",
                        ".sqlite3": "sqlite"}.get(path.suffix, "parquet")
    if format not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS} or a database URL, got {format!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    if format == "parquet":
        with atomic_dir(path) as tmp:
            for name in schema.order():
                tables[name].to_parquet(tmp / f"{name}.parquet", index=False)
            schema.to_yaml(tmp / "dataset.yaml")
        return declarable(tables, schema)[1]
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    os.unlink(tmp_name)  # the database creates its own file
    try:
        if format == "sqlite":
            undeclared = _write_sql(tables, schema, f"sqlite:///{tmp_name}")
        else:
            undeclared = _write_duckdb(tables, schema, tmp_name)
        os.replace(tmp_name, path)
    finally:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
    return undeclared


def _sql_type(s: pd.Series):
    import sqlalchemy as sa

    if pd.api.types.is_bool_dtype(s):
        return sa.Boolean()
    if pd.api.types.is_integer_dtype(s):
        return sa.BigInteger()
    if pd.api.types.is_float_dtype(s):
        return sa.Float()
    if pd.api.types.is_datetime64_any_dtype(s):
        return sa.DateTime(timezone=getattr(s.dtype, "tz", None) is not None)
    return sa.Text()


def _write_sql(tables: dict[str, pd.DataFrame], schema: DatasetSchema, url: str
               ) -> list[ForeignKey]:
    import sqlalchemy as sa

    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    ok, undeclared = declarable(tables, schema)
    engine = sa.create_engine(url)
    if engine.dialect.name == "sqlite":
        @sa.event.listens_for(engine, "connect")
        def _foreign_keys_on(connection, _):  # SQLite enforces them only when asked
            connection.execute("PRAGMA foreign_keys = ON")
    meta = sa.MetaData()
    for name in schema.order():
        df, spec = tables[name], schema.tables[name]
        columns = []
        for column in df.columns:
            args = [sa.ForeignKey(f"{fk.parent}.{fk.parent_column}") for fk in ok
                    if fk.child == name and fk.column == column]
            columns.append(sa.Column(column, _sql_type(df[column]), *args,
                                     primary_key=column == spec.primary_key,
                                     nullable=column != spec.primary_key))
        sa.Table(name, meta, *columns)
    try:
        with engine.begin() as connection:  # one transaction: all tables or none
            existing = [t for t in schema.order() if sa.inspect(connection).has_table(t)]
            if existing:
                raise FileExistsError(f"{engine.url.render_as_string(hide_password=True)} "
                                      f"already has tables {existing}; drop them or choose "
                                      f"another database")
            meta.create_all(connection)
            for name in schema.order():
                df = tables[name]
                rows = df.astype(object).where(df.notna(), None).to_dict("records")
                if rows:
                    connection.execute(meta.tables[name].insert(), rows)
    finally:
        engine.dispose()
    return undeclared


def _write_duckdb(tables: dict[str, pd.DataFrame], schema: DatasetSchema, path: str
                  ) -> list[ForeignKey]:
    import duckdb

    ok, undeclared = declarable(tables, schema)
    types = {"BOOLEAN": pd.api.types.is_bool_dtype, "BIGINT": pd.api.types.is_integer_dtype,
             "DOUBLE": pd.api.types.is_float_dtype,
             "TIMESTAMP": pd.api.types.is_datetime64_any_dtype}
    with duckdb.connect(path) as con:
        for name in schema.order():
            df, spec = tables[name], schema.tables[name]
            parts = []
            for column in df.columns:
                kind = next((k for k, test in types.items() if test(df[column])), "VARCHAR")
                part = f'"{column}" {kind}'
                if column == spec.primary_key:
                    part += " PRIMARY KEY"
                for fk in ok:
                    if fk.child == name and fk.column == column:
                        part += f' REFERENCES "{fk.parent}"("{fk.parent_column}")'
                parts.append(part)
            con.execute(f'CREATE TABLE "{name}" ({", ".join(parts)})')
            con.register("frame", df)
            con.execute(f'INSERT INTO "{name}" SELECT * FROM frame')
            con.unregister("frame")
    return undeclared
