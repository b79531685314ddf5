"""Constant and all-null columns: nothing to learn, so the value is repeated as it was."""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .base import ColumnEncoder, ConditionError, Constraint, Encoded, as_series, to_json_value


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
