"""A consistent part of a database: fewer parents, all their children, every key intact."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .schema import DatasetSchema


def subset(tables: dict[str, pd.DataFrame], schema: DatasetSchema, scale: float,
           seed: int = 0) -> dict[str, pd.DataFrame]:
    """About `scale` of the rows of each table without a context parent (chosen at random
    with `seed`), every row of a child table whose context parent was kept (and `scale` of
    those hanging from none), then every parent row a kept row points to through any
    foreign key, so no key points outside the subset."""
    if not 0 < scale <= 1:
        raise ValueError(f"scale must be in (0, 1] to take a part of a database, got {scale}")
    rng = np.random.default_rng(seed)
    keep: dict[str, np.ndarray] = {}
    for name in schema.order():  # parents first: children follow the parents kept
        df = tables[name]
        fk = schema.context(name)
        chosen = np.zeros(len(df), bool)
        loose = np.ones(len(df), bool)
        if fk is not None:
            parent = tables[fk.parent][fk.parent_column]
            values = df[fk.column]
            chosen = values.isin(parent[keep[fk.parent]]).to_numpy()
            loose = (values.isna() | ~values.isin(parent)).to_numpy()
        n_loose = int(loose.sum())
        pick = rng.choice(np.flatnonzero(loose), int(round(scale * n_loose)), replace=False) \
            if n_loose else np.zeros(0, np.int64)
        chosen[pick] = True
        keep[name] = chosen
    for name in reversed(schema.order()):  # children first: parents follow what points to them
        for fk in (f for f in schema.foreign_keys if f.child == name):
            wanted = tables[name][fk.column][keep[name]].dropna()
            keep[fk.parent] |= tables[fk.parent][fk.parent_column].isin(wanted).to_numpy()
    return {name: df[keep[name]].reset_index(drop=True) for name, df in tables.items()}
