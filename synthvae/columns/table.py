"""The whole table as model input and back: one encoder per column, blocks concatenated."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pandas as pd

from .base import (KINDS, ColumnEncoder, ConditionError, Constraint, OutOfSupport,
                   UnsupportedColumnError)
from .categorical import BooleanEncoder, CategoricalEncoder, DiscreteNumericEncoder
from .constant import ConstantEncoder
from .datetime import DatetimeEncoder
# the module, not the name: synthvae.kinds reads the encoders' formats, so either may load first
from .. import kinds
from .identifier import IdEncoder
from .numeric import NumericEncoder
from .text import TextEncoder
from .timeofday import TimeOfDayEncoder

DISCRETE_LEVELS = 20  # numeric columns with at most this many values are modelled as classes

ENCODERS: dict[str, type[ColumnEncoder]] = {
    "numeric": NumericEncoder, "discrete": DiscreteNumericEncoder,
    "categorical": CategoricalEncoder, "boolean": BooleanEncoder, "datetime": DatetimeEncoder,
    "time": TimeOfDayEncoder,
    "id": IdEncoder, "text": TextEncoder, "constant": ConstantEncoder,
}


class TableEncoder:
    """Fits one encoder per column and lays their outputs side by side.

    `encode(df)` gives `(continuous (n, n_continuous) float32, discrete (n, len(cardinalities))
    int64)`; `decode` inverts it into a DataFrame with the fitted columns, order and dtypes.
    `protect_below=k` keeps categories and repeated numbers seen in fewer than k rows from
    being decoded as they are (`Synthesizer(protect_below=k)`); 1, the default, keeps the
    inverse exact. `numeric_bins` > 1 draws numbers and dates as a range, then a position
    within it (`synthvae.columns.numeric`).
    """

    def __init__(self, column_kinds: dict[str, str] | None = None,
                 protect_below: int = 1, numeric_bins: int = 0):
        self.column_kinds = column_kinds or {}
        self.protect_below = protect_below
        self.numeric_bins = numeric_bins

    def fit(self, df: pd.DataFrame, rng: np.random.Generator) -> TableEncoder:
        unknown = sorted(set(self.column_kinds) - set(df.columns))
        if unknown:
            raise UnsupportedColumnError(f"column_kinds names columns not in the table: {unknown}")
        bad = {c: k for c, k in self.column_kinds.items() if k not in KINDS}
        if bad:
            raise UnsupportedColumnError(f"unknown column kinds {bad}; choose from {list(KINDS)}")
        self.encoders_ = []
        for name in df.columns:
            s = df[name]
            kind = self.column_kinds.get(name) or kinds.detect_kind(s)
            if kind == "numeric" and s.nunique() <= DISCRETE_LEVELS:
                kind = "discrete"
            encoder = ENCODERS[kind](name=name)
            encoder.protect_below = self.protect_below
            encoder.numeric_bins = self.numeric_bins
            self.encoders_.append(encoder.fit(s, rng))
        self._find_groups(df)
        self._layout()
        return self

    def _find_groups(self, df: pd.DataFrame) -> None:
        """For each key that repeats, the columns its rows always share: every repeated
        key's rows hold one value of them (nulls included). Other ids are drawn per row."""
        per_row = [e.name for e in self.encoders_ if isinstance(e, IdEncoder)]
        for enc in self.encoders_:
            if not isinstance(enc, IdEncoder) or not enc.grouped:
                continue
            repeated = df[df[enc.name].duplicated(keep=False) & df[enc.name].notna()]
            others = [c for c in df.columns if c not in per_row]
            distinct = repeated.groupby(enc.name, sort=False)[others].nunique(dropna=False)
            enc.group_by_ = [c for c in others if distinct[c].max() <= 1]

    @property
    def grouped_columns(self) -> set[str]:
        """The columns that rows sharing a key share (see IdEncoder.group)."""
        return {c for e in self.encoders_ if isinstance(e, IdEncoder) for c in e.group_by_}

    def _layout(self) -> None:
        self.columns_ = [e.name for e in self.encoders_]
        self.n_continuous = sum(e.n_continuous for e in self.encoders_)
        self.cardinalities = [c for e in self.encoders_ for c in e.cardinalities]
        self._slices = []
        cont = disc = 0
        for e in self.encoders_:
            self._slices.append((slice(cont, cont + e.n_continuous),
                                 slice(disc, disc + len(e.cardinalities))))
            cont += e.n_continuous
            disc += len(e.cardinalities)

    @property
    def slot_order(self) -> list[int]:
        """Model outputs in the table's column order, as indices into [discrete..., continuous...]:
        each column's codes, then its continuous features (a null flag before the value, so
        the value's distribution is that of non-null rows)."""
        order, n_discrete = [], len(self.cardinalities)
        for cs, ds in self._slices:
            order += list(range(ds.start, ds.stop))
            order += [n_discrete + i for i in range(cs.start, cs.stop)]
        return order

    def bin_edges(self, n_bins: int) -> list[list[float]]:
        """Per continuous model output, the edges of its value bins (see NumericEncoder)."""
        rows = []
        for enc in self.encoders_:
            edges = np.asarray(enc.bin_edges(n_bins)) if enc.n_continuous else np.zeros((0, 0))
            # One row of edges for every output, or one shared by all of them.
            rows += [[float(x) for x in (edges[i] if edges.ndim == 2 else edges)]
                     for i in range(enc.n_continuous)]
        return rows

    @property
    def category_columns(self) -> list[str]:
        """Columns of strings that `decode(as_category=True)` gives as pandas categoricals."""
        return [e.name for e in self.encoders_
                if isinstance(e, CategoricalEncoder) and e.decodes_to_category]

    def columns_per_slot(self) -> list[str]:
        """The column each model output belongs to, in the model's [discrete..., continuous...]."""
        discrete = [e.name for e in self.encoders_ for _ in e.cardinalities]
        return discrete + [e.name for e in self.encoders_ for _ in range(e.n_continuous)]

    @property
    def kinds(self) -> dict[str, str]:
        # "discrete" is how a numeric column with few values is modelled, not a user-facing kind.
        return {e.name: "numeric" if e.kind == "discrete" else e.kind for e in self.encoders_}

    def encode(self, df: pd.DataFrame, rng: np.random.Generator | None = None,
               lenient: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """`lenient`: dates that do not parse count as nulls instead of raising (for scoring
        rows as they are; numbers and categories never raise)."""
        n = len(df)
        continuous = np.zeros((n, self.n_continuous), np.float32)
        discrete = np.zeros((n, len(self.cardinalities)), np.int64)
        for enc, (cs, ds) in zip(self.encoders_, self._slices):
            if lenient and isinstance(enc, DatetimeEncoder):
                part = enc.encode_lenient(df[enc.name])
            else:
                part = enc.encode(df[enc.name], rng)
            continuous[:, cs], discrete[:, ds] = part.continuous, part.discrete
        return continuous, discrete

    def decode(self, continuous: np.ndarray, discrete: np.ndarray, rng: np.random.Generator,
               skip_ids: bool = False, as_category: bool = False) -> pd.DataFrame:
        """Rows back in the table's columns. With `skip_ids`, the id columns are left empty
        for an `id_stream` to fill rather than made here and then overwritten. With
        `as_category`, the `category_columns` come as pandas categoricals of the same
        values."""
        coded = set(self.category_columns) if as_category else set()
        columns = {enc.name: enc.decode(continuous[:, cs], discrete[:, ds], rng, as_category=True)
                   if enc.name in coded else enc.decode(continuous[:, cs], discrete[:, ds], rng)
                   for enc, (cs, ds) in zip(self.encoders_, self._slices)
                   if not skip_ids or not isinstance(enc, IdEncoder)}
        return pd.DataFrame(columns, columns=self.columns_)

    def out_of_support(self, df: pd.DataFrame) -> dict[str, list[OutOfSupport]]:
        """Per column, the values the training rows never showed (see each encoder)."""
        found = {enc.name: enc.out_of_support(df[enc.name]) for enc in self.encoders_}
        return {name: problems for name, problems in found.items() if problems}

    def check_columns(self, df: pd.DataFrame, what: str = "rows") -> None:
        """Raises ValueError naming missing or unexpected columns."""
        missing = [c for c in self.columns_ if c not in df.columns]
        extra = [c for c in df.columns if c not in self.columns_]
        if missing or extra:
            raise ValueError(f"{what} do not have the fitted table's columns: "
                             + "; ".join(part for part in (
                                 f"missing {missing}" if missing else "",
                                 f"unexpected {extra}" if extra else "") if part)
                             + f" (expected {self.columns_})")

    def constrain(self, conditions: dict[str, Any]) -> tuple[dict[int, np.ndarray],
                                                             dict[int, tuple[float, float]],
                                                             dict[str, Constraint]]:
        """Conditions by column name → allowed classes per discrete slot and intervals per
        continuous slot (indices into the whole table's blocks), and each column's Constraint."""
        unknown = [c for c in conditions if c not in self.columns_]
        if unknown:
            raise ConditionError(f"conditions name columns not in the table: {unknown}; "
                                 f"columns: {self.columns_}")
        classes, intervals, per_column = {}, {}, {}
        for enc, (cs, ds) in zip(self.encoders_, self._slices):
            if enc.name not in conditions:
                continue
            c = per_column[enc.name] = enc.constrain(conditions[enc.name])
            classes.update({ds.start + j: mask for j, mask in c.classes.items()})
            intervals.update({cs.start + k: bounds for k, bounds in c.intervals.items()})
        return classes, intervals, per_column

    def given(self, df: pd.DataFrame, rng: np.random.Generator | None = None
              ) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray]]:
        """Each row's model outputs for the columns of `df` (some of the table's): codes per
        discrete slot and values per continuous slot, indexed as in the whole table's blocks
        (what `Constraints.codes` and `.values` take)."""
        unknown = [c for c in df.columns if c not in self.columns_]
        if unknown:
            raise ConditionError(f"given columns not in the table: {unknown}; "
                                 f"columns: {self.columns_}")
        codes, values = {}, {}
        for enc, (cs, ds) in zip(self.encoders_, self._slices):
            if enc.name not in df.columns:
                continue
            if isinstance(enc, IdEncoder):
                raise ConditionError(f"column {enc.name!r} is an id: ids are generated, "
                                     f"never given")
            part = enc.encode(df[enc.name], rng)
            codes.update({ds.start + j: part.discrete[:, j] for j in range(ds.stop - ds.start)})
            values.update({cs.start + k: part.continuous[:, k]
                           for k in range(cs.stop - cs.start)})
        return codes, values

    def rows_matching(self, df: pd.DataFrame, conditions: dict[str, Any]) -> np.ndarray:
        """Mask of the rows of `df` (real ones, say) that meet every condition."""
        _, _, per_column = self.constrain(conditions)
        mask = np.ones(len(df), bool)
        for name, c in per_column.items():
            mask &= c.matches(df[name])
        return mask

    def id_stream(self, key: int, start: int = 0) -> Callable[[pd.DataFrame], pd.DataFrame]:
        """A function that fills the id columns of successive chunks with the ids of their
        rows' positions in the whole output, counted from `start`, under `key`. Ids depend on
        nothing but the key and the position (see IdEncoder.ids), so a shard that samples rows
        from position `start` on agrees with every other shard, and the position is the only
        state kept. Keys that repeat cut the chunk into groups of rows (IdEncoder.group)."""
        encoders = [enc for enc in self.encoders_ if isinstance(enc, IdEncoder)]
        position = start

        def apply(df: pd.DataFrame) -> pd.DataFrame:
            nonlocal position
            for enc in encoders:
                if enc.grouped:
                    df = enc.group(df, position, key)
                else:
                    df[enc.name] = enc.ids(position, len(df), key).set_axis(df.index)
            position += len(df)
            return df
        return apply

    def state(self) -> tuple[list[dict[str, Any]], dict[str, np.ndarray]]:
        metas, arrays = [], {}
        for i, enc in enumerate(self.encoders_):
            meta, enc_arrays = enc.state()
            metas.append(meta)
            arrays.update({f"encoders.{i}.{k}": np.ascontiguousarray(v) for k, v in enc_arrays.items()})
        return metas, arrays

    @classmethod
    def from_state(cls, metas: list[dict[str, Any]], arrays: dict[str, np.ndarray]) -> TableEncoder:
        table = cls()
        table.encoders_ = []
        for i, meta in enumerate(metas):
            prefix = f"encoders.{i}."
            own = {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}
            table.encoders_.append(ENCODERS[meta["kind"]].from_state(meta, own))
        table._layout()
        return table
