"""Constant and all-null columns: nothing to learn, so the value is repeated as it was."""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .base import ColumnEncoder, Encoded, as_series, to_json_value


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
        values = np.full(n, self.value_, dtype=object)
        if pd.api.types.is_datetime64_any_dtype(pd.api.types.pandas_dtype(self.dtype)):
            values = pd.to_datetime(values)
        return as_series(values, self.dtype, self.name, nulls)

    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        meta, arrays = super().state()
        meta.update(value=self.value_, null_rate=self.null_rate_)
        return meta, arrays

    def _set_state(self, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        self.value_, self.null_rate_ = meta["value"], meta["null_rate"]
