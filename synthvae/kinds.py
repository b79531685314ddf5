"""What kind of column is this? Decided in one place, from the values (and, for ids, the name).

The model's encoders, the drafted schema, the scores and the report all ask `detect_kind`, so a
column drafted as dates is modelled, scored and plotted as dates. The rules are deliberately
plain so a user can predict them, and override any of them with
`column_kinds={"col": "categorical"}` or a schema's `kind:`.
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd

from .columns.base import KINDS, UnsupportedColumnError
from .columns.datetime import detect_format, pandas_format
from .columns.timeofday import detect_time_format

_ID_NAME = r"(^|[_\s.-])({})$|^id([_\s.-]|$)"
ID_NAME = re.compile(_ID_NAME.format("id|uuid|guid|key|code"), re.IGNORECASE)
KEY_NAME = re.compile(_ID_NAME.format("id|uuid|guid|key"), re.IGNORECASE)  # not "zip_code"
CAMEL_ID_NAME = re.compile(r"[a-z0-9](Id|ID)$")  # customerId, userID (case matters: not "paid")
NEAR_UNIQUE = 0.9     # share of distinct values above which strings are ids or free text
ONE_OFF_TEXT = 0.5    # strings with spaces, most rows holding a value seen once: free text
MIN_ROWS_FOR_UNIQUE = 20
DENSE_ID_ROWS = 1000  # a dense run of this many distinct integers is a row number
# A key named as one that repeats, with this share of values distinct or more, keys groups of
# rows (an order's lines, a patient's tests): it is regenerated per group, not learned as a
# category. Codes ("zip_code") and keys of a few big groups (a plot, a species) stay values.
GROUP_KEY_SHARE = 0.2

# Our kinds in SDMetrics' words. Times of day are scored as datetimes (on one day); constants
# as a single category; ids and free text are not scored.
SDTYPES = {
    "numeric": "numerical", "categorical": "categorical", "boolean": "boolean",
    "datetime": "datetime", "time": "datetime", "constant": "categorical", "id": "id",
    "text": "text",
}  # fmt: skip


def detect_kind(s: pd.Series) -> str:
    """One of numeric, categorical, boolean, datetime, time, id, text, constant."""
    objects = pd.api.types.infer_dtype(s, skipna=True) if s.dtype == object else ""
    if objects in ("date", "time") and s.nunique(dropna=False) > 1:  # Parquet date32, time64
        return "datetime" if objects == "date" else "time"
    if s.dtype == object:  # first: counting distinct dicts or lists would fail unhelpfully
        _check_learnable(s.dropna(), s.name)
    if s.nunique(dropna=False) <= 1:
        return "constant"
    if pd.api.types.is_bool_dtype(s):
        return "boolean"
    if pd.api.types.is_datetime64_any_dtype(s):
        return "datetime"
    observed = s.dropna()
    if pd.api.types.is_numeric_dtype(s):
        return "id" if _integer_id(observed, str(s.name)) or _group_key(observed, s.name) \
            else "numeric"
    if observed.map(type).isin([bool, np.bool_]).all():
        return "boolean"
    text = observed.astype(str)
    # The digit test runs a regex per value: on the distinct values it gives the same answer
    # at a fraction of the cost (0.33 s -> 0.04 s a column on 1M rows of flights).
    distinct = pd.Series(pd.unique(text.to_numpy(dtype=object)), dtype=object)
    if distinct.str.contains(r"\d", regex=True).all():
        if detect_format(text) is not None:
            return "datetime"
        if detect_time_format(text) is not None:
            return "time"
    distinct_share = len(distinct) / max(len(text), 1)
    if len(text) >= MIN_ROWS_FOR_UNIQUE and distinct_share >= NEAR_UNIQUE:
        has_spaces = text.str.contains(r"\s", regex=True).mean() > 0.5
        return "text" if has_spaces else "id"
    if len(text) >= MIN_ROWS_FOR_UNIQUE and _group_key(observed, s.name, distinct_share):
        return "id"
    # Free text that now and then repeats ("NO DAMAGE." among incident reports): most rows
    # hold a sentence no other row has. As a category it would be copied word for word.
    if len(text) >= MIN_ROWS_FOR_UNIQUE and distinct_share >= ONE_OFF_TEXT:
        one_offs = (text.value_counts() == 1).sum() / len(text)
        if one_offs >= ONE_OFF_TEXT and text.str.contains(r"\s", regex=True).mean() > 0.5:
            return "text"
    return "categorical"


def _name_looks_like_id(name: str) -> bool:
    return bool(ID_NAME.search(name) or CAMEL_ID_NAME.search(name))


def sdtype(kind: str) -> str:
    """SDMetrics' sdtype for one of our kinds."""
    if kind not in SDTYPES:
        raise ValueError(f"unknown kind {kind!r}; use one of {list(KINDS)}")
    return SDTYPES[kind]


def datetime_format(s: pd.Series, kind: str) -> str | None:
    """The `pd.to_datetime` format of a datetime or time column held as strings or date/time
    objects; None for datetime64 columns (nothing to parse) and values in no one format."""
    if pd.api.types.is_datetime64_any_dtype(s) or kind not in ("datetime", "time"):
        return None
    found = detect_format(s) if kind == "datetime" else detect_time_format(s)
    return pandas_format(found) if found else None


def _integer_id(observed: pd.Series, name: str) -> bool:
    if len(observed) < MIN_ROWS_FOR_UNIQUE or not observed.is_unique:
        return False
    values = observed.to_numpy(dtype="float64")
    if not np.all(np.mod(values, 1) == 0):
        return False
    if _name_looks_like_id(name):
        return True
    dense = values.max() - values.min() + 1 <= 1.5 * len(values)
    return dense and len(values) >= DENSE_ID_ROWS


def _group_key(observed: pd.Series, name: object, distinct_share: float | None = None) -> bool:
    """A key of groups of rows: named as a key, its values integers or strings, many of them
    distinct (see GROUP_KEY_SHARE)."""
    if len(observed) < MIN_ROWS_FOR_UNIQUE or not KEY_NAME.search(str(name)) \
            and not CAMEL_ID_NAME.search(str(name)):
        return False
    if pd.api.types.is_numeric_dtype(observed) and not np.all(
            np.mod(observed.to_numpy(dtype="float64"), 1) == 0):
        return False
    if distinct_share is None:
        distinct_share = observed.nunique() / len(observed)
    return distinct_share >= GROUP_KEY_SHARE


def _check_learnable(observed: pd.Series, name: object) -> None:
    """Nested objects have no column kind: say so, and how to override, instead of guessing."""
    types = observed.head(10_000).map(type)
    odd = ~types.isin([str, int, float, bool, np.str_, np.int64, np.float64, np.bool_])
    if odd.any():
        examples = observed.head(10_000)[odd.to_numpy()].head(3)
        raise UnsupportedColumnError(
            f"column {name!r}: holds {sorted({t.__name__ for t in types[odd]})} values "
            f"(e.g. {examples.tolist()!r} at rows {examples.index.tolist()}), which no column "
            f"kind can learn; flatten it into plain columns, drop it, or set its kind to "
            f"'text' (column_kinds={{{name!r}: 'text'}}) to treat values as strings")
