"""Datetime columns, as pandas datetimes or as date strings, through the numeric encoder.

A timestamp becomes seconds since the epoch, which the quantile encoder handles like any
number (bounds included). Generated values are rounded to the column's own resolution (whole
days for dates) and, for string columns, written back in the format they came in.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .base import (UNSEEN_NATS, ColumnEncoder, ConditionError, Constraint, Encoded,
                   OutOfSupport, UnsupportedColumnError, as_series)
from .numeric import NumericEncoder

# Tried in order; the first that parses every sampled value is the column's format.
FORMATS = ("%Y-%m-%d", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M",
           "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S.%f", "%Y/%m/%d",
           "%d/%m/%Y", "%m/%d/%Y", "%d.%m.%Y", "%Y%m%d")
# Resolutions in seconds, coarsest first: day, hour, minute, second, ms, µs, ns.
STEPS = (86400, 3600, 60, 1, 1e-3, 1e-6, 1e-9)
_ISO_NUMPY = {"%Y-%m-%d": ("D", ""), "%Y-%m-%d %H:%M:%S": ("s", " "),
              "%Y-%m-%dT%H:%M:%S": ("s", "T"), "%Y-%m-%d %H:%M": ("m", " "),
              "%Y-%m-%dT%H:%M": ("m", "T")}


def detect_format(s: pd.Series) -> str | None:
    """The strftime format of a string column of dates, or None if none fits."""
    sample = s.dropna().astype(str).head(1000)
    if sample.empty:
        return None
    for fmt in FORMATS:
        if pd.to_datetime(sample, format=fmt, errors="coerce").notna().all():
            return fmt
    return None


class DatetimeEncoder(ColumnEncoder):
    kind = "datetime"

    def fit(self, s: pd.Series, rng: np.random.Generator) -> DatetimeEncoder:
        self.dtype = str(s.dtype)
        self.format_ = None if _is_datetime(s) else detect_format(s)
        if not _is_datetime(s) and self.format_ is None:
            raise UnsupportedColumnError(
                f"column {self.name!r}: values do not parse as dates in one format "
                f"(examples: {s.dropna().astype(str).head(3).tolist()}); "
                f"override its kind, e.g. column_kinds={{{self.name!r}: 'categorical'}}")
        self.tz_ = str(s.dt.tz) if _is_datetime(s) and s.dt.tz is not None else None
        ns, nulls = self._nanoseconds(s)
        # The column's resolution: the coarsest step every value is a whole multiple of.
        self.step_ = next(step for step in STEPS if np.all(ns[~nulls] % int(step * 1e9) == 0))
        seconds = self._seconds(s)
        self.inner_ = NumericEncoder(self.name, dtype="float64").fit(pd.Series(seconds), rng)
        self.n_continuous, self.cardinalities = self.inner_.n_continuous, self.inner_.cardinalities
        return self

    def _seconds(self, s: pd.Series) -> np.ndarray:
        ns, nulls = self._nanoseconds(s)
        return np.where(nulls, np.nan, ns.astype("float64") / 1e9)

    def _nanoseconds(self, s: pd.Series) -> tuple[np.ndarray, np.ndarray]:
        """int64 nanoseconds since the epoch (UTC) and the null mask."""
        if _is_datetime(s):
            ts = s.dt.tz_convert("UTC").dt.tz_localize(None) if s.dt.tz is not None else s
        else:
            ts = pd.to_datetime(s.astype(object), format=self.format_, errors="coerce")
            bad = ts.isna() & s.notna()
            if bad.any():
                raise UnsupportedColumnError(
                    f"column {self.name!r}: values not in the format {self.format_!r}: "
                    f"{s[bad].head(5).tolist()} (rows {s.index[bad][:5].tolist()})")
        nulls = ts.isna().to_numpy()
        ns = ts.to_numpy(dtype="datetime64[ns]").astype("int64")
        return np.where(nulls, 0, ns), nulls

    def encode(self, s: pd.Series, rng: np.random.Generator | None = None) -> Encoded:
        return self.inner_.encode(pd.Series(self._seconds(s)), rng)

    def encode_lenient(self, s: pd.Series) -> Encoded:
        """As `encode`, with unparsable values taken as null (for scoring rows as they are)."""
        parsed = pd.to_datetime(s, errors="coerce") if (_is_datetime(s) or self.format_ is None) \
            else pd.to_datetime(s.astype(object), format=self.format_, errors="coerce")
        return self.encode(parsed if self.format_ is None else
                           parsed.dt.strftime(self.format_).where(parsed.notna(), None))

    def decode(self, continuous: np.ndarray, discrete: np.ndarray,
               rng: np.random.Generator) -> pd.Series:
        seconds = self.inner_.decode(continuous, discrete, rng).to_numpy(dtype="float64")
        nulls = np.isnan(seconds)
        step_ns = round(self.step_ * 1e9)
        steps = np.round(np.nan_to_num(seconds) * (1e9 / step_ns)).astype("int64")
        stamps = (steps * step_ns).astype("datetime64[ns]")
        if self.format_ is None:
            out = pd.Series(pd.to_datetime(stamps).astype("datetime64[ns]"), name=self.name)
            out[nulls] = pd.NaT
            if self.tz_:
                out = out.dt.tz_localize("UTC").dt.tz_convert(self.tz_)
            return out.astype(self.dtype)
        return as_series(_format(stamps, self.format_), self.dtype, self.name, nulls)

    def out_of_support(self, s: pd.Series) -> list[OutOfSupport]:
        if _is_datetime(s) or self.format_ is None:
            parsed = pd.to_datetime(s, errors="coerce")
        else:
            parsed = pd.to_datetime(s.astype(object), format=self.format_, errors="coerce")
        bad = (parsed.isna() & s.notna()).to_numpy()
        found = []
        if bad.any():
            found.append(OutOfSupport(f"must be a date like {self.format_ or 'a datetime'}",
                                      bad, np.where(bad, UNSEEN_NATS, 0.0)))
        if parsed.dt.tz is not None:
            parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
        seconds = parsed.to_numpy(dtype="datetime64[ns]").astype("int64") / 1e9
        seconds = np.where(parsed.isna().to_numpy(), np.nan, seconds)
        # An unparsable date is reported once, above, not again as a null.
        seconds[bad] = self.inner_.quantiles_[len(self.inner_.quantiles_) // 2]
        return found + self.inner_.out_of_support(pd.Series(seconds))

    def bin_edges(self, n_bins: int) -> np.ndarray:
        return self.inner_.bin_edges(n_bins)

    def constrain(self, value: Any) -> Constraint:
        """None: null; a date or a (start, end) pair of dates (strings or timestamps)."""
        if value is None:
            return Constraint(self.inner_.constrain(None).classes,
                              matches=lambda series: series.isna().to_numpy())
        pair = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
        stamps = [None if v is None else self._timestamp(v) for v in pair]
        seconds = tuple(None if t is None else t.value / 1e9 for t in stamps)
        inner = self.inner_.constrain(seconds if isinstance(value, (tuple, list)) else seconds[0])
        low, high = (pd.Timestamp.min if stamps[0] is None else stamps[0],
                     pd.Timestamp.max if stamps[1] is None else stamps[1])

        def enforce(series: pd.Series, rng: np.random.Generator) -> pd.Series:
            # Rounding to the column's resolution can step just past an end: clip it back.
            ts = series if self.format_ is None else pd.to_datetime(series, format=self.format_)
            naive = ts.dt.tz_convert("UTC").dt.tz_localize(None) if self.tz_ else ts
            outside = ((naive < low) | (naive > high)).to_numpy()
            if not outside.any():
                return series
            fixed = naive.clip(low, high)
            if self.format_ is not None:
                text = _format(fixed.to_numpy(dtype="datetime64[ns]"), self.format_)
                return as_series(text, self.dtype, self.name, series.isna().to_numpy())
            if self.tz_:
                fixed = fixed.dt.tz_localize("UTC").dt.tz_convert(self.tz_)
            return fixed.astype(self.dtype)
        def matches(series: pd.Series) -> np.ndarray:
            ts = pd.to_datetime(series, errors="coerce") if self.format_ is None else \
                pd.to_datetime(series.astype(object), format=self.format_, errors="coerce")
            naive = ts.dt.tz_convert("UTC").dt.tz_localize(None) if ts.dt.tz is not None else ts
            return ((naive >= low) & (naive <= high)).to_numpy()
        return Constraint(inner.classes, inner.intervals, enforce, matches)

    def _timestamp(self, value: Any) -> pd.Timestamp:
        """A condition's date as a UTC-naive timestamp, like the column's own values."""
        try:
            ts = pd.Timestamp(value)
        except (TypeError, ValueError):
            raise ConditionError(f"column {self.name!r}: {value!r} is not a date") from None
        if ts is pd.NaT:
            raise ConditionError(f"column {self.name!r}: {value!r} is not a date")
        return ts.tz_convert("UTC").tz_localize(None) if ts.tz is not None else ts

    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        meta, arrays = super().state()
        inner_meta, inner_arrays = self.inner_.state()
        meta.update(format=self.format_, tz=self.tz_, step=self.step_, inner=inner_meta)
        arrays.update(inner_arrays)
        return meta, arrays

    def _set_state(self, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        self.format_, self.tz_, self.step_ = meta["format"], meta["tz"], meta["step"]
        self.inner_ = NumericEncoder.from_state(meta["inner"], arrays)


def _is_datetime(s: pd.Series) -> bool:
    return pd.api.types.is_datetime64_any_dtype(s)


def _format(stamps: np.ndarray, fmt: str) -> np.ndarray:
    """Vectorised strftime: numpy's ISO printer for ISO formats, pandas for the rest."""
    if fmt in _ISO_NUMPY:
        unit, sep = _ISO_NUMPY[fmt]
        text = np.datetime_as_string(stamps, unit=unit)
        return np.char.replace(text, "T", sep) if sep == " " else text
    return pd.DatetimeIndex(stamps).strftime(fmt).to_numpy(dtype=object)
