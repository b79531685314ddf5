"""Fidelity and privacy scores of a synthetic table against the real rows it was trained on.

Fidelity is SDMetrics' single-table QualityReport (column shapes, column pair trends).
Privacy compares the synthetic rows with a real holdout the model never saw: distance to
the closest training record (DCR) and exact copies of training rows. A synthetic table is
private enough when its rows sit no closer to the training rows than the holdout's rows do.

Every function returns plain JSON-serialisable dicts (floats, ints, strings, None).
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import pandas as pd
from sklearn.neighbors import NearestNeighbors

from synthvae.kinds import datetime_format, detect_kind
from synthvae.kinds import sdtype as kind_sdtype

with warnings.catch_warnings():
    # sdmetrics 0.32 deprecates the single-table report for a unified one. We keep the
    # single-table one because the yardstick the anchors are scored with uses it too.
    warnings.simplefilter("ignore", FutureWarning)
    from sdmetrics.reports.single_table import QualityReport

SCORED_SDTYPES = ("numerical", "datetime", "categorical", "boolean")
# A numeric column with this many distinct values or fewer (ratings, counts, codes) scores
# as categories: KS on a handful of values is dominated by ties.
MAX_DISCRETE_NUMERIC = 15
TOP_CATEGORIES = 50  # one-hot width per categorical column in the DCR encoding
NULL = "__null__"
OTHER = "__other__"


def sdmetrics_metadata(df: pd.DataFrame, kinds: dict[str, str] | None = None) -> dict:
    """SDMetrics single-table metadata `{"columns": {name: {"sdtype": ...}}}` for `df`.

    `kinds` maps some or all columns to our kinds (numeric, categorical, boolean, datetime,
    time, id, text, constant); the other columns get `synthvae.kinds.detect_kind`'s, the
    kind the model gives them.
    """
    kinds = kinds or {}
    columns = {}
    for name in df.columns:
        s = df[name]
        kind = kinds[name] if name in kinds else detect_kind(s)
        try:
            sdtype = kind_sdtype(kind)
        except ValueError as err:
            raise ValueError(f"column {name!r}: {err}") from None
        if sdtype == "numerical" and s.nunique() <= MAX_DISCRETE_NUMERIC:
            sdtype = "categorical"
        meta = {"sdtype": sdtype}
        fmt = datetime_format(s, kind) if sdtype == "datetime" else None
        if fmt:
            meta["datetime_format"] = fmt
        columns[name] = meta
    return {"columns": columns}


def quality(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    metadata: dict,
    max_rows: int = 50_000,
    seed: int = 0,
) -> dict:
    """SDMetrics quality of `synthetic` against `real`, each subsampled to `max_rows` rows.

    Returns quality, column_shapes, column_pair_trends (0..1), `columns` (shape score per
    column), `pairs_worst` (the 5 lowest-scoring column pairs) and `rows` (rows scored).
    SDMetrics 0.32 scores a pair only when its real correlation exceeds 0.5 or its real
    association 0.3 (13 of Adult's 105 pairs); the others have no score and are left out
    of column_pair_trends and pairs_worst. pairs_counted / pairs_total say how many.
    """
    scored = _scored_metadata(metadata)
    _check_columns(synthetic, scored, "synthetic")
    real_rows = _subsample(real, max_rows, seed)
    synthetic_rows = _subsample(synthetic, max_rows, seed)
    report = QualityReport()
    report.generate(
        _as_scored(real_rows, scored, real),
        _as_scored(synthetic_rows, scored, real),
        scored,
        verbose=False,
    )
    properties = report.get_properties().set_index("Property")["Score"]
    shapes = report.get_details("Column Shapes")
    pairs = report.get_details("Column Pair Trends")
    if pairs.empty:  # a single scored column has no pairs
        pairs = pd.DataFrame(columns=["Column 1", "Column 2", "Metric", "Score"])
    worst = pairs.dropna(subset=["Score"]).sort_values("Score", kind="stable").head(5)
    return {
        "quality": _number(report.get_score()),
        "column_shapes": _number(properties["Column Shapes"]),
        "column_pair_trends": _number(properties["Column Pair Trends"]),
        "columns": {str(c): _number(v) for c, v in zip(shapes["Column"], shapes["Score"])},
        "pairs_worst": [
            {
                "columns": [str(row["Column 1"]), str(row["Column 2"])],
                "metric": str(row["Metric"]),
                "score": _number(row["Score"]),
            }
            for _, row in worst.iterrows()
        ],
        "pairs_counted": int(pairs["Score"].notna().sum()),
        "pairs_total": len(pairs),
        "rows": {"real": len(real_rows), "synthetic": len(synthetic_rows)},
    }


def distance_to_closest_record(
    train: pd.DataFrame,
    synthetic: pd.DataFrame,
    holdout: pd.DataFrame,
    metadata: dict,
    n: int = 5000,
    seed: int = 0,
) -> dict:
    """Euclidean distance from each synthetic / holdout row to its nearest training row.

    Synthetic and holdout are subsampled to `n` rows; all training rows are searched.
    dcr_ratio = synthetic median / holdout median: >= 1 means synthetic rows sit no closer
    to the training rows than unseen real rows do; near 0 means copying.
    share_synthetic_closer is the share of synthetic rows closer than the holdout's 5th
    percentile DCR; share_holdout_closer (about 0.05 by construction) is its reference.
    """
    scored = _scored_metadata(metadata)
    _check_columns(synthetic, scored, "synthetic")
    _check_columns(holdout, scored, "holdout")
    synthetic_rows = _subsample(synthetic, n, seed)
    holdout_rows = _subsample(holdout, n, seed)
    train_x, synthetic_x, holdout_x = _encode_for_distance(
        [train, synthetic_rows, holdout_rows], scored
    )
    nearest = NearestNeighbors(n_neighbors=1).fit(train_x)
    synthetic_dcr = nearest.kneighbors(synthetic_x)[0][:, 0]
    holdout_dcr = nearest.kneighbors(holdout_x)[0][:, 0]

    synthetic_median = float(np.median(synthetic_dcr))
    holdout_median = float(np.median(holdout_dcr))
    if holdout_median > 0:
        ratio = synthetic_median / holdout_median
    else:  # holdout rows duplicate training rows: only "equally close" is defined
        ratio = 1.0 if synthetic_median == 0 else None
    holdout_p05 = float(np.quantile(holdout_dcr, 0.05))
    return {
        "dcr_synthetic_median": _number(synthetic_median),
        "dcr_holdout_median": _number(holdout_median),
        "dcr_ratio": _number(ratio),
        "dcr_holdout_p05": _number(holdout_p05),
        "share_synthetic_closer": _number(np.mean(synthetic_dcr < holdout_p05)),
        "share_holdout_closer": _number(np.mean(holdout_dcr < holdout_p05)),
        "rows": {
            "train": len(train),
            "synthetic": len(synthetic_rows),
            "holdout": len(holdout_rows),
        },
    }


def exact_copies(
    train: pd.DataFrame,
    synthetic: pd.DataFrame,
    holdout: pd.DataFrame,
    metadata: dict | None = None,
) -> dict:
    """Synthetic and holdout rows identical to a training row, over the scored columns.

    `*_copies` counts distinct rows; `*_copy_rate` is the share of all rows (repeats
    included) that equal a training row, so a model that emits one training row many
    times shows up. Compare synthetic_copy_rate with holdout_copy_rate: real tables hold
    duplicates too (Adult's test split repeats a few training rows).
    """
    scored = _scored_metadata(metadata or sdmetrics_metadata(train))
    _check_columns(synthetic, scored, "synthetic")
    _check_columns(holdout, scored, "holdout")
    train_hashes = np.unique(_row_hashes(train, scored, train))
    result = {}
    for name, frame in (("synthetic", synthetic), ("holdout", holdout)):
        hashes = _row_hashes(frame, scored, train)
        is_copy = np.isin(hashes, train_hashes)
        result[f"{name}_copies"] = int(np.unique(hashes[is_copy]).size)
        result[f"{name}_copy_rate"] = _number(is_copy.mean() if len(frame) else 0.0, 6)
    return result


def score(
    train: pd.DataFrame,
    synthetic: pd.DataFrame,
    holdout: pd.DataFrame | None = None,
    kinds: dict[str, str] | None = None,
    max_rows: int = 50_000,
    seed: int = 0,
) -> dict:
    """Quality of `synthetic` against `train`, and privacy figures when a holdout is given.

    One JSON-serialisable dict: quality, column_shapes, column_pair_trends, columns,
    pairs_worst, pairs_counted, pairs_total, privacy (DCR and exact copies; only with a
    holdout), rows_scored, seconds. Columns of `synthetic` not in `train` are ignored.
    """
    start = time.perf_counter()
    metadata = sdmetrics_metadata(train, kinds)
    result = quality(train, synthetic, metadata, max_rows=max_rows, seed=seed)
    quality_rows = result.pop("rows")
    rows_scored = {
        "train": len(train),
        "synthetic": len(synthetic),
        "quality_real": quality_rows["real"],
        "quality_synthetic": quality_rows["synthetic"],
    }
    if holdout is not None:
        dcr = distance_to_closest_record(train, synthetic, holdout, metadata, seed=seed)
        dcr_rows = dcr.pop("rows")
        result["privacy"] = {**dcr, **exact_copies(train, synthetic, holdout, metadata)}
        rows_scored |= {
            "holdout": len(holdout),
            "dcr_synthetic": dcr_rows["synthetic"],
            "dcr_holdout": dcr_rows["holdout"],
        }
    result["rows_scored"] = rows_scored
    result["seconds"] = round(time.perf_counter() - start, 2)
    return result


def _scored_metadata(metadata: dict) -> dict:
    """Only the columns SDMetrics scores: id and text columns are left out."""
    columns = {
        name: meta for name, meta in metadata["columns"].items() if meta["sdtype"] in SCORED_SDTYPES
    }
    if not columns:
        raise ValueError(
            f"no column to score: every column is id or text ({sorted(metadata['columns'])}); "
            "pass kinds= to mark some as numeric or categorical"
        )
    return {"columns": columns}


def _check_columns(df: pd.DataFrame, metadata: dict, name: str) -> None:
    missing = [c for c in metadata["columns"] if c not in df.columns]
    if missing:
        raise ValueError(
            f"the {name} table lacks columns {missing[:10]} that the training table has; "
            "score tables with the training table's columns"
        )


def _subsample(df: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    return df if len(df) <= n else df.sample(n, random_state=seed)


def _as_scored(df: pd.DataFrame, metadata: dict, reference: pd.DataFrame) -> pd.DataFrame:
    """The scored columns of `df` in plain numpy dtypes, as SDMetrics needs them.

    Nullable Int64/string columns have made SDMetrics' pair metrics return NaN, which
    silently lowers the score, so: numbers → float64 (NaN), datetimes → datetime64[ns] (NaT),
    categories → object (None). A categorical column numeric in `reference` (the real
    table) is made float on every side, so 3 and 3.0 are one category.
    """
    out = {}
    for name, meta in metadata["columns"].items():
        s = df[name]
        if meta["sdtype"] == "datetime":
            out[name] = _to_datetime(s, meta.get("datetime_format"))
        elif meta["sdtype"] == "numerical" or _is_plain_numeric(reference[name]):
            out[name] = pd.to_numeric(s, errors="coerce").astype(float)
        else:
            out[name] = s.astype(object).where(s.notna(), None)
    return pd.DataFrame(out, index=df.index)


def _is_plain_numeric(s: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)


def _to_datetime(s: pd.Series, fmt: str | None) -> pd.Series:
    if not pd.api.types.is_datetime64_any_dtype(s):
        # utc: offsets that change through the year (+01:00, +02:00) would otherwise give
        # objects, not datetimes; naive values are taken as UTC and come back unchanged.
        s = pd.to_datetime(s.astype(object), errors="coerce", format=fmt or "mixed", utc=True)
    if getattr(s.dt, "tz", None) is not None:
        s = s.dt.tz_convert(None)
    # One unit for every side: KS compares the raw integers behind the timestamps.
    return s.astype("datetime64[ns]")


def _encode_for_distance(frames: list[pd.DataFrame], metadata: dict) -> list[np.ndarray]:
    """Each frame as a float matrix, with scales and categories learned on frames[0].

    Numbers and datetimes are min-max scaled on the training rows (nulls → -1, outside
    the range); categories are one-hot over the 50 most frequent training values plus
    one "other" slot, with null as a value of its own. Numeric columns scored as
    categories (<= 15 values) are scaled like numbers, as the yardstick does, so 3 sits
    nearer to 4 than to 12.
    """
    train = frames[0]
    scored = [_as_scored(frame, metadata, train) for frame in frames]
    blocks: list[list[np.ndarray]] = [[] for _ in frames]
    for name in metadata["columns"]:
        columns = [frame[name] for frame in scored]
        if columns[0].dtype.kind in "fM":
            values = [_as_float(c) for c in columns]
            low, high = pd.Series(values[0]).min(), pd.Series(values[0]).max()
            if pd.isna(low):  # no training value at all: every row gets the null slot
                low, high = 0.0, 1.0
            span = (high - low) or 1.0
            for block, v in zip(blocks, values):
                block.append(np.nan_to_num((v - low) / span, nan=-1.0)[:, None])
        else:
            labels = [c.astype(str).where(c.notna(), NULL) for c in columns]
            categories = [*labels[0].value_counts().index[:TOP_CATEGORIES], OTHER]
            for block, label in zip(blocks, labels):
                codes = pd.Categorical(label, categories=categories).codes
                codes = np.where(codes < 0, len(categories) - 1, codes)
                block.append(np.eye(len(categories))[codes])
    return [np.hstack(block) for block in blocks]


def _as_float(s: pd.Series) -> np.ndarray:
    if s.dtype.kind == "M":
        values = s.to_numpy().view("int64").astype(float)
        values[s.isna().to_numpy()] = np.nan
        return values
    return s.to_numpy(dtype=float)


def _row_hashes(df: pd.DataFrame, metadata: dict, reference: pd.DataFrame) -> np.ndarray:
    """One 64-bit hash per row of canonical strings: floats rounded to 6 digits, nulls one
    token, so int64, Int64 and float64 spellings of a row hash alike."""
    scored = _as_scored(df, metadata, reference)
    canonical = {}
    for name in scored.columns:
        s = scored[name]
        if s.dtype.kind == "f":
            s = s.round(6) + 0.0  # + 0.0 turns -0.0 into 0.0
        canonical[name] = s.astype(str).where(s.notna(), NULL)
    return pd.util.hash_pandas_object(pd.DataFrame(canonical), index=False).to_numpy()


def _number(x: float | None, digits: int = 4) -> float | None:
    """A plain rounded float for JSON; None for a missing or undefined score."""
    if x is None or not np.isfinite(x):
        return None
    return round(float(x), digits)
