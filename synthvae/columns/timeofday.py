"""Time-of-day columns ("11:58:56", "9:05", "7:30 PM", or `datetime.time` objects).

A time becomes seconds since midnight through the numeric encoder, so opening hours, lunch
peaks and gaps are learned as a distribution rather than as a list of seen strings. Generated
values are rounded to the column's resolution (whole minutes for "%H:%M") and written in the
column's own format, padding included (see datetime.py for the format grammar).
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .base import ConditionError, UnsupportedColumnError, as_series
from .datetime import DAY_NS, DatetimeEncoder, fit_format, misfit, parse, write

TIME_FORMATS = ("%H:%M:%S", "%H:%M", "%H:%M:%S.%f", "%H:%M:%S%.f", "%I:%M:%S %p", "%I:%M %p")
_MIDNIGHT = pd.Timestamp("1900-01-01")  # the date pandas gives a time parsed on its own


def detect_time_format(s: pd.Series) -> str | None:
    """The format of a column of times of day (strings or `datetime.time` objects), or None."""
    if pd.api.types.infer_dtype(s, skipna=True) == "time":
        return "%H:%M:%S"
    if pd.api.types.is_numeric_dtype(s) or pd.api.types.is_datetime64_any_dtype(s):
        return None
    distinct = pd.unique(s.dropna().to_numpy(dtype=object))[:100_000]
    return fit_format(pd.Series(distinct, dtype=object).astype(str), TIME_FORMATS)


class TimeOfDayEncoder(DatetimeEncoder):
    """A datetime column whose values are nanoseconds since midnight rather than the epoch."""

    kind = "time"
    splits_clock = False  # the value is the time of day

    def _learn_form(self, s: pd.Series) -> None:
        self.tz_, self.offset_ = None, 0
        if pd.api.types.infer_dtype(s, skipna=True) == "time":
            self.values_, self.format_ = "time", "%H:%M:%S"
            return
        self.values_, self.format_ = "text", detect_time_format(s)
        if self.format_ is None:
            raise UnsupportedColumnError(misfit(s, TIME_FORMATS, "times of day", self.name))

    def _parse(self, s: pd.Series, lenient: bool = False) -> tuple[np.ndarray, np.ndarray]:
        if self.values_ == "time":
            # str(time) is "HH:MM:SS[.ffffff]", which to_timedelta reads whole.
            delta = pd.to_timedelta(s.astype(object).astype(str), errors="coerce")
        else:
            delta = parse(s, self.format_) - _MIDNIGHT
        ns = delta.to_numpy(dtype="timedelta64[ns]").astype("int64")
        nulls = delta.isna().to_numpy() | s.isna().to_numpy() | (ns < 0) | (ns >= DAY_NS)
        bad = nulls & s.notna().to_numpy()
        if bad.any() and not lenient:
            raise UnsupportedColumnError(
                f"column {self.name!r}: values not times of day like {self.format_!r}: "
                f"{s[bad].head(5).tolist()} (rows {s.index[bad][:5].tolist()})")
        return np.where(nulls, 0, ns), nulls

    def _write(self, ns: np.ndarray, nulls: np.ndarray) -> pd.Series:
        # Rounding to the resolution can reach midnight from the last minute of the day.
        ns = np.clip(ns, 0, DAY_NS - round(self.step_ * 1e9))
        if self.values_ == "time":
            out = pd.Series(ns.astype("datetime64[ns]"), name=self.name).dt.time.astype(object)
            out[nulls] = None
            return out
        return as_series(write(ns, self.format_), self.dtype, self.name, nulls)

    def _noun(self) -> str:
        return "time of day"

    def _condition_ns(self, value: Any) -> int:
        """A condition's time ("12:30", "12:30:00", "1:30 PM" or a `datetime.time`) as
        nanoseconds since midnight; it need not be written in the column's own format."""
        text = pd.Series([str(value)], dtype=object)
        for fmt in (self.format_, *TIME_FORMATS):
            parsed = parse(text, fmt)
            if parsed.notna().all():
                return int((parsed - _MIDNIGHT).iloc[0].value)
        raise ConditionError(f"column {self.name!r}: {value!r} is not a time of day "
                             f"like {self.format_!r}")
