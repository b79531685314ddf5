"""Table schemas: a small readable YAML format, compiled to a Pandera `DataFrameSchema`.

A schema file looks like this (see schemas/adult.yaml)::

    name: adult
    description: UCI Adult census training split
    columns:
      age: {kind: numeric, dtype: int64, nullable: false, min: 17, max: 90}
      sex: {kind: categorical, dtype: str, categories: [Female, Male]}
    sensitive: [income]

`kind` is a hint for the synthesizer (which encoder to use); everything else is a rule that
`validate` enforces. Failures come back as one `SchemaViolation` listing every broken rule
with a few offending values and their row numbers, never as a Pandera traceback.
"""

from __future__ import annotations

import datetime
import os
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa
import yaml
from pandera.errors import SchemaErrors

from synthvae import declared
from synthvae.columns.datetime import zone_name
from synthvae.io import InputError, atomic_write_text
from synthvae.kinds import KINDS, detect_kind

# Supported dtypes, each with the family that decides which rules make sense for it.
DTYPE_FAMILIES = {
    "int64": "int", "int32": "int", "int16": "int", "int8": "int",
    "Int64": "int", "Int32": "int", "Int16": "int", "Int8": "int",
    "float64": "float", "float32": "float", "Float64": "float", "Float32": "float",
    "bool": "bool", "boolean": "bool",
    "str": "str", "string": "str",
    "datetime64[ns]": "datetime",
    "date": "date",  # datetime.date objects (Parquet's date32)
    "time": "time",  # datetime.time objects (Parquet's time64)
    "category": "category",
}  # fmt: skip
# A zoned timestamp column, e.g. datetime64[ns, UTC], datetime64[ns, Europe/Paris] or
# datetime64[ns, +02:00]: any unit in the table passes, the zone must be the same.
ZONED_DTYPE = re.compile(r"datetime64\[ns, ([^\]]+)\]")

WITNESS_FROM_ROWS = 2_000  # below this, checking every row is as cheap
COLUMN_FIELDS = ("kind", "dtype", "nullable", "min", "max", "categories", "unique", "regex")
TABLE_FIELDS = ("name", "description", "columns", "sensitive", "rules", "discovered_rules")

MAX_INFERRED_CATEGORIES = 100
MAX_EXAMPLES = 5  # offending values shown per broken rule
MAX_CATEGORIES_SHOWN = 5


class SchemaViolation(InputError):
    """A table broke its schema. `problems` holds one dict per (column, rule):
    {"column", "rule", "count" (offending rows), "examples" ([{"row", "value"}, ...])}."""

    def __init__(self, message: str, problems: list[dict[str, Any]] | None = None):
        super().__init__(message)
        self.problems = problems or []

    def __reduce__(self):  # keep `problems` when pickled (Prefect ships task errors around)
        return type(self), (str(self), self.problems)


@dataclass
class ColumnSpec:
    """The rules for one column. Bounds are inclusive; nulls are exempt from every rule
    except `nullable`."""

    dtype: str
    kind: str | None = None
    nullable: bool = False
    min: Any = None
    max: Any = None
    categories: list[Any] | None = None
    unique: bool = False
    regex: str | None = None

    def to_pandera(self, check_dtype: bool = True) -> pa.Column:
        checks = []
        if self.min is not None:
            checks.append(pa.Check.ge(self.min, error=f"must be >= {_show(self.min)}"))
        if self.max is not None:
            checks.append(pa.Check.le(self.max, error=f"must be <= {_show(self.max)}"))
        if self.categories is not None:
            checks.append(pa.Check.isin(self.categories, error=_one_of(self.categories)))
        if self.regex is not None:
            pattern = self.regex
            checks.append(
                pa.Check(
                    lambda s: s.str.fullmatch(pattern).fillna(False).astype(bool),
                    error=f"must fully match the pattern {pattern!r}",
                )
            )
        dtype = self.dtype if check_dtype else None
        if dtype == "time":  # no Pandera dtype for times of day: each value's type is checked
            dtype = None
            checks.insert(0, pa.Check(lambda s: s.map(type).eq(datetime.time),
                                      error="dtype must be time (datetime.time values)"))
        return pa.Column(
            dtype, checks=checks, nullable=self.nullable, unique=self.unique, coerce=False,
        )

    def to_dict(self) -> dict[str, Any]:
        """The YAML form: defaults left out except `nullable`, which is worth seeing."""
        out: dict[str, Any] = {}
        if self.kind is not None:
            out["kind"] = self.kind
        out["dtype"] = self.dtype
        out["nullable"] = self.nullable
        for name in ("min", "max"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value.isoformat() if isinstance(value, pd.Timestamp) else value
        if self.unique:
            out["unique"] = True
        if self.categories is not None:
            out["categories"] = [
                v.isoformat() if isinstance(v, pd.Timestamp) else v for v in self.categories
            ]
        if self.regex is not None:
            out["regex"] = self.regex
        return out


@dataclass
class TableSchema:
    name: str
    columns: dict[str, ColumnSpec]
    description: str = ""
    sensitive: list[str] = field(default_factory=list)
    rules: list[str] = field(default_factory=list)  # declared rules (synthvae.declared)
    # Rules found in the training rows that sampling keeps, as a draft lists them: a line
    # deleted is no longer enforced. None: every rule found is kept.
    discovered_rules: list[str] | None = None
    _pandera: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_pandera": {}}  # a cache, rebuilt on use, not state

    def kinds(self) -> dict[str, str]:
        """Column name -> kind, for the columns whose kind is given."""
        return {name: spec.kind for name, spec in self.columns.items() if spec.kind is not None}

    def declared_rules(self) -> list[declared.Declared]:
        return [declared.parse(text, self.columns) for text in self.rules]

    def to_pandera(self, dtype_known: Collection[str] = (), rules: bool = True
                   ) -> pa.DataFrameSchema:
        """`dtype_known`: columns whose dtype the caller has already established; their
        dtype check is left out. `rules`: the declared rules as dataframe-wide checks.

        Made once per set of rules and kept: building it took 2.6 ms (Adult), a fifth of
        checking a 65,536-row chunk. The key is the rules' text, so a schema edited in place
        gets a new one."""
        key = (self.name, repr(self.columns), frozenset(dtype_known),
               repr(self.rules) if rules else None)
        if key not in self._pandera:
            if len(self._pandera) >= 8:
                self._pandera.clear()
            # strict: a table column the schema does not know is an error, so nothing
            # downstream silently drops it. coerce=False: the schema checks types, it never
            # changes them.
            self._pandera[key] = pa.DataFrameSchema(
                {name: spec.to_pandera(name not in dtype_known)
                 for name, spec in self.columns.items()},
                checks=[pa.Check(lambda df, r=r: pd.Series(~declared.broken(r, df),
                                                           index=df.index),
                                 error=f"declared rule {r.text}")
                        for r in (self.declared_rules() if rules else [])],
                name=self.name,
                strict=True,
                ordered=False,
                coerce=False,
            )
        return self._pandera[key]

    def to_yaml(self) -> str:
        doc: dict[str, Any] = {"name": self.name}
        if self.description:
            doc["description"] = self.description
        doc["columns"] = {name: spec.to_dict() for name, spec in self.columns.items()}
        if self.sensitive:
            doc["sensitive"] = list(self.sensitive)
        if self.rules:
            doc["rules"] = list(self.rules)
        if self.discovered_rules is not None:
            doc["discovered_rules"] = list(self.discovered_rules)
        # default_flow_style=None puts a column without categories on one line and keeps
        # category lists as wrapped [a, b, c]: close to the hand-written style.
        return yaml.safe_dump(
            doc, sort_keys=False, default_flow_style=None, width=100, allow_unicode=True
        )

    def save_yaml(self, path: str | os.PathLike) -> Path:
        return atomic_write_text(path, self.to_yaml())


# ---------------------------------------------------------------------------------------
# Loading


def load_schema(path: str | os.PathLike) -> TableSchema:
    """Read and check a schema YAML file. Every mistake is an InputError naming the file,
    the column and the field."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"schema file not found: {path}")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise InputError(f"schema {path} is not valid YAML: {' '.join(str(err).split())}") from None
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"could not read schema {path}: {err}") from None
    return _parse_schema(raw, where=f"schema {path}", default_name=path.name.split(".")[0])


def _parse_schema(raw: Any, where: str, default_name: str) -> TableSchema:
    if not isinstance(raw, dict):
        raise InputError(f"{where}: expected a mapping with a 'columns' section")
    unknown = [str(k) for k in raw if k not in TABLE_FIELDS]
    if unknown:
        raise InputError(
            f"{where}: unknown top-level field(s) {', '.join(unknown)}; "
            f"allowed: {', '.join(TABLE_FIELDS)}"
        )
    columns_raw = raw.get("columns")
    if not isinstance(columns_raw, dict) or not columns_raw:
        raise InputError(f"{where}: 'columns' must be a non-empty mapping of column name -> rules")
    columns = {}
    for name, spec in columns_raw.items():
        if not isinstance(name, str):
            raise InputError(f"{where}: column name {name!r} must be a string; quote it")
        columns[name] = _parse_column(spec, f"{where}: column '{name}'")

    sensitive = raw.get("sensitive") or []
    if not isinstance(sensitive, list) or not all(isinstance(c, str) for c in sensitive):
        raise InputError(f"{where}: 'sensitive' must be a list of column names")
    not_columns = [c for c in sensitive if c not in columns]
    if not_columns:
        raise InputError(f"{where}: 'sensitive' names unknown column(s): {', '.join(not_columns)}")

    name = raw.get("name", default_name)
    description = raw.get("description") or ""
    if not isinstance(name, str) or not isinstance(description, str):
        raise InputError(f"{where}: 'name' and 'description' must be strings")
    rules = raw.get("rules") or []
    if not isinstance(rules, list):
        raise InputError(f"{where}: 'rules' must be a list of rules, each one of {declared.FORMS}")
    for text in rules:
        try:
            rule = declared.parse(text, columns)
        except ValueError as err:
            raise InputError(f"{where}: {err}") from None
        problem = _order_problem(rule, columns)
        if problem:
            raise InputError(f"{where}: {problem}")
    found = raw.get("discovered_rules")
    if found is not None and (not isinstance(found, list)
                              or not all(isinstance(t, str) for t in found)):
        raise InputError(f"{where}: 'discovered_rules' must be a list of rules as a draft "
                         f"schema lists them (delete a line to stop enforcing that rule)")
    return TableSchema(name=name, columns=columns, description=description, sensitive=sensitive,
                       rules=list(rules), discovered_rules=None if found is None else list(found))


def _order_problem(rule: declared.Declared, columns: dict[str, ColumnSpec]) -> str | None:
    """Why the columns of an order rule cannot be compared, or None."""
    if rule.kind != "order":
        return None
    dtypes = [columns[c].dtype for c in rule.columns]
    families = [dtype_family(d) for d in dtypes]
    if all(f in ("int", "float") for f in families) \
            or families[0] in ("datetime", "date", "time") and dtypes[0] == dtypes[1]:
        return None
    return (f"declared rule {rule.text!r}: an order needs two numbers or two dates of one "
            f"dtype, got {', '.join(f'{c} ({d})' for c, d in zip(rule.columns, dtypes))}")


def _parse_column(raw: Any, where: str) -> ColumnSpec:
    if not isinstance(raw, dict):
        raise InputError(f"{where}: expected a mapping like {{dtype: int64, min: 0}}, got {raw!r}")
    unknown = [str(k) for k in raw if k not in COLUMN_FIELDS]
    if unknown:
        raise InputError(
            f"{where}: unknown field(s) {', '.join(unknown)}; allowed: {', '.join(COLUMN_FIELDS)}"
        )
    dtype = raw.get("dtype")
    family = dtype_family(dtype)
    if family is None:
        raise InputError(
            f"{where}: dtype {dtype!r} is not supported; use one of: "
            f"{', '.join(DTYPE_FAMILIES)}, or datetime64[ns, ZONE] (e.g. datetime64[ns, UTC])"
        )
    kind = raw.get("kind")
    if kind is not None and kind not in KINDS:
        raise InputError(f"{where}: kind {kind!r} is unknown; use one of: {', '.join(KINDS)}")
    for flag in ("nullable", "unique"):
        if not isinstance(raw.get(flag, False), bool):
            raise InputError(f"{where}: '{flag}' must be true or false, got {raw[flag]!r}")

    bounds = {}
    for bound in ("min", "max"):
        if raw.get(bound) is None:
            continue
        if family not in ("int", "float", "datetime", "date"):
            raise InputError(f"{where}: '{bound}' only applies to numeric and date dtypes")
        bounds[bound] = _parse_value(raw[bound], family, f"{where}: '{bound}'")
    if len(bounds) == 2 and bounds["min"] > bounds["max"]:
        raise InputError(f"{where}: min {bounds['min']} is greater than max {bounds['max']}")

    categories = raw.get("categories")
    if categories is not None:
        if not isinstance(categories, list) or not categories:
            raise InputError(f"{where}: 'categories' must be a non-empty list of allowed values")
        categories = [_parse_value(v, family, f"{where}: category") for v in categories]

    regex = raw.get("regex")
    if regex is not None:
        if family != "str" or not isinstance(regex, str):
            raise InputError(f"{where}: 'regex' must be a string pattern on a str/string column")
        try:
            re.compile(regex)
        except re.error as err:
            raise InputError(f"{where}: regex {regex!r} does not compile: {err}") from None

    return ColumnSpec(
        dtype=dtype,
        kind=kind,
        nullable=raw.get("nullable", False),
        min=bounds.get("min"),
        max=bounds.get("max"),
        categories=categories,
        unique=raw.get("unique", False),
        regex=regex,
    )


def _parse_value(value: Any, family: str, where: str) -> Any:
    """Check one bound or category against the column's dtype family."""
    if family == "datetime":
        # Only text and YAML dates: pd.Timestamp would also take None (NaT) and 17 (epoch ns).
        if isinstance(value, (str, datetime.date)):
            try:
                return pd.Timestamp(value)
            except ValueError:
                pass
        raise InputError(f"{where} {value!r} is not a date or timestamp like 2024-01-31")
    if family == "date":
        if isinstance(value, datetime.datetime):
            value = value.date() if value.time() == datetime.time() else value
        if isinstance(value, str):
            try:
                value = datetime.date.fromisoformat(value)
            except ValueError:
                pass
        if type(value) is datetime.date:
            return value
        raise InputError(f"{where} {value!r} is not a date like 2024-01-31")
    ok = {
        "int": isinstance(value, int) and not isinstance(value, bool),
        "float": isinstance(value, (int, float)) and not isinstance(value, bool),
        "bool": isinstance(value, bool),
        "str": isinstance(value, str),
        "category": True,
        "time": False,  # YAML has no time of day
    }[family]
    if not ok:
        # YAML reads yes/no/on/off as booleans and 1 as a number; quoting fixes both.
        raise InputError(
            f"{where} {value!r} ({type(value).__name__}) does not fit a {family} column; "
            f"quote it in the YAML if it is text"
        )
    return value


# ---------------------------------------------------------------------------------------
# Validation


def validate(df: pd.DataFrame, schema: TableSchema, *, what: str = "input table",
             as_category: bool = False, rules: bool = True) -> None:
    """Check `df` against `schema`; raise SchemaViolation listing every failure.

    `what` names the table in the message ("input table", "synthetic sample", ...). Row
    numbers are index labels, i.e. 0-based positions for a table from `read_table`.
    `as_category`: `df` comes from `Synthesizer.iter_sample(as_category=True)`, whose
    categoricals stand for the schema's string columns; they are checked as those strings.
    `rules`: check the schema's declared rules too (see `check_declared` for the input).
    """
    problems = _column_set_problems(df, schema)
    if problems:
        lines = [f"{what} does not have the columns of schema '{schema.name}':"]
        missing = [p["column"] for p in problems if p["rule"].startswith("missing")]
        extra = [p["column"] for p in problems if p["rule"].startswith("not in")]
        duplicated = [p["column"] for p in problems if p["rule"].startswith("duplicated")]
        if missing:
            lines.append(
                f"  - unknown column in the schema, missing from the table: {_names(missing)} "
                "(check the spelling, or remove it from the schema)"
            )
        if extra:
            lines.append(
                f"  - columns in the table but not in the schema: {_names(extra)} "
                "(add them to the schema, or drop them from the table)"
            )
        if duplicated:
            lines.append(f"  - duplicated column names in the table: {_names(duplicated)}")
        raise SchemaViolation("\n".join(lines), problems)

    if len(df) > WITNESS_FROM_ROWS:
        try:  # exact, and for a table that passes, many times cheaper than every row
            witnesses = df.iloc[witness_rows(df, schema)]
            known = _string_categoricals(witnesses, schema) if as_category else []
            known += _same_zone(df, schema)
            schema.to_pandera(dtype_known=known, rules=False).validate(
                _as_strings(witnesses, schema, keep=known) if as_category else witnesses,
                lazy=True)
            # A rule across columns has no witnesses: every row is checked, vectorised.
            if not rules or not any(declared.broken(r, df).any()
                                    for r in schema.declared_rules()):
                return
        except SchemaErrors:
            pass  # check every row, so the report counts and shows the real failures
    if as_category:
        df = _as_strings(df, schema)
    try:
        schema.to_pandera(dtype_known=_same_zone(df, schema), rules=rules).validate(
            df, lazy=True)
    except SchemaErrors as err:
        problems = _summarise(err.failure_cases, schema, n_rows=len(df))
        # from None: Pandera's own message is a long JSON dump; ours replaces it.
        raise SchemaViolation(_report(problems, schema, what, _plain_index(df)), problems
                              ) from None


def check_declared(df: pd.DataFrame, schema: TableSchema, what: str = "input table"
                   ) -> tuple[np.ndarray, str | None]:
    """Rows of `df` breaking none of the schema's declared rules (a boolean mask), and a
    one-line message naming each rule broken, how many rows break it and the first of them
    (None when none is)."""
    keep, parts = np.ones(len(df), bool), []
    for rule in schema.declared_rules():
        bad = declared.broken(rule, df)
        if bad.any():
            keep &= ~bad
            rows = [_counted(i, _plain_index(df))
                    for i in df.index[np.flatnonzero(bad)[:MAX_EXAMPLES]]]
            more = ", ..." if bad.sum() > MAX_EXAMPLES else ""
            parts.append(f"{rule.text!r} in {_plural(int(bad.sum()), 'row')} "
                         f"(row {', '.join(map(str, rows))}{more})")
    message = f"{what} breaks declared rule {'; '.join(parts)}" if parts else None
    return keep, message


def _as_strings(df: pd.DataFrame, schema: TableSchema, keep: Collection[str] = ()
                ) -> pd.DataFrame:
    """Categorical columns the schema does not declare categorical (but those in `keep`),
    as plain objects."""
    names = [c for c in df.columns if isinstance(df[c].dtype, pd.CategoricalDtype)
             and c in schema.columns and schema.columns[c].dtype != "category" and c not in keep]
    return df.astype({c: object for c in names}) if names else df


def _same_zone(df: pd.DataFrame, schema: TableSchema) -> list[str]:
    """Zoned timestamp columns in the zone their schema names, at whatever unit: Parquet
    files give [us] or [ms] as often as pandas' [ns], and the unit is no rule of the data."""
    out = []
    for name, spec in schema.columns.items():
        zone = ZONED_DTYPE.fullmatch(spec.dtype)
        dtype = df[name].dtype if name in df.columns else None
        if zone and isinstance(dtype, pd.DatetimeTZDtype) and zone_name(dtype.tz) == zone[1]:
            out.append(name)
    return out


def dtype_family(dtype: Any) -> str | None:
    """The family of a schema dtype (int, float, bool, str, datetime, date, category), or
    None for a dtype schemas do not support."""
    if not isinstance(dtype, str):
        return None
    if dtype in DTYPE_FAMILIES:
        return DTYPE_FAMILIES[dtype]
    if ZONED_DTYPE.fullmatch(dtype):
        try:
            pd.api.types.pandas_dtype(dtype)
        except (TypeError, ValueError):
            return None  # not a zone pandas knows
        return "datetime"
    return None


def _string_categoricals(df: pd.DataFrame, schema: TableSchema) -> list[str]:
    """Categorical columns that stand for a `str` column of `schema` and pass its dtype
    check as they are: every category is a string (so every value is a string or null),
    and no bound needs them ordered. Pandera then need not check each value's type, nor the
    column be made of Python strings: for a witness table, that check and that conversion
    were over a third of a 65,536-row chunk's validation (Adult: 21 ms, 13 ms without)."""
    out = []
    for name, spec in schema.columns.items():
        dtype = df[name].dtype if name in df.columns else None
        if (isinstance(dtype, pd.CategoricalDtype) and spec.dtype == "str"
                and spec.min is None and spec.max is None
                and all(isinstance(v, str) for v in dtype.categories)):
            out.append(name)
    return out


def witness_rows(df: pd.DataFrame, schema: TableSchema) -> np.ndarray:
    """Positions of rows that break a column rule whenever any row of `df` does: per column,
    its first null, its smallest and largest values (bounds), the first row of each distinct
    value (categories, patterns) and every repeated value (uniqueness). Each rule is a test
    of one value (or of repeats), so `df` passes exactly when these rows do."""
    keep = [np.zeros(0, np.int64)]
    for name, spec in schema.columns.items():
        s = df[name]
        if (isinstance(s.dtype, pd.CategoricalDtype) and spec.min is None and spec.max is None
                and not spec.unique):
            keep.append(_categorical_witnesses(s.cat.codes.to_numpy(), len(s.cat.categories)))
            continue
        if (isinstance(s.dtype, np.dtype) and s.dtype.kind in "iuf" and spec.categories is None
                and spec.regex is None and not spec.unique):
            bounded = spec.min is not None or spec.max is not None
            keep.append(_numeric_witnesses(s.to_numpy(), bounded))
            continue
        nulls = s.isna().to_numpy()
        if nulls.any():
            keep.append(np.flatnonzero(nulls)[:1])
        if nulls.all():
            continue
        if spec.min is not None or spec.max is not None:
            try:
                keep.append(np.array([s.argmin(skipna=True), s.argmax(skipna=True)]))
            except TypeError:  # values that do not order (mixed types): keep every row
                return np.arange(len(df))
        if spec.categories is not None or spec.regex is not None:
            keep.append(np.flatnonzero(~s.duplicated().to_numpy()))
        if spec.unique:
            keep.append(np.flatnonzero(s.duplicated(keep=False).to_numpy()))
        if spec.categories is None and spec.regex is None and s.dtype == object:
            # Pandera checks the type of every value of an object column, not just its dtype
            if pd.api.types.infer_dtype(s, skipna=True) != "string":
                return np.arange(len(df))
        keep.append(np.flatnonzero(~nulls)[:1])
    return np.unique(np.concatenate(keep))


def _categorical_witnesses(codes: np.ndarray, n_categories: int) -> np.ndarray:
    """A row for each value a categorical holds (code -1 is null), from its codes: a
    scatter, where `Series.duplicated` hashed every value (0.3 ms a 65,536-row column)."""
    where = np.full(n_categories + 1, -1, np.int64)
    where[codes] = np.arange(len(codes))  # some row of each code; null (-1) lands last
    return where[where >= 0]


def _numeric_witnesses(values: np.ndarray, bounded: bool) -> np.ndarray:
    """witness_rows for a NumPy number column, in NumPy: its first null (NaN), first value,
    and with bounds its smallest and largest (pandas' isna and argmin cost ~0.1 ms each)."""
    nulls = np.isnan(values) if values.dtype.kind == "f" else None
    if nulls is None or not nulls.any():
        return np.array([0, values.argmin(), values.argmax()] if bounded else [0])
    if nulls.all():
        return np.flatnonzero(nulls)[:1]
    first = [np.argmax(nulls), np.argmin(nulls)]
    return np.array(first + [np.nanargmin(values), np.nanargmax(values)] if bounded else first)


def _column_set_problems(df: pd.DataFrame, schema: TableSchema) -> list[dict[str, Any]]:
    def problem(column: Any, rule: str) -> dict[str, Any]:
        return {"column": column, "rule": rule, "count": 0, "examples": []}

    table_columns = list(df.columns)
    out = [problem(c, "missing from the table") for c in schema.columns if c not in table_columns]
    out += [problem(c, "not in the schema") for c in table_columns if c not in schema.columns]
    out += [problem(c, "duplicated in the table") for c in df.columns[df.columns.duplicated()]]
    return out


def _summarise(failures: pd.DataFrame, schema: TableSchema, n_rows: int) -> list[dict[str, Any]]:
    """Turn Pandera's failure_cases (one row per failing value) into one dict per rule."""
    order = {name: i for i, name in enumerate(schema.columns)}
    whole = (failures["schema_context"] == "DataFrameSchema").to_numpy()
    keyed = _rule_problems(failures[whole], schema, len(order))
    failures = failures[~whole]
    groups = failures.groupby(["column", "check"], sort=False, dropna=False)
    for (column, check), group in groups:
        spec = schema.columns.get(column)
        rows = group[group["index"].notna()].drop_duplicates("index")
        rule = _rule_in_words(str(check), spec)
        if rows.empty:
            # A column-wide failure: a wrong dtype (failure_case is the actual dtype) or a
            # check that crashed (failure_case is the exception).
            found = group["failure_case"].iloc[0]
            if str(check).startswith("dtype("):
                rule = f"{rule}, got {found}"
            else:
                rule = f"{rule} (could not be checked: {found})"
            problem = {"column": column, "rule": rule, "count": n_rows, "examples": []}
            keyed.append((_sort_key(column, str(check), group, order), problem))
            continue
        try:
            rows = rows.sort_values("index", kind="stable")
        except TypeError:  # an index of mixed types: keep Pandera's order
            pass
        examples = [
            {"row": _plain(row), "value": _plain(value)}
            for row, value in zip(rows["index"][:MAX_EXAMPLES], rows["failure_case"][:MAX_EXAMPLES])
        ]
        problem = {"column": column, "rule": rule, "count": len(rows), "examples": examples}
        keyed.append((_sort_key(column, str(check), group, order), problem))
    problems = [problem for _, problem in sorted(keyed, key=lambda item: item[0])]
    # A check that crashed on a column of the wrong dtype (">=" on strings) only repeats
    # the dtype problem; leave it out.
    wrong_dtype = {p["column"] for p in problems if p["rule"].startswith("dtype must")}
    return [
        p
        for p in problems
        if not (p["column"] in wrong_dtype and "could not be checked" in p["rule"])
    ]


def _rule_problems(failures: pd.DataFrame, schema: TableSchema, last: int
                   ) -> list[tuple[tuple[int, int, int], dict[str, Any]]]:
    """Declared rules' failures (Pandera lists each failing row once per column): one
    problem per rule, its columns' values in each example, after every column's problems."""
    rules = {f"declared rule {r.text}": r for r in schema.declared_rules()}
    keyed = []
    for check, group in failures.groupby("check", sort=False):
        rule = rules.get(str(check))
        if rule is None:
            continue
        group = group[group["column"].isin(rule.columns) & group["index"].notna()]
        rows = list(dict.fromkeys(group["index"]))
        values = {(i, c): v for i, c, v in zip(group["index"], group["column"],
                                               group["failure_case"])}
        examples = [{"row": _plain(i), "value": {c: _plain(values.get((i, c)))
                                                  for c in rule.columns}}
                    for i in rows[:MAX_EXAMPLES]]
        problem = {"column": ", ".join(rule.columns), "rule": f"breaks {check}",
                   "count": len(rows), "examples": examples}
        keyed.append(((last, 3, int(group["check_number"].iloc[0])), problem))
    return keyed


def _sort_key(
    column: Any, check: str, group: pd.DataFrame, order: dict[str, int]
) -> tuple[int, int, int]:
    # Schema column order; within a column: dtype, nulls, uniqueness, then the value rules
    # in the order the schema lists them (Pandera's check_number).
    rank = {"not_nullable": 1, "field_uniqueness": 2}.get(check, 3)
    if check.startswith("dtype("):
        rank = 0
    number = group["check_number"].iloc[0]
    return order.get(column, len(order)), rank, int(number) if pd.notna(number) else -1


def _rule_in_words(check: str, spec: ColumnSpec | None) -> str:
    if check.startswith("dtype("):
        return f"dtype must be {spec.dtype if spec else check[6:-1]}"
    if check == "not_nullable":
        return "must not be null"
    if check == "field_uniqueness":
        return "must be unique"
    return check  # our own checks carry their rule in words as the Pandera `error`


def _report(problems: list[dict[str, Any]], schema: TableSchema, what: str,
            plain: bool = True) -> str:
    n_columns = len({str(p["column"]) for p in problems})
    lines = [
        f"{what} failed schema '{schema.name}': "
        f"{_plural(len(problems), 'problem')} in {_plural(n_columns, 'column')} "
        + ("(rows counted from 1, after the header)" if plain else "(rows by the table's index)")
    ]
    for p in problems:
        line = f"  - {p['column']}: {p['rule']}"
        if p["examples"]:
            shown = ", ".join(f"{_show(e['value'])} at row {_counted(e['row'], plain)}"
                              for e in p["examples"])
            more = ", ..." if p["count"] > len(p["examples"]) else ""
            line += f" ({_plural(p['count'], 'row')}): {shown}{more}"
        lines.append(line)
    lines.append("These rows were generated, from training rows that pass this schema: it "
                 "asks what the model does not enforce (or more rows than a unique column "
                 "has values for). Please report it with the schema."
                 if what.startswith("synthetic") else
                 "Fix these values in the data, or edit the schema if they are valid.")
    return "\n".join(lines)


def _plain_index(df: pd.DataFrame) -> bool:
    """A table as read from a file (0, 1, 2, ...), whose rows people count from 1."""
    index = df.index
    return isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1


def _counted(row: Any, plain: bool) -> Any:
    """A row as people count them: in a table read from a file the first data row is row 1
    (a CSV's line 2); otherwise the table's own index label. The problems' `row` fields keep
    the index label, for code."""
    return row + 1 if plain and isinstance(row, (int, np.integer)) else row


def _one_of(categories: list[Any]) -> str:
    shown = ", ".join(_show(v) for v in categories[:MAX_CATEGORIES_SHOWN])
    if len(categories) <= MAX_CATEGORIES_SHOWN:
        return f"must be one of {{{shown}}}"
    return f"must be one of {{{shown}, ...}} (showing {MAX_CATEGORIES_SHOWN} of {len(categories)})"


def _show(value: Any) -> str:
    if isinstance(value, dict):  # a row's values under a declared rule
        return "(" + ", ".join(f"{k}={_show(v)}" for k, v in value.items()) + ")"
    value = _plain(value)
    if value is None:
        return "null"
    if isinstance(value, (pd.Timestamp, datetime.date)):
        return value.isoformat()
    return repr(value)


def _plain(value: Any) -> Any:
    """numpy scalars -> Python scalars, NaN/NA -> None: so reports read `-5`, not
    `np.int64(-5)`."""
    if value is None or (np.ndim(value) == 0 and not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _names(columns: list[Any]) -> str:
    return ", ".join(repr(c) for c in columns)


# ---------------------------------------------------------------------------------------
# Inference


def infer_schema(df: pd.DataFrame, name: str, description: str = "") -> TableSchema:
    """Draft a schema from a table: kinds, dtypes, nullability, observed ranges and
    categories. Review it before use: the observed range is not always the valid range.

    Each kind is `synthvae.kinds.detect_kind`'s, the one the Synthesizer would pick itself,
    so fitting with the drafted schema models every column as fitting without it would."""
    columns = {}
    for column in df.columns:
        if not isinstance(column, str):
            raise InputError(f"column name {column!r} must be a string to go into a schema")
        columns[column] = _infer_column(column, df[column])
    return TableSchema(name=name, columns=columns, description=description)


def _infer_column(name: str, series: pd.Series) -> ColumnSpec:
    dtype = _dtype_name(name, series)
    family = dtype_family(dtype)
    values = series.dropna()
    spec = ColumnSpec(dtype=dtype, kind=detect_kind(series), nullable=bool(series.isna().any()))
    n_unique = values.nunique()

    if family in ("int", "float", "datetime", "date") and len(values):
        spec.min, spec.max = _plain(values.min()), _plain(values.max())
    elif spec.kind in ("categorical", "constant") and 0 < n_unique <= MAX_INFERRED_CATEGORIES:
        spec.categories = _sorted_if_possible([_plain(v) for v in values.unique()])

    if spec.kind == "id":
        # New rows get new ids, above the largest one seen: the observed maximum is no bound.
        spec.max = None
        # Pandera counts repeated nulls as repeated values: such a column cannot be `unique`.
        spec.unique = n_unique == len(values) and len(series) - len(values) <= 1
    return spec


def _sorted_if_possible(values: list[Any]) -> list[Any]:
    try:
        return sorted(values)
    except TypeError:  # mixed types in a category column: keep first-seen order
        return values


def _dtype_name(name: str, series: pd.Series) -> str:
    dtype = series.dtype
    if str(dtype) in DTYPE_FAMILIES:
        return str(dtype)
    if isinstance(dtype, pd.DatetimeTZDtype):
        return f"datetime64[ns, {zone_name(dtype.tz)}]"  # any unit passes (see _same_zone)
    if re.fullmatch(r"datetime64\[(s|ms|us|ns)\]", str(dtype)):
        return "datetime64[ns]"  # Pandera accepts any unit for it; Parquet often gives [us]
    if dtype == object:
        objects = pd.api.types.infer_dtype(series, skipna=True)
        if objects in ("string", "empty"):
            return "str"
        if objects in ("date", "time"):
            return objects
        types = sorted({type(v).__name__ for v in series.dropna()})
        what = (f"{types[0]} values" if len(types) == 1
                else f"values of mixed Python types ({', '.join(types)})")
        raise InputError(
            f"column '{name}' holds {what}, which schemas do not support; "
            "convert it to one dtype (e.g. str, float64, Int64 or boolean) first"
        )
    raise InputError(
        f"column '{name}' has dtype {dtype}, which schemas do not support; "
        f"convert it to one of: {', '.join(DTYPE_FAMILIES)}"
    )
