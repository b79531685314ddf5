"""Numeric columns: quantile normalisation to a standard normal, with tie dequantisation.

A Gaussian decoder likelihood suits values that are themselves roughly Gaussian, so each value
goes through its empirical CDF and then the normal quantile function (as sklearn's
QuantileTransformer, TabDDPM and TabSyn do), all with np.interp over a fixed quantile grid.
Tied values (age 37, capital-gain 0) would all land on one point; when training, each is
spread uniformly over its probability mass instead (a randomised probability integral
transform), which gives the decoder a smooth target. The inverse maps a whole mass back to
the single value, so point masses, bounds and integer-ness come back exactly.

Nulls and infinities are not points on that scale: each is a class of one discrete output
(a value, null, +inf, -inf: only those the column has), so the model learns their rate and
where they go, and the quantiles are of the finite values alone. Whole numbers come back as
exact integers of the column's dtype within its observed [min, max], even beyond 2**53,
where the float64 grid itself is coarser than 1.

A column whose values repeat (at most 10,000 distinct, each seen 4 times on average: incomes
recoded to a few hundred amounts, occupation codes, survey years, ages, prices on a grid)
is a discrete distribution: its exact CDF over the distinct values replaces the quantile
grid, so every decoded value is one the column has. Interpolating between grid points would
invent values (years with no survey, incomes no one reports) that give the rows away.

With `numeric_bins` > 1 (`Synthesizer(numeric_bins=...)`) the value is two outputs: which of
up to `numeric_bins` ranges it falls in (a class, drawn from a softmax, so its distribution
given the rest of the row can take any shape: two modes, a spike and a tail) and where in
that range (the Gaussian output, as a standard normal of the position). One Gaussian per row
cannot draw a value whose distribution given the other columns has several modes; a
classifier then tells the rows apart by the values between them. The ranges hold about
equal numbers of distinct values (equal mass for a continuous column) and never split a
tied value, so a spike is one class and the rare values beside it keep their own ranges.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.special import ndtr, ndtri

from .base import (UNSEEN_NATS, ColumnEncoder, ConditionError, Constraint, Encoded,
                   OutOfSupport, as_series)

N_QUANTILES = 1000
DISCRETE_MAX_VALUES = 10_000  # distinct values a discrete column may have...
DISCRETE_MIN_REPEATS = 4      # ...and the rows per distinct value it needs, on average
FIT_SUBSAMPLE = 200_000
_EPS = 1e-5  # keeps ndtri finite: |z| <= 4.3
# Probabilities are squeezed affinely into [_EPS, 1 - _EPS] (not clipped) and stretched back on
# decoding, so the smallest and largest values map to the ends of the grid and come back exactly.
# The stretch uses the ends as float32 features hold them, so they invert to exactly 0 and 1.
_SCALE = 1.0 - 2.0 * _EPS
BIN_EDGE_MAX = 1e6  # an unused bin edge: above any value (JSON has no infinity)
_U_LOW = float(ndtr(np.float64(np.float32(ndtri(_EPS)))))
_U_HIGH = float(ndtr(np.float64(np.float32(ndtri(_EPS + _SCALE)))))
# Discrete classes besides "a value" (class 0), in this order, for those the column has; a
# column with nulls only keeps the layout it had before infinities were classes.
SPECIALS = ("null", "+inf", "-inf")


class NumericEncoder(ColumnEncoder):
    kind = "numeric"

    def fit(self, s: pd.Series, rng: np.random.Generator) -> NumericEncoder:
        self.dtype = str(s.dtype)
        values = _as_float(s)
        observed = values[np.isfinite(values)]
        self.has_nulls = bool(np.isnan(values).any())
        self.specials_ = [name for name, rows in zip(SPECIALS, _special_rows(values)) if rows.any()]
        self.n_continuous = 1
        self.whole_range_ = None
        if _integer_dtype(self.dtype) is not None and s.notna().any():
            # From the integers themselves: as floats, values beyond 2**53 round.
            self.whole_range_ = [int(s.min()), int(s.max())]
        if len(observed) > FIT_SUBSAMPLE:
            observed = rng.choice(observed, FIT_SUBSAMPLE, replace=False)
        n_levels = max(2, min(N_QUANTILES, len(observed)))
        self.levels_ = np.linspace(0.0, 1.0, n_levels)
        self.quantiles_ = np.quantile(observed, self.levels_) if len(observed) else np.zeros(n_levels)
        self.decimals_ = _decimals(observed)
        self.support_, self.cdf_, self.protected_ = None, None, None
        support, counts = np.unique(observed, return_counts=True)
        # Past 2**53 float64 values are not the integers they stand for; whole numbers there
        # keep the grid, whose decoding _exact_whole makes exact.
        if 0 < len(support) <= DISCRETE_MAX_VALUES and np.abs(support).max() <= 2**53 and \
                len(observed) >= DISCRETE_MIN_REPEATS * len(support):
            self.support_, self.cdf_ = support, np.cumsum(counts) / counts.sum()
            self.protected_ = counts < self.protect_below
        self.bin_u_ = self._bin_bounds(self.numeric_bins) if self.numeric_bins > 1 else None
        self._set_cardinalities()
        return self

    def _set_cardinalities(self) -> None:
        # classes: a value (one per range when binned), then the column's specials
        values = 1 if self.bin_u_ is None else len(self.bin_u_) - 1
        self.cardinalities = [values + len(self.specials_)] if self.specials_ or values > 1 else []

    @property
    def n_value_classes(self) -> int:
        return 1 if self.bin_u_ is None else len(self.bin_u_) - 1

    def _bin_bounds(self, n_bins: int) -> np.ndarray | None:
        """Probabilities 0 = u_0 < ... < u_k = 1 cutting the CDF into at most `n_bins` ranges
        of about equally many distinct values, only where one ends; None under two ranges."""
        if self.support_ is not None:
            upper = self.cdf_[:-1]
        else:
            q, lv = self.quantiles_, self.levels_
            upper = np.interp(np.unique(q), q, lv)[:-1]
        if len(upper) == 0:
            return None
        cut = np.unique(np.round(np.linspace(0, len(upper), n_bins + 1)[1:-1]).astype(int) - 1)
        inner = np.unique(upper[cut[cut >= 0]])
        inner = inner[(inner > 0) & (inner < 1)]
        return np.concatenate([[0.0], inner, [1.0]]) if len(inner) else None

    def encode(self, s: pd.Series, rng: np.random.Generator | None = None) -> Encoded:
        values = _as_float(s)
        nulls = ~np.isfinite(values)  # nulls and infinities: their class says which
        filled = np.where(nulls, self.quantiles_[len(self.quantiles_) // 2], values)
        lower, upper = self._probability_range(filled)
        spread = rng.random(len(values)) if rng is not None else 0.5
        u = np.clip(lower + (upper - lower) * spread, 0.0, 1.0)
        code = np.zeros(len(values), np.int64)
        if self.bin_u_ is not None:  # the range, and the position within it
            code = np.searchsorted(self.bin_u_[1:-1], u, side="right")
            low, high = self.bin_u_[code], self.bin_u_[code + 1]
            u = np.clip((u - low) / (high - low), 0.0, 1.0)
        z = ndtri(_EPS + _SCALE * u)
        if rng is not None:  # a null's value is meaningless: give it prior noise, not a spike
            z = np.where(nulls, rng.standard_normal(len(values)), z)
        else:
            z = np.where(nulls, 0.0, z)
        first = self.n_value_classes
        for name, rows in zip(SPECIALS, _special_rows(values)):
            if name in self.specials_:
                code[rows] = first + self.specials_.index(name)
        discrete = code[:, None] if self.cardinalities else np.zeros((len(s), 0), np.int64)
        return Encoded(z.astype(np.float32)[:, None], discrete)

    def decode(self, continuous: np.ndarray, discrete: np.ndarray,
               rng: np.random.Generator) -> pd.Series:
        u = ndtr(continuous[:, 0].astype(np.float64))
        u = np.clip((u - _U_LOW) / (_U_HIGH - _U_LOW), 0.0, 1.0)
        code = discrete[:, 0] if self.cardinalities else np.zeros(len(u), np.int64)
        if self.bin_u_ is not None:
            at = np.minimum(code, len(self.bin_u_) - 2)  # a special's row: any range will do
            low = self.bin_u_[at]
            u = np.clip(low + u * (self.bin_u_[at + 1] - low), 0.0, 1.0)
        values = self._values(u)
        integer = _integer_dtype(self.dtype)
        nulls = None
        for i, name in enumerate(self.specials_, start=self.n_value_classes):
            if name == "null":
                nulls = code == i
            elif integer is None:  # an integer column has no infinities to give back
                values = np.where(code == i, np.inf if name == "+inf" else -np.inf, values)
        return as_series(values, self.dtype, self.name, nulls)

    def _values(self, u: np.ndarray) -> np.ndarray:
        """The column's values at probabilities `u` (the inverse CDF), in its dtype's kind."""
        if self.support_ is not None:  # the value whose probability range holds u
            at = np.minimum(np.searchsorted(self.cdf_, u, side="left"), len(self.support_) - 1)
            # The observed floats themselves, not rounded: 6.904679999999999 rounded to its
            # 5 decimals is 6.90468, another float, and a value no real row holds.
            values = self.support_[at]
            if self.protected_ is not None and len(self.support_) > 1:
                values = self._protected(values, u, at)
        else:
            values = _interp_levels(u, self.levels_, self.quantiles_)
            if self.decimals_ is not None:
                values = np.round(values, self.decimals_)
        values = np.clip(values, self.quantiles_[0], self.quantiles_[-1])
        integer = _integer_dtype(self.dtype)
        if integer is not None:
            low, high = self.whole_range_ or (round(self.quantiles_[0]), round(self.quantiles_[-1]))
            values = _exact_whole(values, integer, low, high)
        if self.protected_ is not None and len(self.support_) > 1:
            values = self._off_protected(values)
        return values

    def _off_protected(self, values: np.ndarray) -> np.ndarray:
        """A protected value's stand-in rounded back onto a protected value (whole numbers one
        apart leave no point between) goes to the nearest value kept instead."""
        kept = self.support_[~self.protected_]
        x = values.astype(np.float64)
        hit = self._on_protected(x)
        if not hit.any() or not len(kept):
            return values
        i = np.searchsorted(kept, x[hit])
        below, above = kept[np.maximum(i - 1, 0)], kept[np.minimum(i, len(kept) - 1)]
        values = values.copy()
        values[hit] = np.where(np.abs(x[hit] - below) <= np.abs(above - x[hit]), below, above)
        return values

    def redraw_outside(self, values: np.ndarray, low: float, high: float,
                       rng: np.random.Generator) -> np.ndarray:
        """`values` (floats) with those outside [low, high] drawn anew from the column's
        distribution within it: a binned column's condition allows whole ranges of the CDF,
        and the part of an end range outside the condition is moved inside it this way, not
        piled onto the bound."""
        with np.errstate(invalid="ignore"):
            outside = ~np.isnan(values) & ((values < low) | (values > high))
        if not outside.any():
            return values
        u_low = self._probability_range(np.array([max(low, self.quantiles_[0])]))[0][0]
        u_high = self._probability_range(np.array([min(high, self.quantiles_[-1])]))[1][0]
        values = values.astype(np.float64, copy=True)
        values[outside] = self._values(rng.uniform(u_low, u_high, int(outside.sum())))
        return values

    def _protected(self, values: np.ndarray, u: np.ndarray, at: np.ndarray) -> np.ndarray:
        """Values seen in fewer than `protect_below` training rows are replaced by a point
        between the value below and the value itself (the smallest: between it and the next),
        placed by where u falls in its probability range, and rounded like grid values."""
        rows = self.protected_[at]
        if not rows.any():
            return values
        a = at[rows]
        floor = np.where(a > 0, self.cdf_[np.maximum(a - 1, 0)], 0.0)  # P(X < value)
        width = self.cdf_[a] - floor
        frac = np.clip((u[rows] - floor) / np.where(width > 0, width, 1.0), 0.0, 1.0)
        hi = np.maximum(a, 1)
        between = self.support_[hi - 1] + frac * (self.support_[hi] - self.support_[hi - 1])
        if self.decimals_ is not None:
            between = np.round(between, self.decimals_)
        values = values.copy()
        values[rows] = between
        return values

    def protects(self, s: pd.Series) -> np.ndarray:
        if self.protected_ is None or len(self.support_) < 2:
            return np.zeros(len(s), bool)  # as decode, which only protects between values
        return self._on_protected(_as_float(s))

    def _on_protected(self, x: np.ndarray) -> np.ndarray:
        """Which of the floats `x` are protected grid values."""
        if not self.protected_.any():
            return np.zeros(len(x), bool)
        at = np.clip(np.searchsorted(self.support_, x), 0, len(self.support_) - 1)
        return (self.support_[at] == x) & self.protected_[at]

    def out_of_support(self, s: pd.Series) -> list[OutOfSupport]:
        values = _as_float(s)
        found = []
        not_number = np.isnan(values) & s.notna().to_numpy()
        if not_number.any():
            found.append(OutOfSupport("must be a number", not_number, np.where(not_number, UNSEEN_NATS, 0.0)))
        if not self.has_nulls:
            null = s.isna().to_numpy()
            if null.any():
                found.append(OutOfSupport("is never null in the training rows", null,
                                          np.where(null, UNSEEN_NATS, 0.0)))
        for name, rows in zip(SPECIALS[1:], _special_rows(values)[1:]):
            if name not in self.specials_ and rows.any():
                found.append(OutOfSupport(f"is {name}, which no training row is", rows,
                                          np.where(rows, UNSEEN_NATS, 0.0)))
        values = np.where(np.isinf(values), np.nan, values)  # scored above, as classes
        low, high = self.quantiles_[0], self.quantiles_[-1]
        with np.errstate(invalid="ignore"):
            excess = np.maximum(low - values, 0.0) + np.maximum(values - high, 0.0)
        outside = np.nan_to_num(excess) > 0
        if outside.any():
            # Past the range the model only sees the clipped end, so how far past it is
            # scored here: further out is more surprising, in units of the column's spread.
            scale = max(float(np.std(self.quantiles_)), 1e-12)
            nats = np.where(outside, UNSEEN_NATS + 0.5 * (np.nan_to_num(excess) / scale) ** 2, 0.0)
            found.append(OutOfSupport(f"lies outside the training range [{low:g}, {high:g}]",
                                      outside, nats))
        return found

    def bin_edges(self, n_bins: int) -> np.ndarray:
        """`n_bins - 1` edges in the model's space that split the column's distinct values into
        groups of about equal count, never through a tied value's range (so capital-gain's
        zeros are one bin and its rare non-zero amounts share the rest). Columns with fewer
        distinct values than bins repeat their last edge at +BIN_EDGE_MAX. A binned column's
        output is the position within its range, about N(0, 1): equiprobable edges there."""
        if self.bin_u_ is not None:
            return ndtri(np.arange(1, n_bins) / n_bins)
        if self.support_ is not None:
            upper = self.cdf_[:-1]  # where each value's probability range ends
        else:
            q, lv = self.quantiles_, self.levels_
            upper = np.interp(np.unique(q), q, lv)[:-1]
        cut = np.round(np.linspace(0, len(upper), n_bins + 1)[1:-1]).astype(int) - 1
        cut = np.unique(cut[cut >= 0])
        edges = ndtri(_EPS + _SCALE * upper[cut]) if len(upper) else np.zeros(0)
        return np.concatenate([edges, np.full(n_bins - 1 - len(edges), BIN_EDGE_MAX)])

    def _probability_range(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """P(X < v) and P(X <= v) for each finite v: the range a tied value is spread over."""
        if self.support_ is not None:
            at = np.searchsorted(self.support_, values, side="right")  # values <= v
            upper = np.where(at > 0, self.cdf_[np.maximum(at - 1, 0)], 0.0)
            seen = (at > 0) & (self.support_[np.maximum(at - 1, 0)] == values)
            below = np.where(at > 1, self.cdf_[np.maximum(at - 2, 0)], 0.0)
            return np.where(seen, below, upper), upper
        q, lv = self.quantiles_, self.levels_
        # Interpolating from both ends finds the whole probability range of a tied value.
        upper = np.interp(values, q, lv)
        lower = 1.0 - np.interp(-values, -q[::-1], 1.0 - lv[::-1])
        return lower, upper

    def constrain(self, value: Any) -> Constraint:
        """None: null; a number: that value; (low, high): a range, either end None for open."""
        if value is None:
            if not self.has_nulls:
                raise ConditionError(f"column {self.name!r} is never null in the training rows")
            return Constraint(classes={0: self._classes(value=False, null=True)},
                              matches=lambda series: np.isnan(_as_float(series)))
        low, high = parse_bounds(self.name, value)
        seen_low, seen_high = float(self.quantiles_[0]), float(self.quantiles_[-1])
        if high < seen_low or low > seen_high:
            raise ConditionError(f"column {self.name!r}: {value!r} lies outside the range seen "
                                 f"in the training rows, [{seen_low:g}, {seen_high:g}]")
        u_low = self._probability_range(np.array([low]))[0][0]    # P(X < low)
        u_high = self._probability_range(np.array([high]))[1][0]  # P(X <= high)
        # An open end stays open in the model's space too: its Gaussian's tail beyond the
        # grid decodes to the extreme value, which the condition allows.
        matches = lambda series: _in_range(_as_float(series), low, high)  # noqa: E731
        if self.bin_u_ is not None:
            # The ranges the condition reaches into; within them any position (see
            # redraw_outside for the end ranges' parts outside it).
            lo, hi = self.bin_u_[:-1], self.bin_u_[1:]
            ranges = (hi > u_low) & (lo < u_high) | (lo <= u_low) & (u_low <= hi) & (u_low == u_high)
            classes = {0: self._classes(ranges, null=False, pos_inf=high == np.inf,
                                        neg_inf=low == -np.inf)}

            def enforce(series: pd.Series, rng: np.random.Generator) -> pd.Series:
                values = self.redraw_outside(_as_float(series), low, high, rng)
                nulls = series.isna().to_numpy()
                return clip_series(as_series(values, self.dtype, self.name, nulls)
                                   .set_axis(series.index), low, high)
            return Constraint(classes=classes, enforce=enforce, matches=matches)
        z_low = -np.inf if u_low <= 0 else float(ndtri(_EPS + _SCALE * u_low))
        z_high = np.inf if u_high >= 1 else float(ndtri(_EPS + _SCALE * u_high))
        # An open end takes in the infinity beyond it, as `matches` does.
        classes = {0: self._classes(value=True, null=False, pos_inf=high == np.inf,
                                    neg_inf=low == -np.inf)} if self.specials_ else {}
        return Constraint(classes=classes, intervals={0: (z_low, z_high)},
                          enforce=lambda series, rng: clip_series(series, low, high),
                          matches=matches)

    def _classes(self, value: bool | np.ndarray, null: bool, pos_inf: bool = False,
                 neg_inf: bool = False) -> np.ndarray:
        """Mask over the discrete output's classes: a value (one per range when binned),
        then the column's specials."""
        allowed = {"null": null, "+inf": pos_inf, "-inf": neg_inf}
        values = np.broadcast_to(np.asarray(value, bool), (self.n_value_classes,))
        return np.concatenate([values, [allowed[name] for name in self.specials_]]).astype(bool)

    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        meta, arrays = super().state()
        # Integers as JSON numbers: exact whatever their size, where float64 arrays are not.
        meta.update(has_nulls=self.has_nulls, decimals=self.decimals_, specials=self.specials_,
                    whole_range=self.whole_range_)
        arrays.update(levels=self.levels_, quantiles=self.quantiles_)
        if self.bin_u_ is not None:
            arrays.update(bin_u=self.bin_u_)
        if self.support_ is not None:
            arrays.update(support=self.support_, cdf=self.cdf_,
                          protected=self.protected_.astype(np.uint8))
        return meta, arrays

    def _set_state(self, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        self.has_nulls = meta["has_nulls"]
        self.decimals_ = meta["decimals"]
        self.specials_ = meta.get("specials", ["null"] if self.has_nulls else [])
        self.whole_range_ = meta.get("whole_range")
        self.levels_, self.quantiles_ = arrays["levels"], arrays["quantiles"]
        self.support_, self.cdf_ = arrays.get("support"), arrays.get("cdf")
        self.bin_u_ = arrays.get("bin_u")  # absent: one Gaussian output (and older models)
        protected = arrays.get("protected")  # absent from models saved before protection
        self.protected_ = None if protected is None else protected.astype(bool)


def parse_bounds(name: str, value: Any) -> tuple[float, float]:
    """A number or a (low, high) pair (None for an open end) as two floats, low <= high."""
    pair = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if len(pair) != 2:
        raise ConditionError(f"column {name!r}: a range is (low, high), got {value!r}")
    bounds = []
    for bound, open_end in zip(pair, (-np.inf, np.inf)):
        if bound is None:
            bounds.append(open_end)
            continue
        try:
            bounds.append(float(bound))
        except (TypeError, ValueError):
            raise ConditionError(f"column {name!r}: {bound!r} is not a number") from None
    if bounds[0] > bounds[1]:
        raise ConditionError(f"column {name!r}: empty range, low {pair[0]!r} > high {pair[1]!r}")
    return bounds[0], bounds[1]


def clip_series(series: pd.Series, low: float, high: float) -> pd.Series:
    """Values into [low, high]; integer columns to the whole numbers inside it."""
    if series.dtype.kind in "iu" or str(series.dtype).startswith(("Int", "UInt")):
        low, high = np.ceil(low), np.floor(high)
    lower = None if np.isinf(low) else low
    upper = None if np.isinf(high) else high
    if lower is None and upper is None:
        return series
    return series.clip(lower, upper).astype(series.dtype)


def _in_range(values: np.ndarray, low: float, high: float) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return (values >= low) & (values <= high)


def _as_float(s: pd.Series) -> np.ndarray:
    return pd.to_numeric(s, errors="coerce").astype("float64").to_numpy(na_value=np.nan)


def _special_rows(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Masks of the null, +inf and -inf rows, in SPECIALS' order."""
    return np.isnan(values), np.isposinf(values), np.isneginf(values)


def _integer_dtype(dtype: str) -> np.dtype | None:
    """The numpy integer dtype of an integer column (nullable Int64 -> int64), else None."""
    target = pd.api.types.pandas_dtype(dtype)
    target = getattr(target, "numpy_dtype", target)
    return target if target.kind in "iu" else None


def _exact_whole(values: np.ndarray, integer: np.dtype, low: int, high: int) -> np.ndarray:
    """Finite floats as integers of `integer` in [low, high], exactly: the bounds are applied
    to the integers, since as floats they may round past the observed ones (2**60 + 7 is
    2**60 in float64); a value at a bound's float is that bound, so the ends come back
    exactly; and the cast never sees a float the dtype cannot hold."""
    info = np.iinfo(integer)
    below_top = np.nextafter(float(info.max) + 1.0, 0.0)  # largest float64 under max + 1
    rounded = np.round(values)
    whole = np.clip(rounded, float(info.min), below_top).astype(integer)
    low, high = integer.type(low), integer.type(high)
    whole = np.where(rounded <= float(low), low, np.where(rounded >= float(high), high, whole))
    return np.clip(whole, low, high)


def _decimals(observed: np.ndarray, most: int = 10) -> int | None:
    """Fewest decimals that every observed value already has (0 for whole numbers), so
    generated prices keep their cents, coordinates their 7 decimals (Ames' longitudes) and
    counts stay whole; None when values need more."""
    sample = observed[:10_000]
    for d in range(most + 1):
        if np.allclose(np.round(sample, d), sample, rtol=0, atol=1e-13 * max(1.0, np.abs(sample).max(initial=0))):
            return d
    return None


def _interp_levels(u: np.ndarray, levels: np.ndarray, quantiles: np.ndarray) -> np.ndarray:
    """np.interp(u, levels, quantiles) for u in [0, 1]. Levels from `fit` are an even grid,
    so each u's segment is found by arithmetic, not by np.interp's binary search (which
    cost a third of a microsecond a row on Adult's six numeric columns)."""
    n = len(levels)
    if n < 2 or levels[0] != 0.0 or levels[-1] != 1.0 or \
            not np.allclose(np.diff(levels), 1.0 / (n - 1), rtol=1e-9, atol=0.0):
        return np.interp(u, levels, quantiles)
    position = u * (n - 1)
    lower = np.minimum(position.astype(np.int64), n - 2)
    low = quantiles[lower]
    return low + (position - lower) * (quantiles[lower + 1] - low)

