"""Names and free text: personal data, so stand-ins are generated and never a real value.

Near-unique strings such as full names cannot be learned as categories and must not be
copied. Values are split into words; a stand-in takes its word count from the real counts,
its first and last words from the real first and last words, and middle words from the rest
(so "Ada Lovelace" and "Alan Turing" give "Ada Turing"). Any stand-in equal to a real value
(checked by hash, so the model file keeps no whole value) is drawn again. Whether the value is
missing is modelled with the rest of the row.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .base import ColumnEncoder, Encoded, as_series

MAX_VOCAB = 5000
MAX_WORDS = 40


class TextEncoder(ColumnEncoder):
    kind = "text"

    def fit(self, s: pd.Series, rng: np.random.Generator) -> TextEncoder:
        self.dtype = str(s.dtype)
        text = s.dropna().astype(str)
        words = text.str.split()
        counts = words.str.len().clip(1, MAX_WORDS)
        self.length_values_, length_counts = np.unique(counts.to_numpy(), return_counts=True)
        self.length_probs_ = length_counts / length_counts.sum()
        first, last = words.str[0].dropna(), words[counts > 1].str[-1].dropna()
        middle = words[counts > 2].str[1:-1].explode().dropna()
        self.vocab_ = {part: _vocab(v) for part, v in
                       (("first", first), ("middle", middle), ("last", last))}
        self.real_hashes_ = np.unique(pd.util.hash_array(text.to_numpy(dtype=object)))
        self.has_nulls = bool(s.isna().any())
        self.cardinalities = [2] if self.has_nulls else []
        return self

    def encode(self, s: pd.Series, rng: np.random.Generator | None = None) -> Encoded:
        enc = self.empty(len(s))
        if self.has_nulls:
            enc.discrete[:, 0] = s.isna().to_numpy()
        return enc

    def decode(self, continuous: np.ndarray, discrete: np.ndarray,
               rng: np.random.Generator) -> pd.Series:
        n = len(continuous)
        out = self._stand_ins(n, rng)
        for _ in range(20):
            clash = np.isin(pd.util.hash_array(out), self.real_hashes_)
            if not clash.any():
                break
            out[clash] = self._stand_ins(int(clash.sum()), rng)
        else:  # so few words that every combination is real: fall back to opaque tokens
            out[clash] = [f"{self.name}-{i:08d}" for i in rng.integers(10**8, size=int(clash.sum()))]
        nulls = discrete[:, 0].astype(bool) if self.has_nulls else None
        return as_series(out, self.dtype, self.name, nulls)

    def _stand_ins(self, n: int, rng: np.random.Generator) -> np.ndarray:
        lengths = rng.choice(self.length_values_, size=n, p=self.length_probs_)
        out = pd.Series(self._draw("first", n, rng), dtype=object)
        for position in range(1, int(lengths.max(initial=1))):
            part = np.where(lengths - 1 == position, "last", "middle")
            words = np.where(part == "last", self._draw("last", n, rng), self._draw("middle", n, rng))
            out = out.where(lengths <= position, out + " " + pd.Series(words, dtype=object))
        return out.to_numpy(dtype=object)

    def _draw(self, part: str, n: int, rng: np.random.Generator) -> np.ndarray:
        words, probs = self.vocab_[part]
        if not words:
            words, probs = self.vocab_["first"]
        return np.array(words, dtype=object)[rng.choice(len(words), size=n, p=probs)]

    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        meta, arrays = super().state()
        meta.update(has_nulls=self.has_nulls, vocab={k: w for k, (w, _) in self.vocab_.items()})
        arrays.update(real_hashes=self.real_hashes_, length_values=self.length_values_,
                      length_probs=self.length_probs_)
        arrays.update({f"vocab_probs_{k}": p for k, (_, p) in self.vocab_.items()})
        return meta, arrays

    def _set_state(self, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        self.has_nulls = meta["has_nulls"]
        self.vocab_ = {k: (w, arrays[f"vocab_probs_{k}"]) for k, w in meta["vocab"].items()}
        self.real_hashes_ = arrays["real_hashes"]
        self.length_values_, self.length_probs_ = arrays["length_values"], arrays["length_probs"]


def _vocab(words: pd.Series) -> tuple[list[str], np.ndarray]:
    counts = words.value_counts().head(MAX_VOCAB)
    return [str(w) for w in counts.index], (counts / counts.sum()).to_numpy(dtype=np.float64)
