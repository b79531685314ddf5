"""Columns as the page reads them: the kind each is plotted as, and its values as numbers
or as category labels."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from synthvae.columns.base import UnsupportedColumnError
from synthvae.kinds import datetime_format, detect_kind

KINDS = ("numeric", "categorical", "boolean", "datetime", "time", "id", "text", "constant")
KIND_ALIASES = {
    "discrete": "numeric",
    "integer": "numeric",
    "float": "numeric",
    "bool": "boolean",
    "category": "categorical",
    "date": "datetime",
}


def sample(df: pd.DataFrame, n: int) -> pd.DataFrame:
    return df if len(df) <= n else df.sample(n, random_state=0).reset_index(drop=True)


def lookup(mapping: dict, name):
    """`mapping[name]`, else `mapping[str(name)]`: JSON turned the report's keys into text."""
    if not isinstance(mapping, dict):
        return None
    if name in mapping:
        return mapping[name]
    return mapping.get(str(name))


def resolve_kinds(report, real, synthetic, columns, kinds) -> dict:
    """Each column's kind: `kinds`, else the report's fit.column_kinds, else inferred."""
    fit = report.get("fit") if isinstance(report.get("fit"), dict) else {}
    resolved = {}
    for name in columns:
        kind = lookup(kinds or {}, name) or lookup(fit.get("column_kinds") or {}, name)
        kind = KIND_ALIASES.get(str(kind).lower(), str(kind).lower()) if kind else None
        if kind not in KINDS:
            kind = infer_kind(real[name] if name in real.columns else synthetic[name])
        resolved[name] = kind
    return resolved


def count_distinct(s: pd.Series) -> int:
    """Distinct non-null values; objects (lists and dicts too) by their text."""
    values = s.dropna()
    return (values.astype(str) if values.dtype == object else values).nunique()


def infer_kind(s: pd.Series) -> str:
    """The kind the model gives the column; values no kind can learn (lists, dicts) are
    counted as categories by their text."""
    try:
        return detect_kind(s)
    except UnsupportedColumnError:
        return "categorical"


def numbers(s: pd.Series, kind: str) -> np.ndarray:
    """A column as float64 (dates as nanoseconds since 1970, times of day as nanoseconds
    since midnight); nulls and unparsable values become NaN."""
    if kind == "time":
        if not pd.api.types.is_datetime64_any_dtype(s):
            fmt = datetime_format(s, "time")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                s = pd.to_datetime(s.astype(object), errors="coerce", format=fmt or "mixed")
        values = (s - s.dt.normalize()).to_numpy(dtype="timedelta64[ns]")
        out = values.astype("int64").astype(float)
        out[np.isnat(values)] = np.nan
        return out
    if kind == "datetime":
        if not pd.api.types.is_datetime64_any_dtype(s):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                parsed = pd.to_datetime(s, errors="coerce", utc=True, format="ISO8601")
                if parsed.notna().sum() < s.notna().sum() / 2:
                    parsed = pd.to_datetime(s, errors="coerce", utc=True, format="mixed")
            s = parsed
        if getattr(s.dt, "tz", None) is not None:
            s = s.dt.tz_convert("UTC").dt.tz_localize(None)
        values = s.to_numpy(dtype="datetime64[ns]")
        out = values.astype("int64").astype(float)
        out[np.isnat(values)] = np.nan
        return out
    if pd.api.types.is_bool_dtype(s):
        s = s.astype("float64")
    elif not pd.api.types.is_numeric_dtype(s):
        s = pd.to_numeric(s, errors="coerce")
    out = s.to_numpy(dtype="float64", na_value=np.nan)
    out[~np.isfinite(out)] = np.nan
    return out


def labels(s: pd.Series) -> pd.Series:
    """Non-null values as text labels; integral numbers without '.0', so that real 3 and
    synthetic 3.0 are one category."""
    s = s.dropna()
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s) and len(s):
        values = s.to_numpy(dtype="float64")
        if np.all(np.isfinite(values)) and np.all(values == np.round(values)):
            return pd.Series(values.astype(np.int64), index=s.index).astype(str)
    return s.astype(str)
