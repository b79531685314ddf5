"""A dataset of related tables: each table's primary key and the foreign keys between them.

In YAML (`DatasetSchema.from_yaml`, `to_yaml`):

    tables:
      planes:
        primary_key: tailnum
      flights:
        foreign_keys:
          tailnum: planes.tailnum      # child column: parent table.parent column
          origin: airports.faa
        context: tailnum               # the parent its rows are drawn beside (default: the first)

A table's `context` foreign key makes it a child of that parent: its rows are drawn beside
their parent row and the number of them each parent has is learned with the parent. Its other
foreign keys are matched to generated parents afterwards (`synthvae.relational.synthesizer`).

What is not supported is refused in one line naming the tables and columns, before any
training: a composite key, a self-reference, a cycle, a key that is not unique, a foreign key
to a column that is not its parent's primary key. Foreign key values missing from the parent
(orphans) are counted and, as the caller chooses, refused, kept as orphans, or dropped.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from ..io import InputError

ORPHANS = ("error", "keep", "drop")
# Inference: a foreign key's non-null values must mostly be the parent key's; a column of
# another name than the parent key's must nearly always be (so `dest` finds `airports.faa`
# but `month` does not find a numbered id), and integers only match by name.
SAME_NAME_INCLUSION = 0.5
OTHER_NAME_INCLUSION = 0.95


class DatasetSchemaError(InputError):
    """A dataset schema that cannot be used, or tables that do not keep it: one line."""


@dataclass
class ForeignKey:
    child: str
    column: str
    parent: str
    parent_column: str

    def describe(self) -> str:
        return f"{self.child}.{self.column} -> {self.parent}.{self.parent_column}"


@dataclass
class TableSpec:
    primary_key: str | None = None
    foreign_keys: dict[str, str] = field(default_factory=dict)  # column -> "parent.column"
    context: str | None = None
    column_kinds: dict[str, str] = field(default_factory=dict)


@dataclass
class DatasetSchema:
    tables: dict[str, TableSpec]

    # ----------------------------------------------------------------- reading
    @classmethod
    def from_dict(cls, data: Any) -> DatasetSchema:
        if not isinstance(data, dict) or not isinstance(data.get("tables"), dict) \
                or not data["tables"]:
            raise DatasetSchemaError("a dataset schema needs a `tables:` mapping of table "
                                     "names to their keys")
        tables = {}
        for name, spec in data["tables"].items():
            spec = spec or {}
            if not isinstance(spec, dict):
                raise DatasetSchemaError(f"table {name!r}: expected a mapping, got {spec!r}")
            unknown = set(spec) - {"primary_key", "foreign_keys", "context", "column_kinds"}
            if unknown:
                raise DatasetSchemaError(f"table {name!r}: unknown fields {sorted(unknown)}")
            pk = spec.get("primary_key")
            if isinstance(pk, (list, tuple)):
                if len(pk) != 1:
                    raise DatasetSchemaError(
                        f"table {name!r}: composite primary key {list(pk)} is not supported; "
                        f"add a single key column")
                pk = pk[0]
            fks = {}
            for column, target in (spec.get("foreign_keys") or {}).items():
                if isinstance(column, (list, tuple)) or not isinstance(target, str) \
                        or target.count(".") != 1 or "," in target:
                    raise DatasetSchemaError(
                        f"table {name!r}: foreign key {column!r}: {target!r} is not "
                        f"'parent.column' (composite foreign keys are not supported)")
                fks[str(column)] = target
            tables[str(name)] = TableSpec(None if pk is None else str(pk), fks,
                                          spec.get("context"), dict(spec.get("column_kinds") or {}))
        schema = cls(tables)
        schema.check_structure()
        return schema

    @classmethod
    def from_yaml(cls, path: str | Path) -> DatasetSchema:
        try:
            data = yaml.safe_load(Path(path).read_text())
        except yaml.YAMLError as err:
            raise DatasetSchemaError(f"{path}: not valid YAML: {err}") from None
        return cls.from_dict(data)

    def to_dict(self) -> dict[str, Any]:
        out = {}
        for name, t in self.tables.items():
            spec: dict[str, Any] = {}
            if t.primary_key:
                spec["primary_key"] = t.primary_key
            if t.foreign_keys:
                spec["foreign_keys"] = dict(t.foreign_keys)
                spec["context"] = self.context(name).column
            if t.column_kinds:
                spec["column_kinds"] = dict(t.column_kinds)
            out[name] = spec
        return {"tables": out}

    def to_yaml(self, path: str | Path | None = None) -> str:
        text = yaml.safe_dump(self.to_dict(), sort_keys=False)
        if path is not None:
            Path(path).write_text(text)
        return text

    # --------------------------------------------------------------- structure
    @property
    def foreign_keys(self) -> list[ForeignKey]:
        out = []
        for child, t in self.tables.items():
            for column, target in t.foreign_keys.items():
                parent, parent_column = target.split(".")
                out.append(ForeignKey(child, column, parent, parent_column))
        return out

    def context(self, table: str) -> ForeignKey | None:
        """The foreign key whose parent row `table`'s rows are drawn beside, if any."""
        fks = [fk for fk in self.foreign_keys if fk.child == table]
        if not fks:
            return None
        wanted = self.tables[table].context
        return next(fk for fk in fks if fk.column == wanted) if wanted else fks[0]

    def children(self, table: str) -> list[ForeignKey]:
        """The context foreign keys that make tables children of `table`."""
        return [fk for name in self.tables if (fk := self.context(name)) and fk.parent == table]

    def order(self) -> list[str]:
        """Tables with every parent before its children (for any foreign key)."""
        done: list[str] = []
        pending = dict.fromkeys(self.tables)
        while pending:
            ready = [t for t in pending
                     if all(fk.parent in done for fk in self.foreign_keys if fk.child == t)]
            if not ready:
                cycle = sorted(pending)
                raise DatasetSchemaError(f"the foreign keys of tables {cycle} form a cycle; "
                                         f"a cycle of relationships is not supported")
            for t in ready:
                done.append(t)
                del pending[t]
        return done

    def check_structure(self) -> None:
        for fk in self.foreign_keys:
            if fk.parent not in self.tables:
                raise DatasetSchemaError(f"foreign key {fk.describe()}: no table {fk.parent!r}")
            if fk.parent == fk.child:
                raise DatasetSchemaError(
                    f"foreign key {fk.describe()} refers to its own table (a self-reference); "
                    f"not supported")
            if self.tables[fk.parent].primary_key != fk.parent_column:
                raise DatasetSchemaError(
                    f"foreign key {fk.describe()}: {fk.parent}.{fk.parent_column} is not "
                    f"{fk.parent!r}'s primary key (declare `primary_key: {fk.parent_column}`)")
            if fk.column == self.tables[fk.child].primary_key:
                raise DatasetSchemaError(f"{fk.child}.{fk.column} is both the primary key and "
                                         f"a foreign key (a one-to-one table); not supported")
        for name, t in self.tables.items():
            if t.context and t.context not in t.foreign_keys:
                raise DatasetSchemaError(f"table {name!r}: context {t.context!r} is not one of "
                                         f"its foreign keys {sorted(t.foreign_keys)}")
        self.order()

    # -------------------------------------------------------------- the tables
    def check(self, tables: dict[str, pd.DataFrame], orphans: str = "error"
              ) -> tuple[dict[str, pd.DataFrame], dict[str, int]]:
        """The tables checked against the schema: every table and key column present, every
        primary key unique and non-null. Foreign key values missing from the parent
        (orphans): `orphans="error"` refuses them (one line naming the key and how many),
        "keep" keeps them (they are learned and generated at their real rate), "drop" drops
        their rows (and, in turn, their children's orphaned rows). Returns the tables (new
        frames where rows were dropped) and the orphans per foreign key found."""
        if orphans not in ORPHANS:
            raise ValueError(f"orphans must be one of {ORPHANS}, got {orphans!r}")
        missing = sorted(set(self.tables) - set(tables))
        extra = sorted(set(tables) - set(self.tables))
        if missing or extra:
            raise DatasetSchemaError(f"the tables do not match the schema: "
                                     f"missing {missing}, not in the schema {extra}")
        tables = dict(tables)
        for name, t in self.tables.items():
            df = tables[name]
            needed = [c for c in [t.primary_key, *t.foreign_keys] if c]
            absent = [c for c in needed if c not in df.columns]
            if absent:
                raise DatasetSchemaError(f"table {name!r} has no key columns {absent}")
            if t.primary_key:
                key = df[t.primary_key]
                if key.isna().any():
                    raise DatasetSchemaError(f"{name}.{t.primary_key} (primary key): "
                                             f"{int(key.isna().sum())} null values")
                dup = key[key.duplicated()]
                if len(dup):
                    raise DatasetSchemaError(
                        f"{name}.{t.primary_key} (primary key): {len(dup)} duplicated "
                        f"values, e.g. {list(dup.unique()[:3])}")
        found: dict[str, int] = {}
        for name in self.order():
            for fk in (f for f in self.foreign_keys if f.child == name):
                df = tables[name]
                values = df[fk.column]
                lost = values.notna() & ~values.isin(tables[fk.parent][fk.parent_column])
                found[fk.describe()] = n = int(lost.sum())
                if not n or orphans == "keep":
                    continue
                if orphans == "error":
                    raise DatasetSchemaError(
                        f"foreign key {fk.describe()}: {n} of {len(df)} rows hold values "
                        f"missing from {fk.parent}.{fk.parent_column}, e.g. "
                        f"{list(values[lost].unique()[:3])} (keep them as orphans or drop "
                        f"their rows)")
                tables[name] = df[~lost].reset_index(drop=True)
        return tables, found


# ------------------------------------------------------------------- inference
def infer_dataset_schema(tables: dict[str, pd.DataFrame]) -> DatasetSchema:
    """A draft schema from the tables alone: a foreign key where a column's values are
    (mostly) among another table's unique column's values, that column then its table's
    primary key; other tables keep a unique column named like an id as theirs."""
    unique = {name: [c for c in df.columns if _key_like(df[c]) and df[c].notna().all()
                     and df[c].is_unique and len(df) > 1]
              for name, df in tables.items()}
    specs = {name: TableSpec() for name in tables}
    for child, df in tables.items():
        for column in df.columns:
            s = df[column].dropna()
            if not len(s) or not _key_like(df[column]) or column in unique[child][:1] \
                    and _named_like_id(column, child):
                continue
            best = None
            for parent, keys in unique.items():
                if parent == child:
                    continue
                for key in keys:
                    same = _same_name(column, key, parent)
                    if pd.api.types.is_integer_dtype(s) and not same:
                        continue
                    if pd.api.types.is_integer_dtype(s) != pd.api.types.is_integer_dtype(
                            tables[parent][key]):
                        continue
                    inclusion = float(s.isin(tables[parent][key]).mean())
                    needed = SAME_NAME_INCLUSION if same else OTHER_NAME_INCLUSION
                    if inclusion >= needed and (best is None or (same, inclusion) > best[0]):
                        best = ((same, inclusion), parent, key)
            if best is not None:
                specs[child].foreign_keys[column] = f"{best[1]}.{best[2]}"
                specs[best[1]].primary_key = best[2]
    # A child is drawn beside its largest parent: the one that says most about its rows
    # (a flight beside its plane, not beside one of 16 airlines).
    for spec in specs.values():
        if spec.foreign_keys:
            spec.context = max(spec.foreign_keys,
                               key=lambda c: len(tables[spec.foreign_keys[c].split(".")[0]]))
    for name, spec in specs.items():
        if spec.primary_key is None:
            named = [c for c in unique[name]
                     if _named_like_id(c, name) and c not in spec.foreign_keys]
            spec.primary_key = named[0] if named else None
    # A referenced key of two columns of one table would be two primary keys: keep the first
    # and drop foreign keys to the other.
    for child, spec in specs.items():
        for column, target in list(spec.foreign_keys.items()):
            parent, key = target.split(".")
            if specs[parent].primary_key != key or column == spec.primary_key:
                del spec.foreign_keys[column]
    schema = DatasetSchema(specs)
    schema.check_structure()
    return schema


def _key_like(s: pd.Series) -> bool:
    return (pd.api.types.is_integer_dtype(s) or pd.api.types.is_string_dtype(s)
            or pd.api.types.is_object_dtype(s)) and not pd.api.types.is_bool_dtype(s)


def _words(name: str) -> list[str]:
    return [w for w in re.split(r"[^a-z0-9]+", re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower())
            if w]


def _named_like_id(column: str, table: str) -> bool:
    words = _words(column)
    return bool(words) and (words[-1] in ("id", "key", "uuid", "code", "no", "number")
                            or column.lower().endswith("id"))


def _same_name(column: str, key: str, parent: str) -> bool:
    """`tailnum` and `tailnum`, or `customer_id` and `id` of table `customers`."""
    if column.lower() == key.lower():
        return True
    singular = parent.lower()[:-1] if parent.lower().endswith("s") else parent.lower()
    return _words(column) in ([*_words(singular), *_words(key)], [*_words(parent), *_words(key)])
