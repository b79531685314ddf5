"""Constant and all-null columns: nothing to learn, so the value is repeated as it was."""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .base import (UNSEEN_NATS, ColumnEncoder, ConditionError, Constraint, Encoded,
                   OutOfSupport, as_series, to_json_value)


class ConstantEncoder(ColumnEncoder):
    kind = "constant"

    def fit(self, s: pd.Series, rng: np.random.Generator) -> ConstantEncoder:
        self.dtype = str(s.dtype)
        observed = s.dropna()
        self.value_ = None if observed.empty else to_json_value(observed.iloc[0])
        if isinstance(self.value_, pd.Timestamp):
            self.value_ = self.value_.isoformat()
        self.null_rate_ = float(s.isna().mean())
        return self

    def encode(self, s: pd.Series, rng: np.random.Generator | None = None) -> Encoded:
        return self.empty(len(s))

    def decode(self, continuous: np.ndarray, discrete: np.ndarray,
               rng: np.random.Generator) -> pd.Series:
        n = len(continuous)
        nulls = np.ones(n, bool) if self.value_ is None else (
            rng.random(n) < self.null_rate_ if self.null_rate_ > 0 else None)
        return self._series(n, nulls)

    def _series(self, n: int, nulls: np.ndarray | None) -> pd.Series:
        values = np.full(n, self.value_, dtype=object)
        if pd.api.types.is_datetime64_any_dtype(pd.api.types.pandas_dtype(self.dtype)):
            values = pd.to_datetime(values)
        return as_series(values, self.dtype, self.name, nulls)

    def out_of_support(self, s: pd.Series) -> list[OutOfSupport]:
        """Nulls where the training rows had none, and any value but the one they had."""
        nulls = s.isna().to_numpy()
        found = []
        if self.value_ is not None and self.null_rate_ == 0 and nulls.any():
            found.append(OutOfSupport("is never null in the training rows", nulls,
                                      np.where(nulls, UNSEEN_NATS, 0.0)))
        other = ~nulls & ~self._same(s)
        if other.any():
            rule = ("is always null in the training rows" if self.value_ is None
                    else f"is constant in the training rows ({self.value_!r})")
            found.append(OutOfSupport(rule, other, np.where(other, UNSEEN_NATS, 0.0)))
        return found

    def _same(self, s: pd.Series) -> np.ndarray:
        """Which values are the column's value: as numbers (5 and 5.0 are one), as times, or
        as text; a time that cannot be compared counts as the same (no false alarm)."""
        value = self.value_
        if value is None:
            return np.zeros(len(s), bool)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            numbers = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
            return numbers == float(value)
        if pd.api.types.is_datetime64_any_dtype(s.dtype):
            try:
                return (s == pd.Timestamp(value)).to_numpy() | s.isna().to_numpy()
            except (ValueError, TypeError):
                return np.ones(len(s), bool)
        return (s.astype(str) == str(value)).to_numpy()

    def constrain(self, value: Any) -> Constraint:
        """Only the column's one value (or null, where it had nulls) can be asked for."""
        nulls_seen = self.value_ is None or self.null_rate_ > 0
        if value is None and nulls_seen:
            return Constraint(enforce=lambda series, rng: self._series(len(series), np.ones(len(series), bool)),
                              matches=lambda series: series.isna().to_numpy())
        if value is not None and self.value_ is not None and str(value) == str(self.value_):
            return Constraint(enforce=lambda series, rng: self._series(len(series), None),
                              matches=lambda series: series.notna().to_numpy())
        raise ConditionError(f"column {self.name!r} is constant ({self.value_!r}"
                             f"{' or null' if nulls_seen else ''}); {value!r} never appears")

    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        meta, arrays = super().state()
        meta.update(value=self.value_, null_rate=self.null_rate_)
        return meta, arrays

    def _set_state(self, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        self.value_, self.null_rate_ = meta["value"], meta["null_rate"]
