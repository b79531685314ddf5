"""Identifier columns: regenerated as fresh unique ids in the same shape, never copied.

An id carries no distribution worth learning and copying one would link a synthetic row to a
real person, so ids are not modelled at all. Each generated id is a pure function of the
fitted column, a key (drawn from the run's seed) and the row's position in the whole output,
so rows sampled in separate chunks, processes or machines agree with no state shared between
them and none kept as rows go by:

- integer ids count on from above the largest real id by position;
- string ids follow the column's most common shape ("CUST-00042" gives "AAAA-99999"), whose
  fixed parts stay as they are: a run of letters or of digits that is the same in every real
  id of the shape ("CUST", the "17" of "17-156684"). A keyed pseudorandom permutation of the
  shape's other values sends each position to its own value, so ids look random yet never
  repeat. One that equals a real id (checked by hash, so the model file
  holds no real ids) is replaced by one a character longer that no position takes;
- which rows are null is a keyed hash of the position, compared with the real null rate.

A key that repeats (an order id on each of the order's lines, a patient id on each test) keys
groups of rows. The rows it keys share the values of some columns (the order's date and
time), found at fit time (`group_by_`). A sample then cuts its rows into groups whose sizes
are drawn from the real ones, gives every row of a group the group's first row's values of
those columns, and one new key per group, spelled from the group's number: counted from the
chunk's first position in the order of those values, so integer order ids rise with their
time within a chunk.
"""
from __future__ import annotations

import math
import string
import zlib
from typing import Any

import numpy as np
import pandas as pd

from .base import ColumnEncoder, Encoded, as_series

_CLASSES = {"9": string.digits, "A": string.ascii_uppercase, "a": string.ascii_lowercase,
            "F": "0123456789ABCDEF", "f": "0123456789abcdef"}
_CODES = {c: np.array([ord(ch) for ch in chars], np.uint32) for c, chars in _CLASSES.items()}
_DIGITS = {c: np.array([chars.find(chr(i)) for i in range(128)], np.int64)
           for c, chars in _CLASSES.items()}  # ASCII code -> digit, -1 outside the class

# The permutation covers at most _CAP values of a shape (the rightmost characters; UUIDs have
# 2^128): more than any output has rows, and the rest of a long id is a keyed hash of that
# value. Widened shapes, ten times larger each, stop at _LIMIT so the Feistel halves of
# cycle-walking stay within uint64.
_CAP, _LIMIT = 2**48, 2**62
_ROUNDS = 6
_M64 = 2**64 - 1
_GOLDEN = 0x9E3779B97F4A7C15
_NULL_SALT, _FINGERPRINT_SALT, _GROUP_SALT = 0x6E756C6C, 0x66696E67, 0x67726F75
# A shape keeps a fixed part only while it leaves this many values per real id: at most a
# tenth of the ids then would be real and take a wider shape.
FIXED_ROOM = 10
FIXED_STRAYS = 0.001  # share of real ids that may differ from a fixed part


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
            self.template_, self.fixed_ = "", {}
            self.real_hashes_, self.real_values_ = np.zeros(0, np.uint64), np.zeros(0, np.uint32)
        else:
            text = observed.astype(str)
            self.start_ = 0
            self.template_ = _template(text)
            self.fixed_ = _fixed_parts(text, self.template_)
            self.real_hashes_ = np.unique(pd.util.hash_array(text.to_numpy(dtype=object)))
            self.real_values_ = _real_values(text, self._shape())
        self.group_sizes_, self.group_counts_ = _group_sizes(observed, self.protect_below)
        self.group_by_: list[str] = []
        return self

    @property
    def grouped(self) -> bool:
        """Whether the key repeats, so that sampled rows come in groups (see group)."""
        return bool(len(self.group_sizes_)) and self.group_sizes_.max() > 1

    def group(self, rows: pd.DataFrame, start: int, key: int) -> pd.DataFrame:
        """`rows`, the output's rows from position `start` on, cut into groups of the real
        sizes (the last one cut short), each group's `group_by_` columns set to its first
        row's, and its key column to one new key per group. The same `start` and `key` give
        the same groups, so shards agree; groups never cross a chunk, and a chunk of n rows
        numbers its groups within start .. start + n - 1, so no two chunks share a key."""
        n = len(rows)
        if not n:
            rows[self.name] = self.ids(start, 0, key).set_axis(rows.index)
            return rows
        rng = np.random.default_rng([_hash(key, _GROUP_SALT), start])
        p = self.group_counts_ / self.group_counts_.sum()
        sizes = np.zeros(0, np.int64)
        while sizes.sum() < n:
            more = int(n / float(self.group_sizes_ @ p)) + 16
            sizes = np.concatenate([sizes, rng.choice(self.group_sizes_, more, p=p)])
        ends = np.cumsum(sizes)
        sizes = sizes[:int(np.searchsorted(ends, n)) + 1]
        first = np.concatenate([[0], ends[:len(sizes) - 1]])
        group = np.repeat(np.arange(len(sizes)), sizes)[:n]
        for name in self.group_by_:
            rows[name] = rows[name].take(first[group]).set_axis(rows.index)
        rank = np.empty(len(sizes), np.int64)
        rank[_in_order(rows.iloc[first][self.group_by_])] = np.arange(len(sizes))
        position = np.uint64(start) + rank[group].astype(np.uint64)
        rows[self.name] = self._at(position, key).set_axis(rows.index)
        return rows

    def encode(self, s: pd.Series, rng: np.random.Generator | None = None) -> Encoded:
        return self.empty(len(s))

    def decode(self, continuous: np.ndarray, discrete: np.ndarray,
               rng: np.random.Generator) -> pd.Series:
        # Decoded on their own, rows are positions 0.. under a fresh key; sampling replaces
        # them with ids at the rows' positions in the whole output (TableEncoder.id_stream).
        return self.ids(0, len(continuous), int(rng.integers(2**63)))

    def ids(self, start: int, n: int, key: int) -> pd.Series:
        """The ids of the rows at positions start..start+n-1 of an output drawn under `key`:
        unique over all positions, never a real id, and the same however the positions are
        split between calls."""
        return self._at(np.arange(start, start + n, dtype=np.uint64), key)

    def _at(self, position: np.ndarray, key: int) -> pd.Series:
        """The ids at the given positions (uint64) of an output drawn under `key`."""
        key = _hash(key, zlib.crc32(str(self.name).encode()))  # id columns differ under one key
        nulls = None
        if self.null_rate_ > 0:
            u = (_mix(position * np.uint64(_GOLDEN) + np.uint64(_hash(key, _NULL_SALT))) >> 11)
            nulls = u * 2.0**-53 < self.null_rate_
        values = (self.start_ + position.astype(np.int64) if self.integer_
                  else self._strings(position, key))
        return as_series(values, self.dtype, self.name, nulls)

    def _strings(self, position: np.ndarray, key: int) -> np.ndarray:
        # Tier t spells ids in the shape widened by t digits, whose permuted part takes
        # sizes[t] = sizes[0] * 10**t values. A position belongs to the first tier larger than
        # it and is that tier's value, so tier t+1's positions start at sizes[t] and its values
        # below sizes[t] are free: an id that is real moves to the one at its permuted value
        # there. That keeps every id unique and a function of its position alone, and as the
        # tier follows from the position, all shards widen a narrow shape at the same rows.
        sizes, n_free = _tiers(self._shape())
        tier = np.searchsorted(np.array(sizes, dtype=np.uint64), position, side="right")
        value = position.copy()
        out = np.empty(len(position), dtype=object)
        for t in range(int(tier.min()) if len(tier) else len(sizes), len(sizes)):
            rows = np.flatnonzero(tier == t)
            permuted = _permute(value[rows], sizes[t], _hash(key, t))
            text = _spell(permuted, self._shape(t), n_free + t, key)
            out[rows] = text
            real = self._real(text, permuted, t)
            value[rows[real]], tier[rows[real]] = permuted[real], t + 1
            if tier.max() <= t:
                break
        if len(tier) and tier.max() >= len(sizes):
            raise RuntimeError(f"column {self.name!r}: no room for ids at rows up to "
                               f"{int(position.max())}")
        return out

    def _real(self, text: np.ndarray, permuted: np.ndarray, tier: int) -> np.ndarray:
        """Which of a tier's ids are real. Hashing every id would take most of the time, so
        only those whose permuted value a real id has are hashed; models saved before
        real_values_ existed hash them all."""
        candidates = np.arange(len(text))
        if self.real_values_ is not None:
            if not len(self.real_values_):
                return candidates[:0]
            fingerprint, known = _fingerprint(permuted, tier), self.real_values_
            at = np.searchsorted(known, fingerprint).clip(max=len(known) - 1)
            candidates = np.flatnonzero(known[at] == fingerprint)
        if not len(candidates) or not len(self.real_hashes_):
            return candidates[:0]
        return candidates[np.isin(pd.util.hash_array(text[candidates]), self.real_hashes_)]

    def _shape(self, widened: int = 0) -> list[str]:
        """The template as one token per character: a class symbol ("9", "A", ...), or a
        fixed character marked "=" (so a fixed "9" is not read as any digit), then
        `widened` more digits."""
        return [("=" + self.fixed_[j]) if j in self.fixed_ else c
                for j, c in enumerate(self.template_)] + ["9"] * widened

    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        meta, arrays = super().state()
        meta.update(null_rate=self.null_rate_, integer=self.integer_, start=self.start_,
                    template=self.template_,
                    fixed={str(j): c for j, c in sorted(self.fixed_.items())},
                    group_by=list(self.group_by_))
        arrays.update(real_hashes=self.real_hashes_, group_sizes=self.group_sizes_,
                      group_counts=self.group_counts_)
        if self.real_values_ is not None:
            arrays.update(real_values=self.real_values_)
        return meta, arrays

    def _set_state(self, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        self.null_rate_, self.integer_ = meta["null_rate"], meta["integer"]
        self.start_, self.template_ = meta["start"], meta["template"]
        self.fixed_ = {int(j): c for j, c in meta.get("fixed", {}).items()}
        self.real_hashes_ = arrays["real_hashes"]
        self.real_values_ = arrays.get("real_values")
        self.group_by_ = list(meta.get("group_by", []))
        self.group_sizes_ = arrays.get("group_sizes", np.zeros(0, np.int64))
        self.group_counts_ = arrays.get("group_counts", np.zeros(0, np.int64))


def _group_sizes(observed: pd.Series, protect_below: int) -> tuple[np.ndarray, np.ndarray]:
    """The distinct numbers of rows a key holds, and how many keys hold each. A size fewer
    than `protect_below` keys have (the one order of 20 lines) counts as the largest size
    below it that enough keys have: a size alone can point at the group it came from."""
    if observed.is_unique:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    sizes, counts = np.unique(observed.value_counts().to_numpy(), return_counts=True)
    kept = counts >= protect_below
    if kept.any() and not kept.all():
        below = np.maximum.accumulate(np.where(kept, np.arange(len(sizes)), -1))
        to = np.where(below >= 0, below, np.flatnonzero(kept)[0])
        counts = np.bincount(to, weights=counts, minlength=len(sizes)).astype(np.int64)
        sizes, counts = sizes[counts > 0], counts[counts > 0]
    return sizes.astype(np.int64), counts


def _in_order(heads: pd.DataFrame) -> np.ndarray:
    """Row numbers of `heads` sorted by its columns (nulls last); as they are when the
    values do not sort (mixed types in one column)."""
    if not heads.shape[1]:
        return np.arange(len(heads))
    try:
        return heads.reset_index(drop=True).sort_values(
            list(heads.columns), kind="stable", na_position="last").index.to_numpy()
    except TypeError:
        return np.arange(len(heads))


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


def _fixed_parts(text: pd.Series, template: str, most: int = 20_000) -> dict[int, str]:
    """Positions of the template whose run of one class (letters, digits) reads the same in
    all but FIXED_STRAYS of the real ids of its shape, with that character: a constant
    prefix "17-", a leading "S" (Seattle's pet licences have one "C" among 18,905). A run
    that only partly varies, as a counter's leading zeros, stays free. Runs are
    fixed from the left while the shape keeps FIXED_ROOM times as many values as it has real
    ids, since an id that would be real takes a wider shape: "C-042" among 900 real "C-ddd"
    keeps its letter free."""
    fits = text[text.str.len() == len(template)]
    if len(fits) < 2:
        return {}
    n_fits = len(fits)
    if n_fits > most:  # spread over the column: ids are often sorted
        fits = fits.iloc[np.linspace(0, n_fits - 1, most).astype(np.int64)]
    codes = fits.to_numpy(dtype=f"U{len(template)}").view(np.uint32).reshape(len(fits), -1)
    ok = np.ones(len(fits), bool)
    for j, c in enumerate(template):
        ok &= _DIGITS[c][codes[:, j].clip(max=127)] >= 0 if c in _CLASSES else codes[:, j] == ord(c)
    n_real, codes = n_fits * ok.mean(), codes[ok]
    if len(codes) < 2:
        return {}
    runs = [[]]
    for j, c in enumerate(template):
        if c not in _CLASSES:
            runs.append([])
        elif runs[-1] and template[runs[-1][-1]] != c:
            runs.append([j])
        else:
            runs[-1].append(j)
    room = math.prod(len(_CLASSES[c]) for c in template if c in _CLASSES)
    fixed = {}
    for run in filter(None, runs):
        spellings, counts = np.unique(codes[:, run], axis=0, return_counts=True)
        if counts.max() < (1 - FIXED_STRAYS) * len(codes):
            continue
        left = room // len(_CLASSES[template[run[0]]]) ** len(run)
        if left < FIXED_ROOM * n_real:
            break
        room = left
        fixed.update({j: chr(code) for j, code in zip(run, spellings[counts.argmax()])})
    return fixed


def _tiers(template: str | list[str]) -> tuple[list[int], int]:
    """Each tier's number of permuted values, and how many of the shape's rightmost character
    classes the first tier permutes."""
    sizes = [len(_CLASSES[c]) for c in reversed(template) if c in _CLASSES]
    n_free, space = 0, 1
    while n_free < len(sizes) and space * sizes[n_free] <= _CAP:
        space *= sizes[n_free]
        n_free += 1
    tiers = [space]
    while tiers[-1] * 10 <= _LIMIT:
        tiers.append(tiers[-1] * 10)
    return tiers, n_free


def _real_values(text: pd.Series, template: list[str]) -> np.ndarray:
    """Sorted fingerprints of the (tier, permuted value) of the real ids in the shape or a
    widened one: they say which generated ids are worth hashing to check."""
    sizes, n_free = _tiers(template)
    lengths = text.str.len()
    found = [np.zeros(0, np.uint32)]
    for t in range(len(sizes)):
        shape = template + ["9"] * t
        fits = text[lengths == len(shape)].to_numpy(dtype=f"U{len(shape)}")
        if not len(fits):
            continue
        codes = fits.view(np.uint32).reshape(len(fits), len(shape))
        value, weight, done = np.zeros(len(fits), np.uint64), 1, 0
        ok = np.ones(len(fits), bool)
        for j in range(len(shape) - 1, -1, -1):
            if shape[j] not in _CLASSES:
                ok &= codes[:, j] == ord(shape[j][-1])
                continue
            digit = _DIGITS[shape[j]][codes[:, j].clip(max=127)]
            ok &= digit >= 0
            if done < n_free + t:
                value += np.uint64(weight) * digit.clip(min=0).astype(np.uint64)
                weight *= len(_CLASSES[shape[j]])
            done += 1
        found.append(_fingerprint(value[ok], t))
    return np.unique(np.concatenate(found))


def _fingerprint(value: np.ndarray, tier: int) -> np.ndarray:
    # 32 of the bits: the mix can be undone, and a whole one would give the real id back;
    # a 32-bit one fits many values, like the hashes, and adds a false match per 2^32 / #real.
    mixed = _mix(value + np.uint64(_hash(_FINGERPRINT_SALT, tier)))
    return (mixed >> np.uint64(32)).astype(np.uint32)


def _spell(value: np.ndarray, shape: list[str], n_free: int, key: int) -> np.ndarray:
    """The ids for permuted values in the shape: its n_free rightmost classes are the value's
    mixed-radix digits; any classes left of them are a keyed hash of the value, which keeps
    ids distinct as the digits alone do."""
    codes = np.empty((len(shape), len(value)), np.uint32)  # by character: written in one pass
    rest, done = value.copy(), 0
    for j in range(len(shape) - 1, -1, -1):
        c = shape[j]
        if c not in _CLASSES:
            codes[j] = ord(c[-1])
            continue
        if done == n_free or (done > n_free and (done - n_free) % 8 == 0):
            # one 64-bit hash gives 8 characters' worth (26^8 < 2^38) with negligible bias
            rest = _mix(value * np.uint64(_GOLDEN) + np.uint64(_hash(key, j)))
        rest, digit = np.divmod(rest, np.uint64(len(_CODES[c])))
        codes[j] = _CODES[c][digit]
        done += 1
    return np.ascontiguousarray(codes.T).view(f"U{len(shape)}").ravel().astype(object)


def _permute(x: np.ndarray, n: int, key: int) -> np.ndarray:
    """A keyed bijection of [0, n): a balanced Feistel network over the fewest even number of
    bits that hold n values, applied again to values it sends to n or above (cycle-walking:
    fewer than 4 times on average, as 2^bits < 4n)."""
    half = max(1, ((n - 1).bit_length() + 1) // 2)
    mask = np.uint64((1 << half) - 1)
    round_keys = [np.uint64(_hash(key, r)) for r in range(_ROUNDS)]

    def encrypt(v: np.ndarray) -> np.ndarray:
        left, right = v >> np.uint64(half), v & mask
        for k in round_keys:
            left, right = right, left ^ (_mix(right + k) & mask)
        return (left << np.uint64(half)) | right

    out = encrypt(x)
    walk = np.flatnonzero(out >= np.uint64(n))
    while len(walk):
        again = encrypt(out[walk])
        out[walk] = again
        walk = walk[again >= np.uint64(n)]
    return out


def _mix(z: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: a bijection of uint64 whose every output bit depends on every
    input bit."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def _hash(*parts: int) -> int:
    """A uint64 key derived from integers, the same on every machine."""
    h = 0
    for p in parts:
        h = int(_mix(np.array([(h ^ (int(p) & _M64)) + _GOLDEN & _M64], np.uint64))[0])
    return h
