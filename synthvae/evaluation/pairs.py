"""Column pair trends as report.json's column_pair_trends scores them, for every pair at once.

`fidelity.quality` has SDMetrics' QualityReport score the pairs, one metric call per pair.
The report page needs the same figure for every pair it draws, on its own sample, in well
under a second; this module is that figure in numpy, and tests/test_pairs.py holds it to
SDMetrics' numbers on the same rows. Each pair of columns, in the sdtypes of
`fidelity.sdmetrics_metadata`, gets

- two continuous columns (numerical, datetime): CorrelationSimilarity,
  1 − |r_real − r_synthetic| / 2, Pearson r on the rows where both columns are non-null;
  column_pair_trends counts the pair when |r_real| > 0.5;
- any other pair: ContingencySimilarity, 1 − the total variation distance between the real
  and the synthetic joint distribution of the two columns (null is a value of its own; a
  continuous column is cut into 10 equal-width bins); counted when the real Cramér's V
  exceeds 0.3.

SDMetrics gives a pair it does not count no score; `pair_trends` scores it all the same and
says whether it is counted, so a page can show weak pairs apart from the rest.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
from sdmetrics.reports.utils import (
    DEFAULT_REAL_ASSOCIATION_THRESHOLD as ASSOCIATION_THRESHOLD,
)
from sdmetrics.reports.utils import (
    DEFAULT_REAL_CORRELATION_THRESHOLD as CORRELATION_THRESHOLD,
)

from .fidelity import SCORED_SDTYPES, as_float, as_scored

CONTINUOUS = ("numerical", "datetime")
CORRELATION = "CorrelationSimilarity"
CONTINGENCY = "ContingencySimilarity"
# Joint tables of up to this many cells are counted with one bincount; larger ones (two
# columns of many categories) only over the cells that occur, so memory follows the rows.
DENSE_CELLS = 1 << 16


def pair_trends(real: pd.DataFrame, synthetic: pd.DataFrame, metadata: dict) -> pd.DataFrame:
    """One row per pair of scored columns of `metadata` (SDMetrics single-table metadata,
    as `fidelity.sdmetrics_metadata` makes it), in column order: column_1, column_2,
    metric (CorrelationSimilarity or ContingencySimilarity), score (0..1, NaN where
    undefined), real and synthetic (Pearson r, or Cramér's V for a contingency pair) and
    counted (whether column_pair_trends averages the pair)."""
    names = [c for c, meta in metadata["columns"].items() if meta["sdtype"] in SCORED_SDTYPES]
    meta = {"columns": {c: metadata["columns"][c] for c in names}}
    frames = [as_scored(f, meta, real) for f in (real, synthetic)]
    continuous = [meta["columns"][c]["sdtype"] in CONTINUOUS for c in names]
    values = [{c: as_float(f[c]) for c, k in zip(names, continuous) if k} for f in frames]
    r_real, r_synthetic = (_pearson_by_name(v) for v in values)
    codes = {}
    for c, is_continuous in zip(names, continuous):
        if is_continuous:
            # Each table is cut on its own range, as SDMetrics cuts them.
            pair = tuple(discretize(v[c]) for v in values)
            codes[c] = None if any(p is None for p in pair) else pair
        else:
            codes[c] = category_codes(frames[0][c], frames[1][c])
    rows = []
    for i, a in enumerate(names):
        for b, b_continuous in zip(names[i + 1 :], continuous[i + 1 :]):
            if continuous[i] and b_continuous:
                real_r, synthetic_r = r_real[a][b], r_synthetic[a][b]
                score = float(correlation_similarity(real_r, synthetic_r))
                counted = bool(abs(real_r) > CORRELATION_THRESHOLD)  # NaN > x is False
                rows.append((a, b, CORRELATION, score, real_r, synthetic_r, counted))
            elif codes[a] is None or codes[b] is None:
                rows.append((a, b, CONTINGENCY, math.nan, math.nan, math.nan, False))
            else:
                (ra, sa), (rb, sb) = codes[a], codes[b]
                score, real_v, synthetic_v = _contingency(ra, rb, sa, sb)
                rows.append((a, b, CONTINGENCY, score, real_v, synthetic_v,
                             bool(real_v > ASSOCIATION_THRESHOLD)))  # fmt: skip
    columns = ["column_1", "column_2", "metric", "score", "real", "synthetic", "counted"]
    return pd.DataFrame(rows, columns=columns)


def pearson(values: np.ndarray) -> np.ndarray:
    """Pearson r between every two columns of `values` (rows × columns, NaN for null),
    each pair on the rows where both are non-null; NaN where r is undefined (a constant
    column, fewer than two rows in common)."""
    values = np.asarray(values, dtype=float)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pd.DataFrame(values).corr().to_numpy()


def correlation_similarity(real_r, synthetic_r):
    """SDMetrics' CorrelationSimilarity from the two correlations: 1 − |r_real − r_syn| / 2
    (elementwise over arrays)."""
    return 1 - np.abs(np.asarray(real_r, dtype=float) - np.asarray(synthetic_r, dtype=float)) / 2


def contingency_similarity(real_x, real_y, synthetic_x, synthetic_y) -> float:
    """SDMetrics' ContingencySimilarity of two discrete columns given as codes (integers
    from 0, shared by both tables): 1 − the total variation distance between the real and
    the synthetic joint distribution. NaN when a table has no rows."""
    return _contingency(real_x, real_y, synthetic_x, synthetic_y)[0]


def cramers_v(x, y) -> float:
    """Cramér's V of two discrete columns given as codes, without bias correction, as
    SciPy's association(method="cramer") computes it for SDMetrics' threshold; NaN when
    either column holds a single value."""
    x, y = np.asarray(x, dtype=np.int64), np.asarray(y, dtype=np.int64)
    if not len(x):
        return math.nan
    ky = int(y.max()) + 1
    return _cramers_v(*_cells(x, y, int(x.max()) + 1, ky), ky)


def discretize(values: np.ndarray) -> np.ndarray | None:
    """A continuous column's bin per row, as SDMetrics cuts it for a contingency table:
    np.histogram_bin_edges' 10 equal-width bins over the non-null values, then np.digitize.
    That puts NaN and the maximum together past the last edge (bin 11), as in SDMetrics.
    None when the range is not finite (SDMetrics then scores none of the column's pairs)."""
    values = np.asarray(values, dtype=float)
    try:
        edges = np.histogram_bin_edges(values[~np.isnan(values)])
    except ValueError:
        return None
    return np.digitize(values, edges)


def category_codes(real: pd.Series, synthetic: pd.Series) -> tuple[np.ndarray, np.ndarray] | None:
    """Codes of a discrete column's values, shared by both tables, with null (None or NaN)
    a value of its own; None when the values cannot be compared (lists, dicts), where
    SDMetrics gives the pair no score either."""
    both = pd.concat([pd.Series(real).reset_index(drop=True),
                      pd.Series(synthetic).reset_index(drop=True)], ignore_index=True)  # fmt: skip
    try:
        codes, _ = pd.factorize(both, use_na_sentinel=False)
    except TypeError:
        return None
    return codes[: len(real)], codes[len(real) :]


def _pearson_by_name(values: dict[str, np.ndarray]) -> dict:
    names = list(values)
    if not names:
        return {}
    r = pearson(np.column_stack([values[c] for c in names]))
    return {a: dict(zip(names, r[i])) for i, a in enumerate(names)}


def _contingency(real_x, real_y, synthetic_x, synthetic_y) -> tuple[float, float, float]:
    """Contingency similarity, and Cramér's V of the real and of the synthetic table."""
    tables = [np.asarray(c, dtype=np.int64) for c in (real_x, real_y, synthetic_x, synthetic_y)]
    if not len(tables[0]) or not len(tables[2]):
        return math.nan, math.nan, math.nan
    kx = int(max(tables[0].max(), tables[2].max())) + 1
    ky = int(max(tables[1].max(), tables[3].max())) + 1
    cells_r, counts_r = _cells(tables[0], tables[1], kx, ky)
    cells_s, counts_s = _cells(tables[2], tables[3], kx, ky)
    # Each observed cell once: real shares minus synthetic shares, summed per cell.
    _, cell = np.unique(np.concatenate([cells_r, cells_s]), return_inverse=True)
    shares = np.concatenate([counts_r / len(tables[0]), -counts_s / len(tables[2])])
    score = 1.0 - 0.5 * float(np.abs(np.bincount(cell, weights=shares)).sum())
    return score, _cramers_v(cells_r, counts_r, ky), _cramers_v(cells_s, counts_s, ky)


def _cells(x: np.ndarray, y: np.ndarray, kx: int, ky: int) -> tuple[np.ndarray, np.ndarray]:
    """The cells of the (x, y) contingency table that occur (as x * ky + y) and their
    counts."""
    cells = x * ky + y
    if kx * ky <= max(DENSE_CELLS, 2 * len(cells)):
        counts = np.bincount(cells, minlength=kx * ky)
        found = np.flatnonzero(counts)
        return found, counts[found]
    return np.unique(cells, return_counts=True)


def _cramers_v(cells: np.ndarray, counts: np.ndarray, ky: int) -> float:
    # chi² = n (Σ n_ij² / (n_i· n_·j) − 1) over the cells that occur: no dense table needed.
    n = float(counts.sum())
    rows, cols = cells // ky, cells % ky
    _, row = np.unique(rows, return_inverse=True)
    _, col = np.unique(cols, return_inverse=True)
    r, k = int(row.max(initial=-1)) + 1, int(col.max(initial=-1)) + 1
    if n == 0 or min(r, k) < 2:
        return math.nan
    row_total = np.bincount(row, weights=counts)
    col_total = np.bincount(col, weights=counts)
    phi2 = max(float((counts**2 / (row_total[row] * col_total[col])).sum()) - 1.0, 0.0)
    return math.sqrt(phi2 / (min(r, k) - 1))
