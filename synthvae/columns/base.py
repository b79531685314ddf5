"""What every column encoder shares: the block layout it feeds the model and dtype care.

The model sees two blocks per row: continuous features (float32, one per normalised numeric
value) and discrete codes (int64, one per categorical output, each with a cardinality). An
encoder owns a slice of each block. Codes instead of one-hot vectors keep memory flat for
columns with thousands of levels: the model one-hots or embeds them a batch at a time.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar

import numpy as np
import pandas as pd

KINDS = ("numeric", "categorical", "boolean", "datetime", "time", "id", "text", "constant")


class UnsupportedColumnError(ValueError):
    """A column whose values the model cannot learn (nested objects, mixed types...)."""


class ConditionError(ValueError):
    """A condition the model cannot meet: an unknown column, a value never seen, a range
    outside the observed one, or a column kind that cannot be conditioned on."""


@dataclass
class Constraint:
    """What one column's condition allows, in the column's own model outputs:
    `classes[j]` a bool mask over its discrete output j, `intervals[k]` an inclusive
    (low, high) range of its continuous output k. `enforce(series, rng)` fixes the rare
    decoded value that rounding or a shared "rare" class carried outside the condition."""

    classes: dict[int, np.ndarray] = field(default_factory=dict)
    intervals: dict[int, tuple[float, float]] = field(default_factory=dict)
    enforce: Callable[[pd.Series, np.random.Generator], pd.Series] | None = None
    matches: Callable[[pd.Series], np.ndarray] | None = None  # which real values meet it


# Extra surprise, in nats, of a value the training rows never had (an unseen category, a
# number beyond the observed range, a null where there were none). Such a value breaks the
# table's schema, so it is made to outrank any row whose values were all seen (typical rows
# score 10-40 nats on Adult): a ranking choice, not a probability.
UNSEEN_NATS = 100.0


@dataclass
class OutOfSupport:
    """Rows of one column that break what the training rows showed: `rule` in words, the
    offending rows' mask, and how surprising each is (nats) when they are scored anyway."""

    rule: str
    rows: np.ndarray
    nats: np.ndarray


@dataclass
class Encoded:
    """One column's share of the model input: `continuous` (n, k) float32, `discrete` (n, m) int64."""

    continuous: np.ndarray
    discrete: np.ndarray


@dataclass
class ColumnEncoder:
    """Base of the reversible per-column encoders; subclasses implement the four methods.

    `n_continuous` and `cardinalities` say how many continuous features and which discrete
    outputs (one per entry, with that many classes) the column takes in the model.
    """

    name: str
    dtype: str = ""
    n_continuous: int = 0
    cardinalities: list[int] = field(default_factory=list)

    kind = "base"
    # Value protection: values seen in fewer training rows are not decoded as they are
    # (categories give way to the most common level, numbers to a point between their
    # neighbours). 1, the default, protects nothing: the encoder is an exact inverse.
    protect_below: ClassVar[int] = 1
    # Numbers (and dates) drawn as one of this many ranges, then a position within it
    # (see synthvae.columns.numeric); 0: one Gaussian output.
    numeric_bins: ClassVar[int] = 0

    def fit(self, s: pd.Series, rng: np.random.Generator) -> ColumnEncoder:
        raise NotImplementedError

    def encode(self, s: pd.Series, rng: np.random.Generator | None = None) -> Encoded:
        raise NotImplementedError

    def decode(self, continuous: np.ndarray, discrete: np.ndarray,
               rng: np.random.Generator) -> pd.Series:
        raise NotImplementedError

    # Saved state: JSON-safe metadata plus named numpy arrays (stored as safetensors).
    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        meta = {"kind": self.kind, "name": self.name, "dtype": self.dtype,
                "n_continuous": self.n_continuous, "cardinalities": list(self.cardinalities)}
        return meta, {}

    @classmethod
    def from_state(cls, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> ColumnEncoder:
        enc = cls(name=meta["name"], dtype=meta["dtype"], n_continuous=meta["n_continuous"],
                  cardinalities=list(meta["cardinalities"]))
        enc._set_state(meta, arrays)
        return enc

    def _set_state(self, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        pass

    def out_of_support(self, s: pd.Series) -> list[OutOfSupport]:
        """Values outside what the training rows showed; none by default (ids, free text)."""
        return []

    def protects(self, s: pd.Series) -> np.ndarray:
        """Which of the values of `s` value protection keeps from being generated as they
        are (see `protect_below`); none by default."""
        return np.zeros(len(s), bool)

    def constrain(self, value: Any) -> Constraint:
        """The model outputs that `value` allows: a value, a list of values, a (low, high)
        range, or None for null; see each kind's override."""
        raise ConditionError(f"column {self.name!r} is a {self.kind} column, which cannot be "
                             f"conditioned on")

    def empty(self, n: int) -> Encoded:
        return Encoded(np.zeros((n, self.n_continuous), np.float32),
                       np.zeros((n, len(self.cardinalities)), np.int64))


def as_series(values: np.ndarray | pd.Series, dtype: str, name: str,
              null_mask: np.ndarray | None = None) -> pd.Series:
    """Build a Series in the column's original dtype, with nulls where `null_mask` is set.

    Non-nullable numpy dtypes cannot hold nulls; there the usual pandas stand-in is used
    (NaN in float64 for int64, None in object), which is what pandas itself gives on read.
    """
    s = pd.Series(values, name=name)
    has_nulls = null_mask is not None and bool(null_mask.any())
    if has_nulls:
        s = s.astype(object) if not pd.api.types.is_float_dtype(s) else s
        s[null_mask] = None
    target = pd.api.types.pandas_dtype(dtype)
    if has_nulls and isinstance(target, np.dtype):
        if target.kind in "iu":
            target = np.dtype("float64")
        elif target.kind == "b":
            target = np.dtype("object")
    if s.dtype != target:
        s = s.astype(target)
    if has_nulls and target == np.dtype("object"):
        s[null_mask] = np.nan  # what read_csv gives for an empty cell
    return s


def to_json_value(v: Any) -> Any:
    """Plain Python scalar for JSON (numpy ints/floats/bools become int/float/bool)."""
    if isinstance(v, np.generic):
        return v.item()
    return v
