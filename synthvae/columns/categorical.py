"""Categorical columns (and booleans, and numerics with few distinct values) as class codes.

Nulls are a level of their own, so how often a column is missing, and alongside which other
values, is learned like any category. Levels beyond `max_levels` share one "rare" class, and a
generated "rare" value is drawn from those levels' own frequencies: the decoder's softmax stays
small for columns with thousands of levels, while every level can still come back.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .base import (UNSEEN_NATS, ColumnEncoder, ConditionError, Constraint, Encoded,
                   OutOfSupport, as_series, to_json_value)
from .numeric import parse_bounds

MAX_LEVELS = 500


class CategoricalEncoder(ColumnEncoder):
    kind = "categorical"
    max_levels = MAX_LEVELS

    def fit(self, s: pd.Series, rng: np.random.Generator) -> CategoricalEncoder:
        self.dtype = str(s.dtype)
        # pandas categoricals decode to their own categories (unseen ones included) and order.
        categorical = isinstance(s.dtype, pd.CategoricalDtype)
        self.categories_ = ([to_json_value(c) for c in s.cat.categories] if categorical else None)
        self.ordered_ = bool(s.cat.ordered) if categorical else False
        # NaN, None and pd.NA in one object column are one null level, not three.
        counts = s.value_counts(dropna=True, sort=True)
        counts = counts[counts > 0]  # a categorical's unused categories are not levels
        # Value protection: levels this rare are not learned, so never generated. Their rows
        # train as the shared rare class, which decodes to the least common levels kept (as
        # many as their share needs): the column keeps a long tail of seldom values, where
        # pouring that share into its commonest level would be a spike no real sample has.
        # Not where every level is that rare: such a column (a tiny table's) would have
        # nothing left to learn.
        common = counts >= self.protect_below
        self.protected_hashes_ = np.zeros(0, np.uint64)
        stand_ins = counts.iloc[:0]
        if common.any() and not common.all():
            # Kept as hashes, so real rows holding them still encode (as seen values) while
            # the model file keeps no protected value whole.
            self.protected_hashes_ = np.unique(_hashes(counts.index[~common]))
            stand_ins = _stand_ins(counts[common], int(counts[~common].sum()))
            counts = counts[common]
        n_null = int(s.isna().sum())
        if n_null:
            counts = pd.concat([counts, pd.Series([n_null], index=pd.Index([None], dtype=object))])
            counts = counts.sort_values(ascending=False, kind="stable")
        values = [None if _is_null(v) else to_json_value(v) for v in counts.index]
        keep = self.max_levels if len(values) > self.max_levels else len(values)
        self.levels_ = values[:keep]
        self.rare_levels_ = values[keep:]
        tail = counts.to_numpy()[keep:].astype(np.float64)
        if len(stand_ins):  # the rare class also stands in for the protected levels
            self.rare_levels_ += [to_json_value(v) for v in stand_ins.index]
            tail = np.concatenate([tail, stand_ins.to_numpy().astype(np.float64)])
        self.rare_probs_ = tail / tail.sum() if len(tail) else np.zeros(0)
        self.n_continuous = 0
        self.cardinalities = [len(self.levels_) + (1 if self.rare_levels_ else 0)]
        self._index()
        return self

    def _index(self) -> None:
        self._lookup = pd.Index([_null_token(v) for v in self.levels_])
        self._values = np.array(self.levels_ + [None], dtype=object)
        self._values[len(self.levels_)] = None
        self._nulls = np.array([v is None for v in self.levels_] + [False])
        # For decoding to a pandas categorical: every value seen, as categories, and each
        # model class's (and each rare level's) code among them; -1 is null.
        seen = [v for v in self._all_levels() if v is not None]
        code = {v: i for i, v in enumerate(seen)}
        self._categories = seen
        self._category_codes = np.array([code.get(v, -1) for v in self.levels_] + [-1])
        self._rare_codes = np.array([code.get(v, -1) for v in self.rare_levels_], dtype=np.int64)
        self.decodes_to_category = (self.dtype == "object" and self.categories_ is None
                                    and bool(seen) and all(isinstance(v, str) for v in seen))

    def _all_levels(self) -> list[Any]:
        """Every value the column can decode to, once each: a protected level's stand-ins
        may be model classes as well as rare-class values."""
        unique = dict.fromkeys(_null_token(v) for v in self.levels_ + self.rare_levels_)
        return [None if v is _NULL else v for v in unique]

    def encode(self, s: pd.Series, rng: np.random.Generator | None = None) -> Encoded:
        keys = s.astype(object).where(s.notna(), _NULL)
        codes = self._lookup.get_indexer(keys)
        # Rare levels and values never seen in training both map to the shared rare class
        # (or, with none, to the most frequent level): encoding must not fail on new data.
        codes = np.where(codes < 0, len(self.levels_) if self.rare_levels_ else 0, codes)
        return Encoded(np.zeros((len(s), 0), np.float32), codes.astype(np.int64)[:, None])

    def decode(self, continuous: np.ndarray, discrete: np.ndarray,
               rng: np.random.Generator, as_category: bool = False) -> pd.Series:
        """The column's values in its dtype; with `as_category`, a column of strings comes as
        a pandas categorical of the same values instead (`decodes_to_category`), which makes
        no Python string per row: Arrow then takes it as codes and a dictionary."""
        codes = discrete[:, 0]
        if as_category and self.decodes_to_category:
            out = self._category_codes[codes]
            rare = codes == len(self.levels_)
            if rare.any():  # the same draw as below, so both forms hold the same values
                out[rare] = self._rare_codes[rng.choice(len(self.rare_levels_), int(rare.sum()),
                                                        p=self.rare_probs_)]
            return pd.Series(pd.Categorical.from_codes(out, self._categories), name=self.name)
        values = self._values[codes]
        nulls = self._nulls[codes]
        rare = codes == len(self.levels_)
        if rare.any():
            rare_values = np.array(self.rare_levels_, dtype=object)
            values[rare] = rare_values[rng.choice(len(rare_values), int(rare.sum()), p=self.rare_probs_)]
            nulls = nulls | (rare & pd.isna(values))
        if self.categories_ is not None:
            return pd.Series(pd.Categorical(np.where(nulls, None, values), self.categories_,
                                            self.ordered_), name=self.name)
        return as_series(values, self.dtype, self.name, nulls)

    def protects(self, s: pd.Series) -> np.ndarray:
        if not len(self.protected_hashes_):
            return np.zeros(len(s), bool)
        return np.isin(_hashes(s), self.protected_hashes_) & s.notna().to_numpy()

    def out_of_support(self, s: pd.Series) -> list[OutOfSupport]:
        keys = s.astype(object).where(s.notna(), _NULL)
        seen = pd.Index([_null_token(v) for v in self._all_levels()])
        unseen = (seen.get_indexer(keys) < 0)
        if unseen.any() and len(self.protected_hashes_):
            unseen &= ~(np.isin(_hashes(s), self.protected_hashes_) & s.notna().to_numpy())
        if not unseen.any():
            return []
        null = s.isna().to_numpy()
        found = []
        if (unseen & null).any():
            found.append(OutOfSupport("is never null in the training rows", unseen & null,
                                      np.where(unseen & null, UNSEEN_NATS, 0.0)))
        if (unseen & ~null).any():
            found.append(OutOfSupport(f"must be one of the training values ({self._seen(8)})",
                                      unseen & ~null, np.where(unseen & ~null, UNSEEN_NATS, 0.0)))
        return found

    def constrain(self, value: Any) -> Constraint:
        """A value, a list of values (any of them), or None for null; for discrete numeric
        columns also a (low, high) range. Strings match values by their text, so
        command-line conditions such as "13" or "true" work."""
        if isinstance(value, tuple):
            if self.kind != "discrete":
                raise ConditionError(f"column {self.name!r}: a (low, high) range needs a "
                                     f"numeric column; {self.name!r} is {self.kind}")
            low, high = parse_bounds(self.name, value)
            wanted = [v for v in self.levels_ + self.rare_levels_
                      if v is not None and low <= float(v) <= high]
            if not wanted:
                raise ConditionError(f"column {self.name!r}: no value seen in the training rows "
                                     f"lies in {value!r}; seen: {self._seen()}")
        else:
            raw = list(value) if isinstance(value, (list, set, frozenset)) else [value]
            if not raw:
                raise ConditionError(f"column {self.name!r}: an empty list allows no value")
            wanted = [self._match(v) for v in raw]
        keys = {_null_token(v) for v in wanted}

        def matches(series: pd.Series) -> np.ndarray:
            return series.astype(object).where(series.notna(), _NULL).isin(keys).to_numpy()
        mask = np.zeros(self.cardinalities[0], bool)
        index = {_null_token(v): i for i, v in enumerate(self.levels_)}
        rare = [v for v in wanted if _null_token(v) not in index]
        for v in wanted:
            mask[index.get(_null_token(v), len(self.levels_))] = True
        if not rare:
            return Constraint(classes={0: mask}, matches=matches)
        # The shared rare class decodes to any rare level; redraw those outside the condition.
        probs = np.array([self.rare_probs_[self.rare_levels_.index(v)] for v in rare])

        def enforce(series: pd.Series, rng: np.random.Generator) -> pd.Series:
            bad = ~matches(series)
            if bad.any():
                series = series.copy()
                picks = rng.choice(len(rare), int(bad.sum()), p=probs / probs.sum())
                series[bad] = np.array(rare, dtype=object)[picks]
            return series
        return Constraint(classes={0: mask}, enforce=enforce, matches=matches)

    def _match(self, value: Any) -> Any:
        seen = self._all_levels()
        if value is None or _is_null(value):
            if any(v is None for v in seen):
                return None
            raise ConditionError(f"column {self.name!r} is never null in the training rows")
        for v in seen:
            if v is not None and (v == value or str(v) == str(value)
                                  or str(v).lower() == str(value).lower()):
                return v
        if self.kind == "discrete":
            try:
                return next(v for v in seen if v is not None and float(v) == float(value))
            except (StopIteration, TypeError, ValueError):
                pass
        if len(self.protected_hashes_) and np.isin(_hashes([value]), self.protected_hashes_)[0]:
            raise ConditionError(
                f"column {self.name!r}: {value!r} is held by too few training rows to be "
                f"generated (value protection; Synthesizer(protect_below=1) or "
                f"--protect-below 1 turns it off)")
        raise ConditionError(f"column {self.name!r}: {value!r} never appears in the training "
                             f"rows; seen: {self._seen()}")

    def _seen(self, most: int = 20) -> str:
        seen = self._all_levels()
        more = f" ... ({len(seen)} in all)" if len(seen) > most else ""
        return ", ".join(repr(v) for v in seen[:most]) + more

    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        meta, arrays = super().state()
        meta.update(levels=self.levels_, rare_levels=self.rare_levels_,
                    categories=self.categories_, ordered=self.ordered_)
        arrays.update(rare_probs=self.rare_probs_)
        if len(self.protected_hashes_):
            arrays.update(protected_hashes=self.protected_hashes_)
        return meta, arrays

    def _set_state(self, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        self.levels_, self.rare_levels_ = meta["levels"], meta["rare_levels"]
        self.categories_, self.ordered_ = meta.get("categories"), meta.get("ordered", False)
        self.rare_probs_ = arrays["rare_probs"]
        self.protected_hashes_ = arrays.get("protected_hashes", np.zeros(0, np.uint64))
        self._index()


class BooleanEncoder(CategoricalEncoder):
    """True/False (and null) as three classes at most; decodes to the column's bool dtype."""

    kind = "boolean"


class DiscreteNumericEncoder(CategoricalEncoder):
    """A numeric column with few distinct values (ratings, counts, years of schooling):
    modelled as classes, which reproduces its exact support, decoded to its numeric dtype."""

    kind = "discrete"


_NULL = "\x00null"


def _null_token(v: Any) -> Any:
    return _NULL if v is None or _is_null(v) else v


def _is_null(v: Any) -> bool:
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def _stand_ins(kept: pd.Series, protected_rows: int) -> pd.Series:
    """How the protected levels' `protected_rows` are shared among the kept levels (counts,
    most common first): the least common ones, each given as many rows as it has, until the
    share is covered; the last may be given fewer. No level more than doubles its own
    frequency while there are kept levels left to take the rest."""
    rarest = kept.iloc[::-1]
    before = rarest.cumsum() - rarest
    given = np.minimum(rarest, np.maximum(protected_rows - before, 0))
    if protected_rows > rarest.sum():  # more protected rows than kept ones: spread in proportion
        given = rarest * (protected_rows / rarest.sum())
    return given[given > 0]


def _hashes(values) -> np.ndarray:
    """64-bit hashes of values as text (to_json_value keeps fitted values' text as read)."""
    return pd.util.hash_array(np.asarray([str(v) for v in values], dtype=object))
