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
# Pair trends cost one SDMetrics metric per pair: 300 columns hold 44,850 pairs (minutes).
# Above 40 scored columns the pairs among 40 random columns (780) stand for all; Adult has
# 15 columns (105 pairs), all scored.
MAX_PAIR_COLUMNS = 40
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
    max_pair_columns: int = MAX_PAIR_COLUMNS,
) -> dict:
    """SDMetrics quality of `synthetic` against `real`, each subsampled to `max_rows` rows.

    Returns quality, column_shapes, column_pair_trends (0..1), `columns` (shape score per
    column), `pairs_worst` (the 5 lowest-scoring column pairs), `rows` (rows scored),
    `not_available` (figure -> why it is None) and `subsampled` (what was left out to bound
    the time; empty when nothing was).
    SDMetrics 0.32 scores a pair only when its real correlation exceeds 0.5 or its real
    association 0.3 (13 of Adult's 105 pairs); the others have no score and are left out
    of column_pair_trends and pairs_worst. pairs_counted / pairs_total say how many.
    Pair trends cost a pair each, so a table of more than `max_pair_columns` scored columns
    has its pairs scored among that many of its columns, drawn with `seed`. Every column's
    shape is scored. quality is the mean of the two properties, or column_shapes alone when
    no pair has a score (SDMetrics' rule).
    """
    scored = scored_metadata(metadata)
    check_columns(synthetic, scored, "synthetic")
    names = list(scored["columns"])
    real_rows = _subsample(real, max_rows, seed)
    synthetic_rows = _subsample(synthetic, max_rows, seed)
    # SDMetrics sees the columns as c0, c1, ...: names are data, and some metrics turn
    # them into code (pandas queries, "<name>_diff" helper columns).
    safe, safe_meta = _positional(scored)
    frames = [
        as_scored(f, scored, real).set_axis(safe, axis=1) for f in (real_rows, synthetic_rows)
    ]
    original = dict(zip(safe, names))
    shapes_report = _PartialQualityReport(skip="Column Pair Trends")
    with warnings.catch_warnings():  # SDMetrics' mean of no score warns; we say why instead
        warnings.simplefilter("ignore", RuntimeWarning)
        shapes_report.generate(*frames, safe_meta, verbose=False)
    shapes = shapes_report.get_details("Column Shapes")
    column_shapes = _property_score(shapes_report)
    pair_columns = _pair_columns(safe, max_pair_columns, seed)
    pairs = pd.DataFrame(columns=["Column 1", "Column 2", "Metric", "Score"])
    column_pair_trends = None
    if len(pair_columns) > 1:
        pairs_report = _PartialQualityReport(skip="Column Shapes")
        subset = {"columns": {c: safe_meta["columns"][c] for c in pair_columns}}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            pairs_report.generate(*(f[pair_columns] for f in frames), subset, verbose=False)
        pairs = pairs_report.get_details("Column Pair Trends")
        column_pair_trends = _property_score(pairs_report)
    # SDMetrics' overall score: the mean of the property scores it has.
    properties = [x for x in (column_shapes, column_pair_trends) if x is not None]
    counted = pairs.dropna(subset=["Score"])
    worst = counted.sort_values("Score", kind="stable").head(5)
    result = {
        "quality": number(np.mean(properties)) if properties else None,
        "column_shapes": number(column_shapes),
        "column_pair_trends": number(column_pair_trends),
        "columns": {
            str(original[c]): number(v) for c, v in zip(shapes["Column"], shapes["Score"])
        },
        "pairs_worst": [
            {
                "columns": [str(original[row["Column 1"]]), str(original[row["Column 2"]])],
                "metric": str(row["Metric"]),
                "score": number(row["Score"]),
            }
            for _, row in worst.iterrows()
        ],
        "pairs_counted": len(counted),
        "pairs_total": len(pairs),
        "rows": {"real": len(real_rows), "synthetic": len(synthetic_rows)},
        "not_available": _quality_gaps(
            shapes, pairs, column_shapes, column_pair_trends, original, len(names)
        ),
        "subsampled": {},
    }
    if len(pair_columns) < len(names):
        result["subsampled"]["column_pairs"] = {
            "pairs_scored": len(pairs),
            "pairs_of": len(names) * (len(names) - 1) // 2,
            "columns_used": len(pair_columns),
            "columns_of": len(names),
            "why": f"pair trends cost a pair each: pairs among {len(pair_columns)} columns "
            f"drawn at random (seed {seed}) stand for all",
        }
    return result


class _PartialQualityReport(QualityReport):
    """SDMetrics' QualityReport with one of its two properties skipped, so that each can
    be computed on its own columns. Read it with get_score() and get_details()."""

    def __init__(self, skip: str):
        super().__init__()
        self._skip = {skip}

    def _get_skipped_properties(self, metadata, constraints=None):
        return self._skip


def _positional(metadata: dict) -> tuple[list[str], dict]:
    """Safe column names c0, c1, ... in metadata order, and the metadata under them."""
    safe = [f"c{i}" for i in range(len(metadata["columns"]))]
    return safe, {"columns": dict(zip(safe, metadata["columns"].values()))}


def _pair_columns(columns: list[str], limit: int, seed: int) -> list[str]:
    """All columns, or `limit` of them drawn with `seed`, in table order."""
    if len(columns) <= limit:
        return list(columns)
    keep = np.random.default_rng(seed).choice(len(columns), size=limit, replace=False)
    return [columns[i] for i in np.sort(keep)]


def _property_score(report: _PartialQualityReport) -> float | None:
    with warnings.catch_warnings():  # the mean of no score: NaN, with a warning
        warnings.simplefilter("ignore", RuntimeWarning)
        value = report.get_score()
    return float(value) if np.isfinite(value) else None


def _quality_gaps(shapes, pairs, column_shapes, column_pair_trends, original, n_columns):
    """Why each missing quality figure is missing, in words, keyed by the figure's name."""
    gaps = {}
    errors = shapes["Error"] if "Error" in shapes else pd.Series(None, index=shapes.index)
    for column, value, error in zip(shapes["Column"], shapes["Score"], errors):
        if number(value) is None:
            why = str(error) if isinstance(error, str) and error else "SDMetrics gave no score"
            gaps[f"columns.{original[column]}"] = why
    if column_shapes is None:
        gaps["column_shapes"] = "no column has a shape score"
    if n_columns < 2:
        gaps["column_pair_trends"] = "only one column is scored, so there is no pair"
    elif column_pair_trends is None:
        gaps["column_pair_trends"] = (
            f"SDMetrics scored none of the {len(pairs)} column pairs: it scores a pair only "
            "when its real correlation exceeds 0.5 or its real association 0.3; quality is "
            "column_shapes alone"
        )
    if "column_shapes" in gaps and "column_pair_trends" in gaps:
        gaps["quality"] = "neither column shapes nor pair trends have a score"
    return gaps


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
    scored = scored_metadata(metadata)
    check_columns(synthetic, scored, "synthetic")
    check_columns(holdout, scored, "holdout")
    synthetic_rows = _subsample(synthetic, n, seed)
    holdout_rows = _subsample(holdout, n, seed)
    train_x, synthetic_x, holdout_x = encode_for_distance(
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
        "dcr_synthetic_median": number(synthetic_median),
        "dcr_holdout_median": number(holdout_median),
        "dcr_ratio": number(ratio),
        "dcr_holdout_p05": number(holdout_p05),
        "share_synthetic_closer": number(np.mean(synthetic_dcr < holdout_p05)),
        "share_holdout_closer": number(np.mean(holdout_dcr < holdout_p05)),
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

    `*_copies` counts distinct rows; `*_copy_rows` the rows (repeats included) that equal a
    training row and `*_copy_rate` their share, so a model that emits one training row many
    times shows up. Compare synthetic_copy_rate with holdout_copy_rate: real tables hold
    duplicates too (Adult's test split repeats a few training rows).
    """
    scored = scored_metadata(metadata or sdmetrics_metadata(train))
    check_columns(synthetic, scored, "synthetic")
    check_columns(holdout, scored, "holdout")
    train_hashes, inverse, counts = np.unique(
        row_hashes(train, scored, train), return_inverse=True, return_counts=True
    )
    # Training rows equal to another training row: real rows that repeat a row the rest
    # of the training set holds, the control privacy.copy_rates judges copies against.
    result = {"training_repeat_rows": int(np.sum(counts[inverse] > 1))}
    for name, frame in (("synthetic", synthetic), ("holdout", holdout)):
        hashes = row_hashes(frame, scored, train)
        is_copy = np.isin(hashes, train_hashes)
        result[f"{name}_copies"] = int(np.unique(hashes[is_copy]).size)
        result[f"{name}_copy_rows"] = int(is_copy.sum())
        result[f"{name}_copy_rate"] = number(is_copy.mean() if len(frame) else 0.0, 6)
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
    pairs_worst, pairs_counted, pairs_total, not_available (figure -> why it is None),
    subsampled (what was left out to bound the time), privacy (DCR and exact copies; only
    with a holdout), rows_scored, seconds. Columns of `synthetic` not in `train` are ignored.
    A table with no scorable column (only ids and text) gets None figures and the reason.
    """
    start = time.perf_counter()
    metadata = sdmetrics_metadata(train, kinds)
    why = nothing_to_score(metadata)
    if why is None:
        result = quality(train, synthetic, metadata, max_rows=max_rows, seed=seed)
    else:
        result = {key: None for key in ("quality", "column_shapes", "column_pair_trends")}
        result |= {"columns": {}, "pairs_worst": [], "pairs_counted": 0, "pairs_total": 0,
                   "rows": {"real": 0, "synthetic": 0}, "subsampled": {},
                   "not_available": dict.fromkeys(("quality", "column_shapes",
                                                   "column_pair_trends"), why)}  # fmt: skip
    quality_rows = result.pop("rows")
    rows_scored = {
        "train": len(train),
        "synthetic": len(synthetic),
        "quality_real": quality_rows["real"],
        "quality_synthetic": quality_rows["synthetic"],
    }
    if holdout is not None and why is None:
        dcr = distance_to_closest_record(train, synthetic, holdout, metadata, seed=seed)
        dcr_rows = dcr.pop("rows")
        result["privacy"] = {**dcr, **exact_copies(train, synthetic, holdout, metadata)}
        rows_scored |= {
            "holdout": len(holdout),
            "dcr_synthetic": dcr_rows["synthetic"],
            "dcr_holdout": dcr_rows["holdout"],
        }
    elif holdout is not None:
        figures = ("dcr_synthetic_median", "dcr_holdout_median", "dcr_ratio", "dcr_holdout_p05",
                   "share_synthetic_closer", "share_holdout_closer", "training_repeat_rows",
                   "synthetic_copies", "synthetic_copy_rows", "synthetic_copy_rate",
                   "holdout_copies", "holdout_copy_rows", "holdout_copy_rate")  # fmt: skip
        result["privacy"] = dict.fromkeys(figures) | {"not_available": {"privacy": why}}
        rows_scored |= {"holdout": len(holdout), "dcr_synthetic": 0, "dcr_holdout": 0}
    result["rows_scored"] = rows_scored
    result["seconds"] = round(time.perf_counter() - start, 2)
    return result


def nothing_to_score(metadata: dict) -> str | None:
    """Why none of `metadata`'s columns can be scored (each is an id or text), or None."""
    if any(meta["sdtype"] in SCORED_SDTYPES for meta in metadata["columns"].values()):
        return None
    names = [str(c) for c in metadata["columns"]]
    return (
        f"no column to score: every column is an id or text ({', '.join(names[:10])}"
        f"{', ...' if len(names) > 10 else ''}); ids and text are not compared"
    )


def scored_metadata(metadata: dict) -> dict:
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


def check_columns(df: pd.DataFrame, metadata: dict, name: str) -> None:
    missing = [c for c in metadata["columns"] if c not in df.columns]
    if missing:
        raise ValueError(
            f"the {name} table lacks columns {missing[:10]} that the training table has; "
            "score tables with the training table's columns"
        )


def _subsample(df: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    return df if len(df) <= n else df.sample(n, random_state=seed)


def as_scored(df: pd.DataFrame, metadata: dict, reference: pd.DataFrame) -> pd.DataFrame:
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
            out[name] = to_datetime(s, meta.get("datetime_format"))
        elif meta["sdtype"] == "numerical" or is_plain_numeric(reference[name]):
            out[name] = pd.to_numeric(s, errors="coerce").astype(float)
        else:
            out[name] = s.astype(object).where(s.notna(), None)
    return pd.DataFrame(out, index=df.index)


def is_plain_numeric(s: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)


def to_datetime(s: pd.Series, fmt: str | None) -> pd.Series:
    if not pd.api.types.is_datetime64_any_dtype(s):
        # utc: offsets that change through the year (+01:00, +02:00) would otherwise give
        # objects, not datetimes; naive values are taken as UTC and come back unchanged.
        s = pd.to_datetime(s.astype(object), errors="coerce", format=fmt or "mixed", utc=True)
    if getattr(s.dt, "tz", None) is not None:
        s = s.dt.tz_convert(None)
    # One unit for every side: KS compares the raw integers behind the timestamps.
    return s.astype("datetime64[ns]")


def encode_for_distance(frames: list[pd.DataFrame], metadata: dict) -> list[np.ndarray]:
    """Each frame as a float matrix, with scales and categories learned on frames[0].

    Numbers and datetimes are min-max scaled on the finite training values (nulls → -1,
    -inf → -2, +inf → 2: points of their own outside the range); categories are one-hot
    over the 50 most frequent training values plus one "other" slot, with null as a value
    of its own. Numeric columns scored as categories (<= 15 values) are scaled like
    numbers, as the yardstick does, so 3 sits nearer to 4 than to 12.
    """
    train = frames[0]
    scored = [as_scored(frame, metadata, train) for frame in frames]
    blocks: list[list[np.ndarray]] = [[] for _ in frames]
    for name in metadata["columns"]:
        columns = [frame[name] for frame in scored]
        if columns[0].dtype.kind in "fM":
            values = [as_float(c) for c in columns]
            finite = values[0][np.isfinite(values[0])]
            # no finite training value at all: every row gets a special slot
            low, high = (finite.min(), finite.max()) if len(finite) else (0.0, 1.0)
            span = (high - low) or 1.0
            for block, v in zip(blocks, values):
                with np.errstate(invalid="ignore"):  # inf - inf
                    scaled = (v - low) / span
                block.append(np.nan_to_num(scaled, nan=-1.0, posinf=2.0, neginf=-2.0)[:, None])
        else:
            labels = [c.astype(str).where(c.notna(), NULL) for c in columns]
            categories = [*labels[0].value_counts().index[:TOP_CATEGORIES], OTHER]
            for block, label in zip(blocks, labels):
                codes = pd.Categorical(label, categories=categories).codes
                codes = np.where(codes < 0, len(categories) - 1, codes)
                block.append(np.eye(len(categories))[codes])
    return [np.hstack(block) for block in blocks]


def as_float(s: pd.Series) -> np.ndarray:
    if s.dtype.kind == "M":
        values = s.to_numpy().view("int64").astype(float)
        values[s.isna().to_numpy()] = np.nan
        return values
    return s.to_numpy(dtype=float)


def row_hashes(df: pd.DataFrame, metadata: dict, reference: pd.DataFrame) -> np.ndarray:
    """One 64-bit hash per row of canonical strings: floats rounded to 6 digits, nulls one
    token, so int64, Int64 and float64 spellings of a row hash alike."""
    scored = as_scored(df, metadata, reference)
    canonical = {}
    for name in scored.columns:
        s = scored[name]
        if s.dtype.kind == "f":
            s = s.round(6) + 0.0  # + 0.0 turns -0.0 into 0.0
        canonical[name] = s.astype(str).where(s.notna(), NULL)
    return pd.util.hash_pandas_object(pd.DataFrame(canonical), index=False).to_numpy()


def number(x: float | None, digits: int = 4) -> float | None:
    """A plain rounded float for JSON; None for a missing or undefined score."""
    if x is None or not np.isfinite(x):
        return None
    return round(float(x), digits)
