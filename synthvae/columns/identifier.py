"""Identifier columns: regenerated as fresh unique ids in the same shape, never copied.

An id carries no distribution worth learning and copying one would link a synthetic row to a
real person, so ids are not modelled at all. Integer ids continue above the largest real one;
string ids follow the column's most common shape ("CUST-00042" gives "AAAA-99999"), filled
with random characters of each position's class, and any clash with a real id (checked by
hash, so the model file holds no real ids) or with another generated id is drawn again.
"""
from __future__ import annotations

import string
from typing import Any

import numpy as np
import pandas as pd

from .base import ColumnEncoder, Encoded, as_series

_CLASSES = {"9": string.digits, "A": string.ascii_uppercase, "a": string.ascii_lowercase,
            "F": "0123456789ABCDEF", "f": "0123456789abcdef"}


class IdEncoder(ColumnEncoder):
    kind = "id"

    def fit(self, s: pd.Series, rng: np.random.Generator) -> IdEncoder:
        self.dtype = str(s.dtype)
        observed = s.dropna()
        self.null_rate_ = float(s.isna().mean())
        self.integer_ = pd.api.types.is_integer_dtype(s) or (
            pd.api.types.is_float_dtype(s) and bool(np.all(np.mod(observed, 1) == 0)))
        if self.integer_:
            self.start_ = int(observed.max()) + 1 if len(observed) else 1
            self.template_ = ""
            self.real_hashes_ = np.zeros(0, np.uint64)
        else:
            text = observed.astype(str)
            self.start_ = 0
            self.template_ = _template(text)
            self.real_hashes_ = np.unique(pd.util.hash_array(text.to_numpy(dtype=object)))
        return self

    def encode(self, s: pd.Series, rng: np.random.Generator | None = None) -> Encoded:
        return self.empty(len(s))

    def decode(self, continuous: np.ndarray, discrete: np.ndarray,
               rng: np.random.Generator) -> pd.Series:
        n = len(continuous)
        nulls = rng.random(n) < self.null_rate_ if self.null_rate_ > 0 else None
        if self.integer_:
            return as_series(self.start_ + np.arange(n, dtype=np.int64), self.dtype, self.name, nulls)
        return as_series(self._fresh_strings(n, rng), self.dtype, self.name, nulls)

    def stream(self, rng: np.random.Generator):
        """A function over successive chunks of decoded ids that keeps them unique across all
        chunks: integers numbered on from the largest real id, strings that repeat an earlier
        chunk's (tracked by hash, 8 bytes an id) drawn again."""
        state = {"next": self.start_, "seen": np.zeros(0, np.uint64)}

        def apply(s: pd.Series) -> pd.Series:
            s = s.copy()
            present = s.notna().to_numpy()
            if self.integer_:
                count = int(present.sum())
                s[present] = state["next"] + np.arange(count, dtype=np.int64)
                state["next"] += count
                return s.astype(self.dtype) if not (~present).any() else s
            for _ in range(50):
                hashes = pd.util.hash_array(s.to_numpy(dtype=object))
                repeated = (np.isin(hashes, state["seen"]) | s.duplicated().to_numpy()) & present
                if not repeated.any():
                    state["seen"] = np.union1d(state["seen"], hashes[present])
                    return s
                s[repeated] = self._fresh_strings(int(repeated.sum()), rng)
            raise RuntimeError(f"column {self.name!r}: could not draw unique fresh ids")
        return apply

    def _fresh_strings(self, n: int, rng: np.random.Generator) -> np.ndarray:
        template = self.template_
        out = _fill(template, n, rng)
        for _ in range(50):
            hashes = pd.util.hash_array(out)
            clash = np.isin(hashes, self.real_hashes_) | pd.Series(hashes).duplicated().to_numpy()
            if not clash.any():
                return out
            # Shapes with few possible values run out of room: widen them with digits.
            template = template + "9" if clash.mean() > 0.2 else template
            out[clash] = _fill(template, int(clash.sum()), rng)
        raise RuntimeError(f"column {self.name!r}: could not draw {n} unique fresh ids")

    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        meta, arrays = super().state()
        meta.update(null_rate=self.null_rate_, integer=self.integer_, start=self.start_,
                    template=self.template_)
        arrays.update(real_hashes=self.real_hashes_)
        return meta, arrays

    def _set_state(self, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        self.null_rate_, self.integer_ = meta["null_rate"], meta["integer"]
        self.start_, self.template_ = meta["start"], meta["template"]
        self.real_hashes_ = arrays["real_hashes"]


def _template(text: pd.Series) -> str:
    """The most common character-class shape of the ids; hex when the letters are hex."""
    sample = text.head(5000)
    letters = "".join(sample.head(500)).translate(str.maketrans("", "", string.digits))
    hex_only = bool(letters) and set(letters.lower()) <= set("abcdef-") and any(
        c.isalpha() for c in letters)
    table = str.maketrans(string.digits + string.ascii_uppercase + string.ascii_lowercase,
                          "9" * 10 + ("F" if hex_only else "A") * 26 + ("f" if hex_only else "a") * 26)
    shapes = sample.str.translate(table)
    if hex_only and len(shapes) and shapes.value_counts().iloc[0] < 0.5 * len(shapes):
        # Hex ids (UUIDs, hashes) mix digits and letters at every position, so no digit/letter
        # shape is common: there each position is any hex digit.
        hex_class = "F" if letters == letters.upper() else "f"
        shapes = sample.str.translate(str.maketrans(
            string.digits + string.ascii_letters, hex_class * (10 + 2 * 26)))
    shape = shapes.mode().iloc[0] if len(shapes) else "AAAA9999"
    return shape if sum(c in _CLASSES for c in shape) >= 4 else shape + "9999"


def _fill(template: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """n random strings of the template's shape, one character column at a time."""
    columns = []
    for c in template:
        if c in _CLASSES:
            pool = np.array(list(_CLASSES[c]), dtype=object)
            columns.append(pool[rng.integers(len(pool), size=n)])
        else:
            columns.append(np.full(n, c, dtype=object))
    return np.sum(np.stack(columns, axis=1), axis=1).astype(object) if columns else np.full(n, "", object)
