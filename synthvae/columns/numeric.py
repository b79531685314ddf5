"""Numeric columns: quantile normalisation to a standard normal, with tie dequantisation.

A Gaussian decoder likelihood suits values that are themselves roughly Gaussian, so each value
goes through its empirical CDF and then the normal quantile function (as sklearn's
QuantileTransformer, TabDDPM and TabSyn do), all with np.interp over a fixed quantile grid.
Tied values (age 37, capital-gain 0) would all land on one point; when training, each is
spread uniformly over its probability mass instead (a randomised probability integral
transform), which gives the decoder a smooth target. The inverse maps a whole mass back to
the single value, so point masses, bounds and integer-ness come back exactly.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.special import ndtr, ndtri

from .base import ColumnEncoder, Encoded, as_series

N_QUANTILES = 1000
FIT_SUBSAMPLE = 200_000
_EPS = 1e-5  # keeps ndtri finite: |z| <= 4.3
# Probabilities are squeezed affinely into [_EPS, 1 - _EPS] (not clipped) and stretched back on
# decoding, so the smallest and largest values map to the ends of the grid and come back exactly.
# The stretch uses the ends as float32 features hold them, so they invert to exactly 0 and 1.
_SCALE = 1.0 - 2.0 * _EPS
_U_LOW = float(ndtr(np.float64(np.float32(ndtri(_EPS)))))
_U_HIGH = float(ndtr(np.float64(np.float32(ndtri(_EPS + _SCALE)))))


class NumericEncoder(ColumnEncoder):
    kind = "numeric"

    def fit(self, s: pd.Series, rng: np.random.Generator) -> NumericEncoder:
        self.dtype = str(s.dtype)
        values = _as_float(s)
        observed = values[~np.isnan(values)]
        self.has_nulls = bool(np.isnan(values).any())
        self.n_continuous = 1
        self.cardinalities = [2] if self.has_nulls else []
        if len(observed) > FIT_SUBSAMPLE:
            observed = rng.choice(observed, FIT_SUBSAMPLE, replace=False)
        n_levels = max(2, min(N_QUANTILES, len(observed)))
        self.levels_ = np.linspace(0.0, 1.0, n_levels)
        self.quantiles_ = np.quantile(observed, self.levels_) if len(observed) else np.zeros(n_levels)
        self.decimals_ = _decimals(observed)
        return self

    def encode(self, s: pd.Series, rng: np.random.Generator | None = None) -> Encoded:
        values = _as_float(s)
        nulls = np.isnan(values)
        filled = np.where(nulls, self.quantiles_[len(self.quantiles_) // 2], values)
        q, lv = self.quantiles_, self.levels_
        # Interpolating from both ends finds the whole probability range of a tied value.
        upper = np.interp(filled, q, lv)
        lower = 1.0 - np.interp(-filled, -q[::-1], 1.0 - lv[::-1])
        spread = rng.random(len(values)) if rng is not None else 0.5
        u = np.clip(lower + (upper - lower) * spread, 0.0, 1.0)
        z = ndtri(_EPS + _SCALE * u)
        if rng is not None:  # a null's value is meaningless: give it prior noise, not a spike
            z = np.where(nulls, rng.standard_normal(len(values)), z)
        else:
            z = np.where(nulls, 0.0, z)
        discrete = nulls.astype(np.int64)[:, None] if self.has_nulls else np.zeros((len(s), 0), np.int64)
        return Encoded(z.astype(np.float32)[:, None], discrete)

    def decode(self, continuous: np.ndarray, discrete: np.ndarray,
               rng: np.random.Generator) -> pd.Series:
        u = ndtr(continuous[:, 0].astype(np.float64))
        u = np.clip((u - _U_LOW) / (_U_HIGH - _U_LOW), 0.0, 1.0)
        values = np.interp(u, self.levels_, self.quantiles_)
        if self.decimals_ is not None:
            values = np.round(values, self.decimals_)
        values = np.clip(values, self.quantiles_[0], self.quantiles_[-1])
        nulls = discrete[:, 0].astype(bool) if self.has_nulls else None
        if pd.api.types.pandas_dtype(self.dtype).kind in "iu" or self.dtype in ("Int64", "Int32", "Int16", "Int8", "UInt64", "UInt32", "UInt16", "UInt8"):
            values = np.round(values).astype(np.int64)
        return as_series(values, self.dtype, self.name, nulls)

    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        meta, arrays = super().state()
        meta.update(has_nulls=self.has_nulls, decimals=self.decimals_)
        arrays.update(levels=self.levels_, quantiles=self.quantiles_)
        return meta, arrays

    def _set_state(self, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        self.has_nulls = meta["has_nulls"]
        self.decimals_ = meta["decimals"]
        self.levels_, self.quantiles_ = arrays["levels"], arrays["quantiles"]


def _as_float(s: pd.Series) -> np.ndarray:
    return pd.to_numeric(s, errors="coerce").astype("float64").to_numpy(na_value=np.nan)


def _decimals(observed: np.ndarray, most: int = 6) -> int | None:
    """Fewest decimals that every observed value already has (0 for whole numbers), so
    generated prices keep their cents and counts stay whole; None when values need more."""
    sample = observed[:10_000]
    for d in range(most + 1):
        if np.allclose(np.round(sample, d), sample, rtol=0, atol=1e-13 * max(1.0, np.abs(sample).max(initial=0))):
            return d
    return None
