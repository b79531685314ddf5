"""Which rows early stopping holds back to validate on, and which rows it keeps together.

Early stopping ends training when the loss on held-back rows stops falling. A held-back row
that shares its event with training rows (an incident's other officers, the same hour's
weather at another airport, a subject's other tests) is nearly a training row: its loss
keeps falling while the model learns those events by heart, so training runs on into
copying them. On `police_force` (9,048 rows, 4,507 distinct incident times), split row by
row, training ran 62-96 epochs and the privacy gate failed on closeness to training rows
for 2 of 4 seeds (protection 0.85-0.90); split by incident it stopped after 31-34 and
passed on all 4 (0.90-0.97), but its rows became easier to tell from real (detection
0.54-0.62 -> 0.75-0.79). So the split by event is an option (`Synthesizer(
validation_groups=...)`), not the default (benchmarks/RESULTS.md).

"auto" (`event_column`) takes the rows of one key that repeats (an id keying groups of
rows), else of one timestamp that carries a time of day and repeats, its distinct values
between EVENT_SHARE of the rows (a timestamp that never repeats shares nothing; one taking a
few values is a period, not an event). A date alone (no time of day) names a day, which many
unrelated rows share, and is not taken. Without such a column the split is the plain seeded
permutation of the rows, as it is by default.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .columns.datetime import DatetimeEncoder
from .columns.identifier import IdEncoder
from .columns.table import TableEncoder

EVENT_SHARE = (0.1, 0.9)  # distinct values per row of a timestamp that names events
DAY_SECONDS = 86_400


def event_column(df: pd.DataFrame, encoder: TableEncoder) -> str | None:
    """The column whose equal values mark rows of one event (see the module), or None."""
    for enc in encoder.encoders_:
        if isinstance(enc, IdEncoder) and enc.grouped:
            return enc.name
    best, most = None, 0
    for enc in encoder.encoders_:
        if not isinstance(enc, DatetimeEncoder) or enc.step_ >= DAY_SECONDS:
            continue
        values = df[enc.name].dropna()
        distinct = values.nunique()
        if EVENT_SHARE[0] * len(values) <= distinct <= EVENT_SHARE[1] * len(values) \
                and distinct > most:
            best, most = enc.name, distinct
    return best


def event_groups(values: pd.Series) -> np.ndarray:
    """A group number per row: equal values share one; each null is a group of its own."""
    codes, uniques = pd.factorize(values)
    nulls = codes < 0
    codes[nulls] = len(uniques) + np.arange(int(nulls.sum()))
    return codes


def validation_split(n_rows: int, n_val: int, rng: np.random.Generator,
                     groups: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(validation rows, training rows): about `n_val` rows at random, whole groups at a
    time when `groups` is given (the last group taken may carry it a little past `n_val`)."""
    if groups is None:
        order = rng.permutation(n_rows)
        return order[:n_val], order[n_val:]
    if n_val == 0:
        return np.zeros(0, np.int64), np.arange(n_rows)
    rank = np.empty(int(groups.max()) + 1, np.int64)
    rank[rng.permutation(len(rank))] = np.arange(len(rank))
    row_rank = rank[groups]
    order = np.argsort(row_rank, kind="stable")
    last = row_rank[order[n_val - 1]]
    held = row_rank[order] <= last
    return order[held], order[~held]
