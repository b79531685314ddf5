"""Datetime columns: pandas datetimes, `datetime.date` objects or date strings.

A timestamp becomes seconds since the epoch (UTC), which the quantile encoder handles like any
number (bounds included). Where numbers are drawn as ranges (`numeric_bins` > 1), a timestamp
with a time of day is two numbers instead, each through its own quantile encoder: its day, and
its time of day in seconds since midnight on the column's own wall clock. As one number, the
time of day was finer than any range a value is drawn from, so hours came out at random (weather
at any hour, unrelated to its temperature; flights at 3 am); as its own output it has a
distribution of its own, learned beside the other columns. Generated values are rounded to the
column's own resolution (whole days for dates) and given back in the form they came in: the
same dtype, and for strings the same format, padding and zone notation.

String formats use strftime directives plus a few of our own, so that the form is one string:
`%-m` (glibc's unpadded field: "9/1/1997 0:00:00"), `%3f` (a fraction of that many digits; bare
`%f` is six), `%.6f` (a dot and six digits, left out when the fraction is zero, as Python's
`isoformat` writes), `%.f` (a dot and the digits up to the last non-zero one, left out when
zero) and `%:z` (an offset with a colon, "+02:00"; `%z` is "+0200"). A trailing literal `Z`
means UTC.
"""
from __future__ import annotations

import functools
import re
from typing import Any

import numpy as np
import pandas as pd

from .base import (UNSEEN_NATS, ColumnEncoder, ConditionError, Constraint, Encoded,
                   OutOfSupport, UnsupportedColumnError, as_series)
from .numeric import NumericEncoder

# Date orders, in preference order. Month-first comes before day-first: when every value
# parses both ways (no day above 12 in the column), the US order is the likelier reading of a
# slashed date in the tables we meet, and either reading writes the same strings back.
_DATES = ("%Y-%m-%d", "%Y/%m/%d", "%m/%d/%Y", "%d/%m/%Y", "%m-%d-%Y", "%d-%m-%Y", "%d.%m.%Y",
          "%Y%m%d")
_CLOCKS = ("%H:%M:%S", "%H:%M", "%H:%M:%S.%f", "%H:%M:%S%.f", "%I:%M:%S %p", "%I:%M %p")
_ZONES = ("", "Z", "%:z", "%z")
# Tried in order; the first whose shape fits every value and that parses them all is the
# column's format (its padding and fraction width then read off the values).
FORMATS = _DATES + tuple(f"{date}{sep}{clock}{zone}" for date in _DATES for sep in (" ", "T")
                         for clock in _CLOCKS for zone in _ZONES)
# Resolutions in seconds, coarsest first: day, hour, minute, second, ms, µs, ns.
STEPS = (86400, 3600, 60, 1, 1e-3, 1e-6, 1e-9)
DAY_SECONDS = 86_400
DAY_NS = DAY_SECONDS * 10**9
# More digit shapes than this ("9/99/9999 9:99:99" is one) is not one format with a few
# unpadded fields; detection gives up rather than try every format on noise.
MAX_SHAPES = 64
MAX_DISTINCT = 100_000  # distinct values a format is detected on (all of them for most columns)

_DIRECTIVE = re.compile(r"%(-?)(\.?)(\d?)([YmdHIMSfpz%]|:z)")
_SHAPE_PATTERNS = {"Y": "9{4}", "m": "9{1,2}", "d": "9{1,2}", "H": "9{1,2}", "I": "9{1,2}",
                   "M": "99", "S": "99", "f": "9{1,9}", ".f": r"(?:\.9{1,9})?", "p": "[AP]M",
                   "z": "[+-]9999",
                   ":z": "[+-]99:99", "%": "%"}


def detect_format(s: pd.Series) -> str | None:
    """The format of a column of dates (strings or `datetime.date` objects), or None."""
    if pd.api.types.infer_dtype(s, skipna=True) == "date":
        return "%Y-%m-%d"
    return fit_format(_distinct_text(s), FORMATS)


def pandas_format(fmt: str) -> str:
    """Our format as `pd.to_datetime(values, format=...)` reads the values whole (pandas accepts
    unpadded fields anyway). `parse` reads them faster where a fraction is optional."""
    if "%." in fmt:
        return "ISO8601" if fmt.startswith("%Y-%m-%d") else "mixed"
    return _strptime_format(fmt)


def parse(s: pd.Series, fmt: str, errors: str = "coerce") -> pd.Series:
    """Strings in `fmt` as naive datetime64[ns]: UTC where the format has a zone."""
    zoned = _has_zone(fmt)
    s = s.astype(object)
    if "%." in fmt:  # an optional fraction: write the missing ones as ".0" to parse in one format
        s = s.where(s.isna(), s.astype(str).str.replace(r"(\d:\d\d:\d\d)(?!\.)", r"\1.0",
                                                         regex=True))
    parsed = pd.to_datetime(s, format=_strptime_format(fmt), errors=errors, utc=zoned)
    return parsed.dt.tz_convert(None) if zoned else parsed


def _strptime_format(fmt: str) -> str:
    """Our format in strptime's directives: an optional fraction becomes a required one."""
    return re.sub(r"%-|%\d(?=f)|%:(?=z)", "%", re.sub(r"%\.\d?f", ".%f", fmt))


def fit_format(text: pd.Series, candidates: tuple[str, ...]) -> str | None:
    """The first candidate whose shape fits every value and which parses them all, with its
    padding and fraction width read off the values; None if none does.

    Shapes first: the values with digits replaced by 9 collapse to a handful of strings
    ("9/99/9999 9:99:99"), so each candidate's pattern is tried on those, not on every value.
    """
    if text.empty:
        return None
    shapes = pd.unique(text.str.replace(r"\d", "9", regex=True).to_numpy(dtype=object))
    if len(shapes) > MAX_SHAPES:
        return None
    for fmt in candidates:
        pattern = _shape_pattern(fmt)
        found = [pattern.fullmatch(shape) for shape in shapes]
        if not all(found):
            continue
        if parse(text, fmt).isna().any():
            continue
        return _refine(fmt, found)
    return None


def misfit(s: pd.Series, candidates: tuple[str, ...], what: str, name: Any) -> str:
    """Why no format fits a column, for an error: the format most values take and the values
    that do not take it."""
    text = _distinct_text(s).head(2000)
    fails = {fmt: parse(text, fmt).isna() for fmt in candidates}
    fmt = min(fails, key=lambda f: fails[f].sum())
    odd = text[fails[fmt].to_numpy()].head(5).tolist()
    rows = s.index[s.astype(str).isin(odd).to_numpy() & s.notna().to_numpy()][:5].tolist()
    return (f"column {name!r}: values are not {what} in one format: most read as {fmt!r}, "
            f"but not {odd} (rows {rows}); fix those values, or override the column's kind, "
            f"e.g. column_kinds={{{name!r}: 'categorical'}}")


def write(ns: np.ndarray, fmt: str, offset_minutes: int = 0) -> np.ndarray:
    """Vectorised strftime in our format grammar: int64 wall-clock nanoseconds since the epoch
    (or since midnight, for clock-only formats) to an array of strings."""
    if not len(ns):  # numpy's zfill cannot size an empty array
        return np.zeros(0, dtype=np.str_)
    days = ns // DAY_NS
    clock = ns - days * DAY_NS
    dates = days.astype("datetime64[D]")
    months = dates.astype("datetime64[M]")
    fields = {
        "Y": lambda: dates.astype("datetime64[Y]").astype(np.int64) + 1970,
        "m": lambda: months.astype(np.int64) % 12 + 1,
        "d": lambda: (dates - months.astype("datetime64[D]")).astype(np.int64) + 1,
        "H": lambda: clock // 3_600_000_000_000,
        "I": lambda: (clock // 3_600_000_000_000 + 11) % 12 + 1,
        "M": lambda: clock // 60_000_000_000 % 60,
        "S": lambda: clock // 1_000_000_000 % 60,
    }
    out = np.full(len(ns), "", dtype=np.str_)
    at = 0
    for match in _DIRECTIVE.finditer(fmt):
        out = np.strings.add(out, fmt[at:match.start()])
        at = match.end()
        unpadded, optional, width, name = match.groups()
        if name in fields:
            values = fields[name]().astype(np.str_)
            piece = values if unpadded else np.strings.zfill(values, 4 if name == "Y" else 2)
        elif name == "f":
            digits = int(width or (9 if optional else 6))
            fraction = clock % 10**9 // 10**(9 - digits)
            piece = np.strings.zfill(fraction.astype(np.str_), digits)
            if optional:
                piece = piece if width else np.strings.rstrip(piece, "0")
                piece = np.where(fraction == 0, "", np.strings.add(".", piece))
        elif name == "p":
            piece = np.where(clock < 12 * 3_600_000_000_000, "AM", "PM")
        elif name in ("z", ":z"):
            sign = "-" if offset_minutes < 0 else "+"
            hours, minutes = divmod(abs(offset_minutes), 60)
            piece = f"{sign}{hours:02d}{':' if name == ':z' else ''}{minutes:02d}"
        else:
            piece = "%"
        out = np.strings.add(out, piece)
    return np.strings.add(out, fmt[at:])


class DatetimeEncoder(ColumnEncoder):
    kind = "datetime"

    def fit(self, s: pd.Series, rng: np.random.Generator) -> DatetimeEncoder:
        self.dtype = str(s.dtype)
        self._learn_form(s)
        ns, nulls = self._parse(s)
        # The column's resolution: the coarsest step every value is a whole multiple of.
        self.step_ = next(step for step in STEPS if np.all(ns[~nulls] % int(step * 1e9) == 0))
        self.clock_ = None
        # Only where numbers are drawn as ranges (tables of 10,000 rows or more by default):
        # on smaller tables the time of day as a part of its own made the rows easier to
        # tell apart (benchmarks/RESULTS.md, "Times of day as a part of their own").
        if self.splits_clock and self.numeric_bins > 1 and self.step_ < DAY_SECONDS:
            days, clock = self._day_and_clock(ns, nulls)
            if len(np.unique(clock[~nulls])) > 1:
                self.inner_ = self._part(days, rng)
                self.clock_ = self._part(clock[~nulls], rng)  # a null's time is its day's null
                # The first and last days' times are drawn like any day's: kept in bounds here.
                self.span_ = [int(ns[~nulls].min()), int(ns[~nulls].max())]
        if self.clock_ is None:
            self.inner_ = self._part(np.where(nulls, np.nan, ns.astype("float64") / 1e9), rng)
        self._set_layout()
        return self

    splits_clock = True  # a time of day is a part of its own (not for times alone)

    def _part(self, values: np.ndarray, rng: np.random.Generator) -> NumericEncoder:
        part = NumericEncoder(self.name, dtype="float64")
        part.protect_below, part.numeric_bins = self.protect_below, self.numeric_bins
        return part.fit(pd.Series(values), rng)

    def _set_layout(self) -> None:
        parts = [self.inner_] + ([self.clock_] if self.clock_ is not None else [])
        self.n_continuous = sum(p.n_continuous for p in parts)
        self.cardinalities = [c for p in parts for c in p.cardinalities]

    def _day_and_clock(self, ns: np.ndarray, nulls: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Whole days since the epoch and seconds since midnight, on the column's wall clock
        (its offset), NaN days for nulls."""
        wall = ns + self.offset_ * 60_000_000_000
        days = np.floor_divide(wall, DAY_NS)
        clock = (wall - days * DAY_NS) / 1e9
        return np.where(nulls, np.nan, days.astype("float64")), clock

    def _learn_form(self, s: pd.Series) -> None:
        """What the values are (`values_`: datetime64, date objects or text), their format
        and zone, so that generated values take the same form."""
        self.tz_, self.offset_ = None, 0
        if _is_datetime(s):
            self.values_, self.format_ = "datetime64", None
            self.tz_ = zone_name(s.dt.tz) if s.dt.tz is not None else None
            return
        if pd.api.types.infer_dtype(s, skipna=True) == "date":
            self.values_, self.format_ = "date", "%Y-%m-%d"
            return
        self.values_, self.format_ = "text", detect_format(s)
        if self.format_ is None:
            raise UnsupportedColumnError(misfit(s, FORMATS, "dates", self.name))
        if self.format_.endswith("z"):
            self.offset_ = _most_common_offset(s.dropna().astype(str), self.format_)

    def _parse(self, s: pd.Series, lenient: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """int64 nanoseconds since the epoch (UTC) and the null mask. Values not in the
        column's form raise, or with `lenient` count as nulls."""
        if self.values_ == "datetime64" or _is_datetime(s):
            ts = s if _is_datetime(s) else pd.to_datetime(s, errors="coerce")
            ts = ts.dt.tz_convert(None) if ts.dt.tz is not None else ts
        elif self.values_ == "date":
            ts = pd.to_datetime(s.astype(object), errors="coerce")
        else:
            ts = parse(s, self.format_)
        bad = ts.isna().to_numpy() & s.notna().to_numpy()
        if bad.any() and not lenient:
            raise UnsupportedColumnError(
                f"column {self.name!r}: values not in the format {self.format_!r}: "
                f"{s[bad].head(5).tolist()} (rows {s.index[bad][:5].tolist()})")
        nulls = ts.isna().to_numpy()
        ns = ts.to_numpy(dtype="datetime64[ns]").astype("int64")
        return np.where(nulls, 0, ns), nulls

    def _write(self, ns: np.ndarray, nulls: np.ndarray) -> pd.Series:
        """UTC nanoseconds back in the column's form and dtype."""
        stamps = ns.astype("datetime64[ns]")
        if self.values_ == "datetime64":
            out = pd.Series(stamps, name=self.name)
            out[nulls] = pd.NaT
            if self.tz_:
                out = out.dt.tz_localize("UTC").dt.tz_convert(self.tz_)
                # The dtype's text names a fixed offset as pytz.FixedOffset(120), which pandas
                # does not read back: the unit and the zone's name make the dtype instead.
                unit = re.match(r"datetime64\[(\w+)", self.dtype)
                return out.astype(pd.DatetimeTZDtype(unit[1] if unit else "ns", self.tz_))
            return out.astype(self.dtype)
        if self.values_ == "date":
            out = pd.Series(stamps, name=self.name).dt.date.astype(object)
            out[nulls] = None  # what pandas reads from a null in a Parquet date column
            return out
        text = write(ns + self.offset_ * 60_000_000_000, self.format_, self.offset_)
        return as_series(text, self.dtype, self.name, nulls)

    def _parts(self, ns: np.ndarray, nulls: np.ndarray) -> tuple[pd.Series, pd.Series | None]:
        """What the parts encode: the day and the time of day, or seconds since the epoch."""
        if self.clock_ is None:
            return pd.Series(np.where(nulls, np.nan, ns.astype("float64") / 1e9)), None
        days, clock = self._day_and_clock(ns, nulls)
        return pd.Series(days), pd.Series(np.where(nulls, np.nan, clock))

    def encode(self, s: pd.Series, rng: np.random.Generator | None = None) -> Encoded:
        return self._encode(*self._parse(s), rng)

    def encode_lenient(self, s: pd.Series) -> Encoded:
        """As `encode`, with unparsable values taken as null (for scoring rows as they are)."""
        return self._encode(*self._parse(s, lenient=True))

    def _encode(self, ns: np.ndarray, nulls: np.ndarray,
                rng: np.random.Generator | None = None) -> Encoded:
        first, clock = self._parts(ns, nulls)
        out = self.inner_.encode(first, rng)
        if clock is None:
            return out
        more = self.clock_.encode(clock, rng)
        return Encoded(np.hstack([out.continuous, more.continuous]),
                       np.hstack([out.discrete, more.discrete]))

    def decode(self, continuous: np.ndarray, discrete: np.ndarray,
               rng: np.random.Generator) -> pd.Series:
        k, m = self.inner_.n_continuous, len(self.inner_.cardinalities)
        first = self.inner_.decode(continuous[:, :k], discrete[:, :m], rng).to_numpy("float64")
        nulls = np.isnan(first)
        step_ns = round(self.step_ * 1e9)
        if self.clock_ is None:
            steps = np.round(np.nan_to_num(first) * (1e9 / step_ns)).astype("int64")
            return self._write(steps * step_ns, nulls)
        clock = self.clock_.decode(continuous[:, k:], discrete[:, m:], rng).to_numpy("float64")
        # The last step of the day at most: rounding must not carry a time into the next day.
        clock_steps = np.clip(np.round(np.nan_to_num(clock) * (1e9 / step_ns)),
                              0, DAY_NS // step_ns - 1).astype("int64")
        wall = np.round(np.nan_to_num(first)).astype("int64") * DAY_NS + clock_steps * step_ns
        ns = wall - self.offset_ * 60_000_000_000
        low, high = self.span_
        outside = ~nulls & ((ns < low) | (ns > high))
        if outside.any():
            ns[outside] = np.clip(self._redraw_time(ns[outside], low, high, rng), low, high)
        return self._write(ns, nulls)

    def protects(self, s: pd.Series) -> np.ndarray:
        ns, nulls = self._parse(s, lenient=True)
        first, clock = self._parts(ns, nulls)
        hit = self.inner_.protects(first)
        if clock is not None:
            hit |= self.clock_.protects(clock)
        return hit & ~nulls

    def out_of_support(self, s: pd.Series) -> list[OutOfSupport]:
        ns, nulls = self._parse(s, lenient=True)
        bad = nulls & s.notna().to_numpy()
        found = []
        if bad.any():
            rule = f"must be a {self._noun()} like {self.format_ or 'a datetime'}"
            found.append(OutOfSupport(rule, bad, np.where(bad, UNSEEN_NATS, 0.0)))
        first = self._parts(ns, nulls)[0].to_numpy()
        # An unparsable value is reported once, above, not again as a null.
        first[bad] = self.inner_.quantiles_[len(self.inner_.quantiles_) // 2]
        found += self.inner_.out_of_support(pd.Series(first))
        if self.clock_ is not None:  # the range in days, as dates
            ends = self._write(self.inner_.quantiles_[[0, -1]].astype("int64") * DAY_NS
                               - self.offset_ * 60_000_000_000, np.zeros(2, bool))
            for f in found:
                if f.rule.startswith("lies outside the training range"):
                    f.rule = f"lies outside the training range [{ends[0]}, {ends[1]}] (days)"
        return found

    def _noun(self) -> str:
        return "date"

    def bin_edges(self, n_bins: int) -> np.ndarray:
        """As NumericEncoder's, one row per continuous output with a time of day."""
        if self.clock_ is None:
            return self.inner_.bin_edges(n_bins)
        return np.vstack([self.inner_.bin_edges(n_bins), self.clock_.bin_edges(n_bins)])

    def constrain(self, value: Any) -> Constraint:
        """None: null; a value or a (start, end) pair of values (strings or timestamps)."""
        if value is None:
            return Constraint(self.inner_.constrain(None).classes,
                              matches=lambda series: series.isna().to_numpy())
        ranged = isinstance(value, (tuple, list))
        pair = tuple(value) if ranged else (value, value)
        ends = [None if v is None else self._condition_ns(v) for v in pair]
        low = np.iinfo(np.int64).min if ends[0] is None else ends[0]
        high = np.iinfo(np.int64).max if ends[1] is None else ends[1]
        step_ns = round(self.step_ * 1e9)
        if self.clock_ is None:
            seconds = tuple(None if v is None else v / 1e9 for v in ends)
            inner = self.inner_.constrain(seconds if ranged else seconds[0])
            classes, intervals = inner.classes, inner.intervals
        else:
            days = [None if v is None else self._day_and_clock(np.array([v]), np.zeros(1, bool))
                    for v in ends]
            inner = self.inner_.constrain(tuple(None if d is None else float(d[0][0])
                                                for d in days))
            classes, intervals = dict(inner.classes), dict(inner.intervals)
            if not ranged:  # one instant: its time of day too
                clock = self.clock_.constrain(float(days[0][1][0]))
                k, m = self.inner_.n_continuous, len(self.inner_.cardinalities)
                classes.update({m + j: c for j, c in clock.classes.items()})
                intervals.update({k + j: i for j, i in clock.intervals.items()})

        def enforce(series: pd.Series, rng: np.random.Generator) -> pd.Series:
            # Rounding to the column's resolution can step just past an end: clip it back.
            ns, nulls = self._parse(series)
            outside = ~nulls & ((ns < low) | (ns > high))
            if not outside.any():
                return series
            ns = ns.copy()
            if self.clock_ is not None:  # an end day's times outside: drawn inside
                ns[outside] = self._redraw_time(ns[outside], low, high, rng)
            elif self.inner_.bin_u_ is not None:  # an end range's part outside: drawn inside
                seconds = np.where(nulls, np.nan, ns / 1e9)
                seconds = self.inner_.redraw_outside(seconds, low / 1e9, high / 1e9, rng)
                moved = np.round(np.nan_to_num(seconds[outside]) * (1e9 / step_ns))
                ns[outside] = moved.astype("int64") * step_ns
            return self._write(np.clip(ns, low, high), nulls)

        def matches(series: pd.Series) -> np.ndarray:
            ns, nulls = self._parse(series, lenient=True)
            return ~nulls & (ns >= low) & (ns <= high)
        return Constraint(classes, intervals, enforce, matches)

    def _redraw_time(self, ns: np.ndarray, low: int, high: int,
                     rng: np.random.Generator) -> np.ndarray:
        """Instants outside [low, high] on the days of the ends, given a time of day drawn
        from the column's times within what that day allows."""
        days, clock = self._day_and_clock(ns, np.zeros(len(ns), bool))
        out, step_ns = ns.copy(), round(self.step_ * 1e9)
        for day in np.unique(days):
            rows = days == day
            start = int(day) * DAY_NS - self.offset_ * 60_000_000_000  # its midnight, as UTC
            lo = max(low, start) - start
            hi = min(high, start + DAY_NS - 1) - start
            if lo > hi:
                continue
            drawn = self.clock_.redraw_outside(clock[rows], lo / 1e9, hi / 1e9, rng)
            out[rows] = start + (np.round(drawn * (1e9 / step_ns)) * step_ns).astype("int64")
        return out

    def _condition_ns(self, value: Any) -> int:
        """A condition's date as UTC nanoseconds since the epoch, like the column's values."""
        try:
            ts = pd.Timestamp(value)
        except (TypeError, ValueError):
            raise ConditionError(f"column {self.name!r}: {value!r} is not a date") from None
        if ts is pd.NaT:
            raise ConditionError(f"column {self.name!r}: {value!r} is not a date")
        ts = ts.tz_convert("UTC").tz_localize(None) if ts.tz is not None else ts
        return ts.as_unit("ns").value

    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        meta, arrays = super().state()
        inner_meta, inner_arrays = self.inner_.state()
        meta.update(format=self.format_, tz=self.tz_, step=self.step_, values=self.values_,
                    offset=self.offset_, inner=inner_meta)
        arrays.update(inner_arrays)
        if self.clock_ is not None:
            clock_meta, clock_arrays = self.clock_.state()
            meta.update(clock=clock_meta, span=self.span_)
            arrays.update({f"clock.{k}": v for k, v in clock_arrays.items()})
        return meta, arrays

    def _set_state(self, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        self.format_, self.tz_, self.step_ = meta["format"], meta["tz"], meta["step"]
        # Models saved before date objects and zones were told apart: text or datetime64.
        self.values_ = meta.get("values") or ("datetime64" if self.format_ is None else "text")
        self.offset_ = meta.get("offset", 0)
        self.inner_ = NumericEncoder.from_state(
            meta["inner"], {k: v for k, v in arrays.items() if not k.startswith("clock.")})
        # Models saved before times of day were a part of their own have none.
        self.clock_ = None if "clock" not in meta else NumericEncoder.from_state(
            meta["clock"], {k[len("clock."):]: v for k, v in arrays.items()
                            if k.startswith("clock.")})
        self.span_ = meta.get("span")


def _is_datetime(s: pd.Series) -> bool:
    return pd.api.types.is_datetime64_any_dtype(s)


def zone_name(tz: Any) -> str:
    """A time zone (tzinfo) as a name pandas reads back: UTC, Europe/Paris or, for a fixed
    offset without a name, +HH:MM (str() of pytz's would be "pytz.FixedOffset(120)")."""
    name = getattr(tz, "zone", None) or getattr(tz, "key", None)  # pytz, zoneinfo
    if name:
        return str(name)
    offset = tz.utcoffset(None)
    if offset is None:
        return str(tz)
    if not offset:
        return "UTC"
    minutes = int(offset.total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _has_zone(fmt: str) -> bool:
    return fmt.endswith(("z", "Z"))


def _distinct_text(s: pd.Series) -> pd.Series:
    if _is_datetime(s) or pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
        return pd.Series([], dtype=object)
    distinct = pd.unique(s.dropna().to_numpy(dtype=object))[:MAX_DISTINCT]
    return pd.Series(distinct, dtype=object).astype(str)


@functools.cache
def _shape_pattern(fmt: str) -> re.Pattern:
    """A regex over digit shapes (digits written as 9) that the format's strings fit; fields
    that may be unpadded are named groups, so their widths can be read back."""
    parts, at, named = [], 0, set()
    for match in _DIRECTIVE.finditer(fmt):
        parts.append(re.escape(fmt[at:match.start()]))
        at = match.end()
        name = match.group(2) + match.group(4)
        pattern = _SHAPE_PATTERNS[name]
        if match.group(4) in ("m", "d", "H", "I", "f") and match.group(4) not in named:
            named.add(match.group(4))
            pattern = f"(?P<{match.group(4)}>{pattern})"
        parts.append(pattern)
    parts.append(re.escape(fmt[at:]))
    return re.compile("".join(parts))


def _refine(fmt: str, found: list[re.Match]) -> str:
    """Mark fields that any value writes with one digit as unpadded; give a fraction the width
    the values have, or mark it trimmed where widths differ."""
    for name in "mdHI":
        if any(len(m.group(name) or "") == 1 for m in found if name in m.re.groupindex):
            fmt = fmt.replace(f"%{name}", f"%-{name}")
    if "%f" in fmt:
        widths = {len(m.group("f")) for m in found}
        if len(widths) > 1:  # trailing zeros left out
            fmt = fmt.replace(".%f", "%.f")
        elif (digits := widths.pop()) != 6:
            fmt = fmt.replace("%f", f"%{digits}f")
    elif "%.f" in fmt:
        widths = {len(m.group("f")) - 1 for m in found if m.group("f")}
        if len(widths) == 1:  # one width, left out when zero: as Python's isoformat writes
            fmt = fmt.replace("%.f", f"%.{widths.pop()}f")
    return fmt


def _most_common_offset(text: pd.Series, fmt: str) -> int:
    """The offset, in minutes, most values are written in (the last 5 or 6 characters).

    Generated values are written in this one offset. Their instants are what the model
    learned; drawing an offset per value instead would pair dates with offsets they never had
    (winter dates with a summer-time offset), and normalising keeps every value a true instant
    in the column's notation.
    """
    zone = text.str[-6:].str.replace(":", "", regex=False) if fmt.endswith(":z") else text.str[-5:]
    sign = np.where(zone.str[0] == "-", -1, 1)
    minutes = sign * (zone.str[1:3].astype(int) * 60 + zone.str[3:5].astype(int))
    return int(pd.Series(minutes).mode().iloc[0])
