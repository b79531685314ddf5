"""Columns computed from others by a formula, for `synthvae.rules`: a category set by ranges
of a number (a score band from a score, an occupation group from an occupation code), a
text made of two others (a full name from a first and a last name), and a whole number made
of two others by place value (a clock time 1545 from its hour 15 and minute 45).

A lookup cannot keep these: a number with continuous values is sampled between the values
training rows had, and a composed text or number has as many values as there are pairs of
its parts. Each is found by the shape of every training row and computed after sampling
from its sources.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

MAX_BAND_LEVELS = 60  # a category set by ranges has few values
MIN_BAND_VALUES = 5  # distinct numbers per range: fewer is a rare value, not a range
MIN_COMPOSED_ROWS = 20
COMPOSED_PROBE = 200  # rows a candidate pair is tried on before the whole column
MAX_SEPARATOR = 5
# Place values a number may be made of two others by: digits (HHMM clock times, YYYYMM
# months) and minutes or seconds (minutes of the day from an hour and a minute).
FACTORS = (10, 100, 1000, 10_000, 60)


# ------------------------------------------------------------------ bands
def find_band(x: np.ndarray, order: np.ndarray, target_codes: np.ndarray
              ) -> list[tuple[int, int]] | None:
    """Ranges of `x` (float, NaN for nulls; `order` its argsort) each holding one value of
    the target (`target_codes`, from pd.factorize) in every row: (first, last) positions in
    the sorted non-null `x` per range, or None when the target is not set by ranges."""
    valued = order[~np.isnan(x[order])]
    if len(valued) < 2 * MIN_BAND_VALUES:
        return None
    xs, ts = x[valued], target_codes[valued]
    new_value = np.r_[True, xs[1:] != xs[:-1]]
    starts = np.flatnonzero(new_value)
    # one target value per number: the sorted codes are constant within each number
    lo = np.minimum.reduceat(ts, starts)
    if not np.array_equal(lo, np.maximum.reduceat(ts, starts)):
        return None
    change = np.flatnonzero(lo[1:] != lo[:-1]) + 1
    n_ranges = len(change) + 1
    if n_ranges < 2 or n_ranges > 2 * len(np.unique(lo)):
        return None
    bounds = np.r_[0, change, len(lo)]
    if np.diff(bounds).min() < MIN_BAND_VALUES:
        return None
    ends = np.r_[starts[1:], len(xs)]
    return [(int(starts[a]), int(ends[b - 1] - 1)) for a, b in zip(bounds[:-1], bounds[1:])]


def band_keys(x: np.ndarray, order: np.ndarray, target: pd.Series,
              ranges: list[tuple[int, int]], plain) -> tuple[list[list[Any]], list[Any]] | None:
    """The rule's stored ranges ([low, high] of the training numbers) and the target value of
    each; a last [None, None] entry gives the target's value where the number is null (None
    when those rows do not agree on one)."""
    valued = order[~np.isnan(x[order])]
    keys = [[float(x[valued[a]]), float(x[valued[b]])] for a, b in ranges]
    values = [plain(target.iloc[valued[a]]) for a, _ in ranges]
    nulls = np.isnan(x)
    if nulls.any():
        at_null = pd.unique(target[nulls].astype(object).map(plain))
        if len(at_null) > 1:
            return None
        keys.append([None, None])
        values.append(at_null[0])
    return keys, values


def band_values(x: np.ndarray, keys: list[list[Any]], values: list[Any],
                drawn: np.ndarray) -> np.ndarray:
    """The target where the number is `x`: the value of the range it falls in, split halfway
    between two training ranges; `drawn` where it is null and training rows never were."""
    ranged = [k for k in keys if k[0] is not None]
    cuts = np.array([(ranged[i][1] + ranged[i + 1][0]) / 2 for i in range(len(ranged) - 1)])
    table = np.array(values[:len(ranged)], dtype=object)
    out = table[np.searchsorted(cuts, np.nan_to_num(x), side="right")]
    nulls = np.isnan(x)
    out[nulls] = values[-1] if len(keys) > len(ranged) else drawn[nulls]
    return out


def band_span(keys: list[list[Any]], wanted: np.ndarray
              ) -> tuple[float | None, float | None] | None:
    """The range of the number (low, high; None for open) whose values fall in the ranges
    where `wanted` (per stored range) holds; None when those are not one unbroken span or
    only the null entry holds."""
    ranged = [k for k in keys if k[0] is not None]
    hit = np.flatnonzero(wanted[:len(ranged)])
    if not len(hit) or np.any(np.diff(hit) != 1):
        return None
    first, last = int(hit[0]), int(hit[-1])
    low = None if first == 0 else (ranged[first - 1][1] + ranged[first][0]) / 2
    # the halfway point itself belongs to the range above it
    high = None if last == len(ranged) - 1 else float(
        np.nextafter((ranged[last][1] + ranged[last + 1][0]) / 2, -np.inf))
    return low, high


# ------------------------------------------------------------------ composed text
def find_composed(df: pd.DataFrame, target: str, sources: list[str]
                  ) -> tuple[str, str, str] | None:
    """(first, separator, second): `target` is first + separator + second in every row
    where both are given, and null in every other row."""
    t = df[target]
    given = t.notna().to_numpy()
    if given.sum() < MIN_COMPOSED_ROWS or t.nunique() < 2:
        return None
    probe = np.flatnonzero(given)[:COMPOSED_PROBE]
    tp = [str(v) for v in t.to_numpy()[probe]]
    text = {c: df[c].to_numpy()[probe] for c in sources}
    for a in sources:
        if not all(isinstance(v, str) and v and s.startswith(v) for s, v in zip(tp, text[a])):
            continue
        for b in sources:
            if b == a or not all(isinstance(v, str) and v and s.endswith(v) and
                                 len(s) >= len(u) + len(v)
                                 for s, u, v in zip(tp, text[a], text[b])):
                continue
            sep = tp[0][len(text[a][0]):len(tp[0]) - len(text[b][0])]
            if len(sep) <= MAX_SEPARATOR and composed_broken(df, a, sep, b, target).sum() == 0:
                return a, sep, b
    return None


def composed_values(first: pd.Series, sep: str, second: pd.Series) -> np.ndarray:
    both = (first.notna() & second.notna()).to_numpy()
    out = np.full(len(first), np.nan, dtype=object)
    out[both] = (first[both].astype(str) + sep + second[both].astype(str)).to_numpy()
    return out


def composed_broken(df: pd.DataFrame, first: str, sep: str, second: str, target: str
                    ) -> np.ndarray:
    expected = composed_values(df[first], sep, df[second])
    actual = df[target].astype(object).to_numpy()
    nulls = pd.isna(expected)
    return np.where(nulls, ~pd.isna(actual),
                    pd.isna(actual) | (expected.astype(str) != actual.astype(str)))


# ------------------------------------------------------------------ composed numbers
def whole_numbers(s: pd.Series) -> np.ndarray | None:
    """The column as float64 (NaN for nulls) when every value is a whole number >= 0."""
    if not pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
        return None
    x = s.to_numpy(dtype="float64", na_value=np.nan)
    given = x[~np.isnan(x)]
    if not len(given) or given.min() < 0 or not np.all(given == np.floor(given)) \
            or given.max() > 2**53:
        return None
    return x


def find_composed_number(numbers: dict[str, np.ndarray], target: str, sources: list[str]
                         ) -> tuple[str, int, str] | None:
    """(high, factor, low): `target` is high * factor + low in every row, with 0 <= low <
    factor, and null exactly where high or low is. `numbers` holds whole_numbers' columns."""
    t = numbers[target]
    given = ~np.isnan(t)
    if given.sum() < MIN_COMPOSED_ROWS or len(np.unique(t[given])) < 2:
        return None
    probe = np.flatnonzero(given)[:COMPOSED_PROBE]  # most candidates fail on the first rows
    for factor in FACTORS:
        high, low = np.floor_divide(t, factor), np.mod(t, factor)
        lows = [c for c in sources if np.array_equal(numbers[c][probe], low[probe])
                and _same(numbers[c], low, given)]
        highs = [c for c in sources if np.array_equal(numbers[c][probe], high[probe])
                 and _same(numbers[c], high, given)]
        for b in lows:
            for a in highs:
                if a != b and np.array_equal(np.isnan(numbers[a]) | np.isnan(numbers[b]),
                                             ~given):
                    return a, factor, b
    return None


def _same(x: np.ndarray, want: np.ndarray, given: np.ndarray) -> bool:
    """`x` equals `want` where the target is given, and takes two values at least there."""
    got = x[given]
    return np.array_equal(got, want[given]) and len(np.unique(got)) > 1


def composed_number_values(high: pd.Series, factor: int, low: pd.Series) -> np.ndarray:
    """high * factor + low, NaN where either is null."""
    a = pd.to_numeric(high, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    b = pd.to_numeric(low, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    return a * factor + b
