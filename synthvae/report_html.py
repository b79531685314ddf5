"""A run's report as one self-contained HTML page (issue #5: "a report people read").

`render_report(report, real, synthetic)` returns the page; `write_report(path, ...)` writes
it atomically. The page fetches nothing: inline CSS, hand-written inline SVG, no scripts,
and a Content-Security-Policy that forbids any fetch. It shows

- the summary scores (quality, column shapes, column pair trends, ML efficacy when the
  report has it) and the privacy gate: every privacy figure with its threshold and verdict;
- one small plot per column, real against synthetic: histograms for numbers and dates,
  category shares (top TOP_CATEGORIES + "other" + nulls) for categories and booleans;
  id and text columns are listed, not plotted (their values identify people), and so
  are constant columns;
- a heat map of |real association − synthetic association| for every column pair:
  Pearson r between two numeric columns, bias-corrected Cramér's V otherwise (numbers cut
  in PAIR_BINS quantile bins of the real values), on up to PAIR_ROWS rows of each table;
- the run's provenance: input file and sha256, schema, seed, model parameters, timings,
  package versions, and any other field of the report.

Every string from the data or the report goes through `html.escape`. Sections missing from
the report say so and the rest renders. Nothing here imports torch, SDMetrics or Prefect.
"""

from __future__ import annotations

import html
import itertools
import json
import math
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from synthvae.columns.base import UnsupportedColumnError
from synthvae.evaluation.gate import attack_results, gate_figures
from synthvae.kinds import datetime_format, detect_kind

KINDS = ("numeric", "categorical", "boolean", "datetime", "time", "id", "text", "constant")
KIND_ALIASES = {
    "discrete": "numeric",
    "integer": "numeric",
    "float": "numeric",
    "bool": "boolean",
    "category": "categorical",
    "date": "datetime",
}
TOP_CATEGORIES = 15  # bars per categorical plot, before "other" and "(null)"
HIST_BINS = 30
FEW_VALUES = 20  # a numeric column with this many distinct values or fewer: a bar per value
PAIR_ROWS = 5000  # rows of each table for the pair associations
PAIR_BINS = 10  # quantile bins of a numeric column in Cramér's V
PAIR_CATEGORIES = 20  # most frequent categories kept in Cramér's V, the rest pooled
PAIR_MAX_COLUMNS = 100  # columns in the heat map
PAIR_SCALE = 0.2  # |Δ| at which the heat map's colour saturates
LABEL_CHARS = 18  # plot labels are cut to this length; the full text is in the tooltip

REAL = "#3b6ea8"
SYNTHETIC = "#e07b00"
PASS, FAIL = "#1a7f37", "#c62828"

SCORE_KEYS = ("quality", "column_shapes", "column_pair_trends", "ml_efficacy")
MODEL_KEYS = ("model", "params", "model_params", "model_config", "train_config", "synthesizer")
SHOWN_KEYS = {
    *SCORE_KEYS,
    *MODEL_KEYS,
    "rows",
    "seed",
    "format",
    "output",
    "files",
    "input",
    "schema",
    "holdout_fraction",
    "train_rows",
    "holdout_rows",
    "fit",
    "columns",
    "pairs_worst",
    "pairs_counted",
    "pairs_total",
    "privacy",
    "privacy_report",
    "privacy_gate",
    "rows_scored",
    "timings",
    "versions",
    "conditions",
    "rows_matching_conditions",
}


# ---------------------------------------------------------------------------------------
# Public API


def render_report(
    report: dict,
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    kinds: dict[str, str] | None = None,
    max_rows: int = 20_000,
) -> str:
    """The report page as a string. `kinds` maps columns to one of KINDS (default: the
    report's fit.column_kinds, else inferred from the data); plots use up to `max_rows`
    rows of each table, drawn at random with a fixed seed."""
    if isinstance(max_rows, bool) or not isinstance(max_rows, int) or max_rows < 1:
        raise ValueError(f"max_rows must be a whole number of 1 or more; got {max_rows!r}")
    report = report if isinstance(report, dict) else {}
    for frame, which in ((real, "real"), (synthetic, "synthetic")):
        if frame.columns.duplicated().any():
            repeated = sorted({str(c) for c in frame.columns[frame.columns.duplicated()]})
            raise ValueError(f"the {which} table repeats column names: {repeated}")
    columns = list(real.columns) + [c for c in synthetic.columns if c not in set(real.columns)]
    real_rows, synthetic_rows = _sample(real, max_rows), _sample(synthetic, max_rows)
    resolved = _resolve_kinds(report, real, synthetic, columns, kinds)
    views = [
        _column_view(i, name, resolved[name], real_rows, synthetic_rows, report)
        for i, name in enumerate(columns)
    ]
    title = "synthvae report"
    if report.get("output"):
        title += f": {Path(str(report['output'])).name}"
    body = "\n".join(
        [
            _header(title, report, len(real), len(synthetic)),
            _summary_section(report),
            _privacy_section(report),
            _rules_section(report),
            _columns_section(views, report, len(real_rows), len(synthetic_rows)),
            _pairs_section(columns, resolved, real_rows, synthetic_rows, report),
            _provenance_section(report),
        ]
    )
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; img-src data:\">\n"
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n{body}\n"
        "</body>\n</html>\n"
    )


def write_report(
    path,
    report: dict,
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    kinds: dict[str, str] | None = None,
) -> Path:
    """Render the page and write it to `path` (a directory gets `report.html`) through a
    temporary file in the same directory and os.replace: readers never see half a page."""
    path = Path(path)
    if path.is_dir():
        path = path / "report.html"
    page = render_report(report, real, synthetic, kinds)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(page)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


# ---------------------------------------------------------------------------------------
# Formatting


def _e(value) -> str:
    return html.escape(str(value), quote=True)


def _cut(text, n: int = LABEL_CHARS) -> str:
    text = str(text)
    return text if len(text) <= n else text[: n - 1] + "…"


def _float(value) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _fmt(value) -> str:
    """A report value for people: thousands separators, about four significant digits."""
    if value is None:
        return "—"
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}"
    if isinstance(value, (float, np.floating)):
        x = float(value)
        if math.isnan(x):
            return "n/a"
        if math.isinf(x):
            return "∞" if x > 0 else "−∞"
        if x == 0:
            return "0"
        if abs(x) >= 1e4:
            return f"{x:,.0f}"
        if abs(x) >= 1:
            return f"{x:,.2f}".rstrip("0").rstrip(".")
        if abs(x) >= 1e-3:
            return f"{x:.4f}".rstrip("0").rstrip(".")
        return f"{x:.3g}"
    if isinstance(value, (list, tuple)) and all(not isinstance(v, (dict, list)) for v in value):
        return ", ".join(_fmt(v) for v in value) if value else "—"
    return str(value)


def _pct(share: float | None) -> str:
    if share is None or (isinstance(share, float) and math.isnan(share)):
        return "n/a"
    if share == 0:
        return "0%"
    if 0 < share < 0.001:
        return "<0.1%"
    return f"{100 * share:.1f}%"


def _short(x: float) -> str:
    """An axis tick: 1.2k, 3.4M, 0.05."""
    if not math.isfinite(x):
        return _fmt(x)
    for div, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= div:
            return f"{x / div:.3g}{suffix}"
    return f"{x:.3g}"


def _score_colour(score: float | None) -> str:
    if score is None:
        return "#777"
    return PASS if score >= 0.9 else "#b26a00" if score >= 0.75 else FAIL


# ---------------------------------------------------------------------------------------
# Column kinds and values


def _sample(df: pd.DataFrame, n: int) -> pd.DataFrame:
    return df if len(df) <= n else df.sample(n, random_state=0).reset_index(drop=True)


def _lookup(mapping: dict, name):
    if not isinstance(mapping, dict):
        return None
    if name in mapping:
        return mapping[name]
    return mapping.get(str(name))


def _resolve_kinds(report, real, synthetic, columns, kinds) -> dict:
    fit = report.get("fit") if isinstance(report.get("fit"), dict) else {}
    resolved = {}
    for name in columns:
        kind = _lookup(kinds or {}, name) or _lookup(fit.get("column_kinds") or {}, name)
        kind = KIND_ALIASES.get(str(kind).lower(), str(kind).lower()) if kind else None
        if kind not in KINDS:
            kind = _infer_kind(real[name] if name in real.columns else synthetic[name])
        resolved[name] = kind
    return resolved


def _distinct(s: pd.Series) -> int:
    """Distinct non-null values; objects (lists and dicts too) by their text."""
    values = s.dropna()
    return (values.astype(str) if values.dtype == object else values).nunique()


def _infer_kind(s: pd.Series) -> str:
    """The kind the model gives the column; values no kind can learn (lists, dicts) are
    counted as categories by their text."""
    try:
        return detect_kind(s)
    except UnsupportedColumnError:
        return "categorical"


def _numbers(s: pd.Series, kind: str) -> np.ndarray:
    """A column as float64 (dates as nanoseconds since 1970, times of day as nanoseconds
    since midnight); nulls and unparsable values become NaN."""
    if kind == "time":
        if not pd.api.types.is_datetime64_any_dtype(s):
            fmt = datetime_format(s, "time")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                s = pd.to_datetime(s.astype(object), errors="coerce", format=fmt or "mixed")
        values = (s - s.dt.normalize()).to_numpy(dtype="timedelta64[ns]")
        out = values.astype("int64").astype(float)
        out[np.isnat(values)] = np.nan
        return out
    if kind == "datetime":
        if not pd.api.types.is_datetime64_any_dtype(s):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                parsed = pd.to_datetime(s, errors="coerce", utc=True, format="ISO8601")
                if parsed.notna().sum() < s.notna().sum() / 2:
                    parsed = pd.to_datetime(s, errors="coerce", utc=True, format="mixed")
            s = parsed
        if getattr(s.dt, "tz", None) is not None:
            s = s.dt.tz_convert("UTC").dt.tz_localize(None)
        values = s.to_numpy(dtype="datetime64[ns]")
        out = values.astype("int64").astype(float)
        out[np.isnat(values)] = np.nan
        return out
    if pd.api.types.is_bool_dtype(s):
        s = s.astype("float64")
    elif not pd.api.types.is_numeric_dtype(s):
        s = pd.to_numeric(s, errors="coerce")
    out = s.to_numpy(dtype="float64", na_value=np.nan)
    out[~np.isfinite(out)] = np.nan
    return out


def _labels(s: pd.Series) -> pd.Series:
    """Non-null values as text labels; integral numbers without '.0', so that real 3 and
    synthetic 3.0 are one category."""
    s = s.dropna()
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s) and len(s):
        values = s.to_numpy(dtype="float64")
        if np.all(np.isfinite(values)) and np.all(values == np.round(values)):
            return pd.Series(values.astype(np.int64), index=s.index).astype(str)
    return s.astype(str)


# ---------------------------------------------------------------------------------------
# SVG plots


def _svg(width: int, height: int, inner: str, label: str) -> str:
    return (
        f'<svg viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-label="{_e(label)}">{inner}</svg>'
    )


def _histogram_svg(edges, real_shares, synthetic_shares, ticks, label) -> str:
    """Real shares as filled bars, synthetic as a step line, per bin."""
    width, height, left, right, top, bottom = 300, 130, 38, 8, 8, 20
    plot_w, plot_h = width - left - right, height - top - bottom
    top_share = max(
        float(np.max(real_shares, initial=0)), float(np.max(synthetic_shares, initial=0))
    )
    peak = top_share * 1.08 or 1.0
    n = len(real_shares)
    bin_w = plot_w / max(n, 1)

    def y(v):
        return top + plot_h - plot_h * v / peak

    parts = [
        (
            f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" '
            f'y2="{top + plot_h}" class="axis"/>'
        ),
        (
            f'<line x1="{left - 2}" y1="{y(top_share):.1f}" x2="{left}" '
            f'y2="{y(top_share):.1f}" class="axis"/>'
        ),
        (
            f'<text x="{left - 3}" y="{y(top_share) + 3:.1f}" class="tick" text-anchor="end">'
            f"{_pct(top_share)}</text>"
        ),
        f'<text x="{left - 3}" y="{top + plot_h}" class="tick" text-anchor="end">0</text>',
    ]
    for i, share in enumerate(real_shares):
        if share > 0:
            parts.append(
                f'<rect x="{left + i * bin_w:.1f}" y="{y(share):.1f}" width="{bin_w:.2f}" '
                f'height="{top + plot_h - y(share):.1f}" fill="{REAL}" fill-opacity="0.55"/>'
            )
    path = [f"M{left:.1f},{y(synthetic_shares[0]) if n else top + plot_h:.1f}"]
    for i, share in enumerate(synthetic_shares):
        path.append(f"H{left + (i + 1) * bin_w:.1f}")
        if i + 1 < n:
            path.append(f"V{y(synthetic_shares[i + 1]):.1f}")
    parts.append(f'<path d="{"".join(path)}" fill="none" stroke="{SYNTHETIC}" stroke-width="1.6"/>')
    for i in range(n):  # tooltips over the whole height of each bin
        parts.append(
            f'<rect x="{left + i * bin_w:.1f}" y="{top}" width="{bin_w:.2f}" height="{plot_h}" '
            f'fill="transparent"><title>{_e(ticks[i][1])}: real {_pct(real_shares[i])}, '
            f"synthetic {_pct(synthetic_shares[i])}</title></rect>"
        )
    for frac, text in (
        (0, ticks[0][0]),
        (0.5, ticks[len(ticks) // 2][0] if n > 1 else ""),
        (1, ticks[-1][2]),
    ):
        anchor = "start" if frac == 0 else "end" if frac == 1 else "middle"
        x = left + frac * plot_w if frac != 0.5 else left + (n // 2) * bin_w
        parts.append(
            f'<text x="{x:.1f}" y="{height - 6}" class="tick" '
            f'text-anchor="{anchor}">{_e(text)}</text>'
        )
    return _svg(width, height, "".join(parts), label)


def _bars_svg(labels, real_shares, synthetic_shares, label, italic=()) -> str:
    """Horizontal paired bars, one pair per category, with both shares written out."""
    row, top = 17, 4
    width, left, right = 300, 112, 70
    plot_w = width - left - right
    height = top + row * len(labels) + 4
    # Bars scale to the largest named category: a large "other" or null share is cut at
    # the edge (a white notch marks the cut) rather than shrinking every other bar.
    named = [
        max(r, s) for name, r, s in zip(labels, real_shares, synthetic_shares) if name not in italic
    ]
    peak = max(named or [max(real_shares + synthetic_shares, default=0)]) or 1.0
    parts = [f'<line x1="{left}" y1="{top}" x2="{left}" y2="{height - 4}" class="axis"/>']
    for i, (name, r, s) in enumerate(zip(labels, real_shares, synthetic_shares)):
        y0 = top + i * row
        cls = "cat it" if name in italic else "cat"
        bars = []
        for share, dy, colour in ((r, 2, REAL), (s, 8, SYNTHETIC)):
            bars.append(
                f'<rect x="{left}" y="{y0 + dy}" width="{plot_w * min(share / peak, 1):.1f}"'
                f' height="6" fill="{colour}"/>'
            )
        if max(r, s) > peak:
            bars.append(
                f'<rect x="{left + plot_w - 10}" y="{y0 + 1}" width="3" height="14" '
                'fill="#fff" transform="skewX(-20)" transform-origin="center"/>'
            )
        parts.append(
            f"<g><title>{_e(name)}: real {_pct(r)}, synthetic {_pct(s)}</title>"
            f'<text x="{left - 4}" y="{y0 + 12}" class="{cls}" text-anchor="end">'
            f"{_e(_cut(name))}</text>{''.join(bars)}"
            f'<text x="{width - 2}" y="{y0 + 12}" class="tick" text-anchor="end">'
            f'<tspan fill="{REAL}">{_pct(r)}</tspan> <tspan fill="{SYNTHETIC}">{_pct(s)}</tspan>'
            "</text></g>"
        )
    return _svg(width, height, "".join(parts), label)


# ---------------------------------------------------------------------------------------
# Columns


def _column_view(index, name, kind, real, synthetic, report) -> dict:
    """One column's card: its plot, figures and shape score."""
    r = real[name] if name in real.columns else pd.Series([], dtype=object)
    s = synthetic[name] if name in synthetic.columns else None
    s_series = s if s is not None else pd.Series([], dtype=object)
    notes, plot, shape = [], "", None
    if name not in real.columns:
        notes.append("only in the synthetic table")
    if s is None:
        notes.append("missing from the synthetic table")
    null_r = float(r.isna().mean()) if len(r) else 0.0
    null_s = float(s_series.isna().mean()) if len(s_series) else 0.0
    label = f"{name}: real and synthetic distributions"
    if name in real.columns and not len(r):
        notes.append("the real table has no rows")
    if len(r) and r.isna().all():
        notes.append(f"all values null in the real table (synthetic: {_pct(null_s)} null)")
    elif kind in ("id", "text"):
        distinct = f"{_distinct(r):,} distinct real values"
        if s is not None:
            distinct += f", {_distinct(s):,} synthetic"
        notes.append(f"{kind} column: not plotted; {distinct}")
        if kind == "text":
            lengths = [_float(x.dropna().astype(str).str.len().mean()) for x in (r, s_series)]
            notes.append(f"mean length: real {_fmt(lengths[0])}, synthetic {_fmt(lengths[1])}")
    elif kind == "constant":
        if r.notna().any():
            value = r.dropna().iloc[0]
            notes.append(f"constant: {_cut(value, 40)} in every non-null real row")
            if len(s_series):
                same = _labels(s_series) == _labels(pd.Series([value])).iloc[0]
                other = 1 - same.sum() / len(s_series) - null_s
                notes.append(f"synthetic rows with another value: {_pct(max(other, 0.0))}")
        else:
            notes.append("constant: no values in the real table")
    elif kind in ("numeric", "datetime", "time"):
        plot, shape, extra = _numeric_plot(name, kind, r, s_series, label)
        notes.extend(extra)
    else:
        plot, shape, extra = _categorical_plot(name, r, s_series, label)
        notes.extend(extra)
    if null_r or null_s:
        notes.insert(0, f"null: real {_pct(null_r)}, synthetic {_pct(null_s)}")
    score = _float(_lookup(report.get("columns") or {}, name))
    return {
        "index": index,
        "name": name,
        "kind": kind,
        "plot": plot,
        "notes": notes,
        "score": score,
        "shape": shape,
    }


def _numeric_plot(name, kind, r, s, label):
    x_r, x_s = _numbers(r, kind), _numbers(s, kind)
    notes = []
    unparsable = int((np.isnan(x_r) & r.notna().to_numpy()).sum())
    if unparsable:
        what = {"datetime": "dates", "time": "times of day"}.get(kind, "numbers")
        notes.append(f"{unparsable:,} real values are not {what}")
    x_r, x_s = x_r[~np.isnan(x_r)], x_s[~np.isnan(x_s)]
    if not len(x_r) and not len(x_s):
        return "", None, notes + ["no values to plot"]
    shape = _ks_complement(x_r, x_s) if len(x_r) and len(x_s) else None
    both = np.concatenate([x_r, x_s])
    distinct = np.unique(both)
    if kind == "numeric" and len(distinct) <= FEW_VALUES:
        values = distinct
        shares = [np.searchsorted(values, x, side="left") for x in (x_r, x_s)]
        counts = [np.bincount(i, minlength=len(values)) / max(len(i), 1) for i in shares]
        names = [_fmt(v if v != round(v) else int(v)) for v in values]
        plot = _bars_svg(names, counts[0].tolist(), counts[1].tolist(), label)
    else:
        # Long tails (capital-gain's rare 99,999) would squeeze the rest into a few bins:
        # the axis then stops at the 0.5 and 99.5 percentiles.
        lo, hi = np.quantile(both, [0.005, 0.995])
        full = float(distinct[-1] - distinct[0])
        if lo == hi or full <= 1.5 * (hi - lo):
            lo, hi = float(distinct[0]), float(distinct[-1])
        clipped = bool(both.min() < lo or both.max() > hi)
        integral = kind == "numeric" and np.all(both == np.round(both))
        if integral:
            lo, hi = math.floor(lo), math.ceil(hi)
        if integral and hi - lo + 1 <= 3 * HIST_BINS:
            step = math.ceil((hi - lo + 1) / HIST_BINS)
            edges = np.arange(lo - 0.5, hi + 0.5 + step, step)
        else:
            edges = np.linspace(lo, hi, HIST_BINS + 1)
        shares = [
            np.histogram(np.clip(x, edges[0], edges[-1]), edges)[0] / max(len(x), 1)
            for x in (x_r, x_s)
        ]
        ticks = _bin_ticks(edges, kind)
        plot = _histogram_svg(edges, shares[0], shares[1], ticks, label)
        if clipped:
            notes.append("axis cut at the 0.5 and 99.5 percentiles; the end bins hold the rest")
    stats = []
    if kind == "numeric":
        for what, fn in (("mean", np.mean), ("std", np.std)):
            pair = [_fmt(float(fn(x))) if len(x) else "—" for x in (x_r, x_s)]
            stats.append(f"{what} {pair[0]} / {pair[1]}")
    day = 3 * 86400e9  # dates written as days
    ranges = [
        (_tick(x.min(), kind, day), _tick(x.max(), kind, day)) if len(x) else ("—", "—")
        for x in (x_r, x_s)
    ]
    stats.append(f"range {ranges[0][0]} … {ranges[0][1]} / {ranges[1][0]} … {ranges[1][1]}")
    notes.append(" · ".join(stats) + " (real / synthetic)")
    return plot, shape, notes


def _tick(value: float, kind: str, span: float) -> str:
    if kind == "time":  # nanoseconds since midnight
        return pd.Timestamp(int(value)).strftime("%H:%M" if span > 120e9 else "%H:%M:%S")
    if kind == "datetime":
        day = 86400e9
        fmt = "%Y-%m" if span > 3 * 365 * day else "%Y-%m-%d" if span > 2 * day else "%m-%d %H:%M"
        return pd.Timestamp(int(value)).strftime(fmt)
    return _short(float(value))


def _bin_ticks(edges, kind):
    span = float(edges[-1] - edges[0])
    names = [_tick(e, kind, span) for e in edges]
    if kind == "numeric" and np.all(np.abs(edges - np.round(edges)) == 0.5):
        names = [_short(math.ceil(e)) for e in edges]  # integer bins: their first value
        return [
            (
                names[i],
                f"{math.ceil(edges[i]):,} to {math.floor(edges[i + 1]):,}",
                _short(math.floor(edges[i + 1])),
            )
            for i in range(len(edges) - 1)
        ]
    return [
        (names[i], f"{names[i]} to {names[i + 1]}", names[i + 1]) for i in range(len(edges) - 1)
    ]


def _ks_complement(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.sort(a), np.sort(b)
    grid = np.concatenate([a, b])
    cdf_a = np.searchsorted(a, grid, side="right") / len(a)
    cdf_b = np.searchsorted(b, grid, side="right") / len(b)
    return float(1 - np.max(np.abs(cdf_a - cdf_b)))


def _categorical_plot(name, r, s, label):
    notes = []
    shares_r = _labels(r).value_counts() / max(len(r), 1)
    shares_s = _labels(s).value_counts() / max(len(s), 1)
    null_r = float(r.isna().mean()) if len(r) else 0.0
    null_s = float(s.isna().mean()) if len(s) else 0.0
    keys = shares_r.index.union(shares_s.index)
    a, b = shares_r.reindex(keys, fill_value=0.0), shares_s.reindex(keys, fill_value=0.0)
    shape = None
    if len(r) and len(s):
        shape = float(1 - 0.5 * (np.abs(a - b).sum() + abs(null_r - null_s)))
    top = list(shares_r.index[:TOP_CATEGORIES])
    if len(shares_r) == TOP_CATEGORIES + 1:  # "other" would hold a single category
        top = list(shares_r.index)
    if not top:
        top = list(shares_s.index[:TOP_CATEGORIES])
    names = [str(k) for k in top]
    real_bars = [float(shares_r.get(k, 0.0)) for k in top]
    syn_bars = [float(shares_s.get(k, 0.0)) for k in top]
    italic = []
    other_r = max(0.0, 1 - null_r - sum(real_bars)) if len(r) else 0.0
    other_s = max(0.0, 1 - null_s - sum(syn_bars)) if len(s) else 0.0
    if other_r > 1e-12 or other_s > 1e-12:
        rest = len(keys) - len(top)
        names.append(f"other ({rest:,} values)")
        real_bars.append(other_r)
        syn_bars.append(other_s)
        italic.append(names[-1])
    if null_r or null_s:
        names.append("(null)")
        real_bars.append(null_r)
        syn_bars.append(null_s)
        italic.append("(null)")
    unseen = shares_s.index.difference(shares_r.index)
    if len(unseen) and len(r):
        notes.append(
            f"{len(unseen):,} synthetic values never seen in the real sample "
            f"({_pct(float(shares_s[unseen].sum()))} of rows)"
        )
    notes.append(f"{len(shares_r):,} distinct real values, {len(shares_s):,} synthetic")
    return _bars_svg(names, real_bars, syn_bars, label, italic=italic), shape, notes


def _columns_section(views, report, n_real, n_synthetic) -> str:
    counts = {}
    for v in views:
        counts[v["kind"]] = counts.get(v["kind"], 0) + 1
    kinds = ", ".join(f"{n} {k}" for k, n in sorted(counts.items(), key=lambda kv: -kv[1]))
    scored = [
        v for v in views if (v["score"] if v["score"] is not None else v["shape"]) is not None
    ]
    worst = sorted(scored, key=lambda v: v["score"] if v["score"] is not None else v["shape"])
    worst_links = ", ".join(
        f'<a href="#c{v["index"]}">{_e(_cut(v["name"], 30))}</a> '
        + (
            f"({_fmt(v['score'])})"
            if v["score"] is not None
            else f"(≈{_fmt(round(v['shape'], 3))})"
        )
        for v in worst[:8]
    )
    cards = []
    for v in views:
        badge = ""
        if v["score"] is not None:
            badge = (
                f'<span class="badge" style="background:{_score_colour(v["score"])}" '
                f'title="column shape score from the report">{_fmt(v["score"])}</span>'
            )
        elif v["shape"] is not None:
            badge = (
                f'<span class="badge light" title="1 − KS or 1 − TVD on this page\'s '
                f'sample (the report has no score)">≈{_fmt(round(v["shape"], 3))}</span>'
            )
        notes = "".join(f"<li>{_e(n)}</li>" for n in v["notes"])
        cards.append(
            f'<div class="card" id="c{v["index"]}"><div class="head">'
            f'<h3 title="{_e(v["name"])}">{_e(v["name"])}</h3>'
            f'<span class="kind">{_e(v["kind"])}</span>{badge}</div>'
            f'{v["plot"]}<ul class="notes">{notes}</ul></div>'
        )
    return (
        '<section id="columns"><h2>Columns</h2>'
        f"<p>{len(views):,} columns ({_e(kinds)}). Plots on {n_real:,} real and "
        f"{n_synthetic:,} synthetic rows. Numbers and dates: the share of non-null values per "
        "bin (real: blue bars; synthetic: orange line), or per value when there are "
        f"{FEW_VALUES} values or fewer. Categories: the share of all rows per category "
        f"(top {TOP_CATEGORIES}, then other and null). Id and text columns are listed, not "
        "plotted. Hover for exact figures.</p>"
        + (f"<p>Lowest scores: {worst_links}</p>" if worst_links else "")
        + f'<div class="grid">{"".join(cards)}</div></section>'
    )


# ---------------------------------------------------------------------------------------
# Pair trends


def _pair_matrices(columns, kinds, real, synthetic):
    """Association matrices (real, synthetic) and the method per pair."""
    n = len(columns)
    numeric = [kinds[c] in ("numeric", "datetime", "time") for c in columns]
    real_x = {c: _numbers(real[c], kinds[c]) for c, k in zip(columns, numeric) if k}
    syn_x = {c: _numbers(synthetic[c], kinds[c]) for c, k in zip(columns, numeric) if k}
    codes_r, codes_s, sizes = [], [], []
    for c, is_num in zip(columns, numeric):
        if is_num:
            finite = real_x[c][~np.isnan(real_x[c])]
            edges = (
                np.unique(np.quantile(finite, np.linspace(0, 1, PAIR_BINS + 1)[1:-1]))
                if len(finite)
                else np.array([])
            )
            # Values equal to an edge get their own bin: a point mass (capital-gain's 92%
            # zeros) collapses the quantiles into one edge, yet still splits from the rest.
            cr, cs = (
                np.where(
                    np.isnan(x),
                    2 * len(edges) + 1,
                    2 * np.searchsorted(edges, x, "left") + np.isin(x, edges),
                )
                for x in (real_x[c], syn_x[c])
            )
            size = 2 * len(edges) + 2
        else:
            lr, ls = _labels(real[c]), _labels(synthetic[c])
            top = lr.value_counts().index[:PAIR_CATEGORIES]
            lookup = pd.Index(top)
            cr, cs = (
                _codes(lab, series, lookup) for lab, series in ((lr, real[c]), (ls, synthetic[c]))
            )
            size = len(top) + 2  # + other + null
        codes_r.append(cr)
        codes_s.append(cs)
        sizes.append(size)
    corr_r = corr_s = None
    num_cols = [c for c, k in zip(columns, numeric) if k]
    if len(num_cols) >= 2:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            corr_r = pd.DataFrame(real_x).corr()
            corr_s = pd.DataFrame(syn_x).corr()
    assoc_r, assoc_s = np.full((n, n), np.nan), np.full((n, n), np.nan)
    method = np.full((n, n), "", dtype=object)
    for i in range(n):
        for j in range(i):
            if numeric[i] and numeric[j]:
                a, b = columns[i], columns[j]
                assoc_r[i, j], assoc_s[i, j] = corr_r.loc[a, b], corr_s.loc[a, b]
                method[i, j] = "Pearson r"
            else:
                assoc_r[i, j] = _cramers_v(codes_r[i], codes_r[j], sizes[i], sizes[j])
                assoc_s[i, j] = _cramers_v(codes_s[i], codes_s[j], sizes[i], sizes[j])
                method[i, j] = "Cramér's V"
    return assoc_r, assoc_s, method


def _codes(labels: pd.Series, series: pd.Series, lookup: pd.Index) -> np.ndarray:
    codes = np.full(len(series), len(lookup) + 1)  # null
    found = lookup.get_indexer(labels.to_numpy())
    codes[series.notna().to_numpy()] = np.where(found < 0, len(lookup), found)
    return codes


def _cramers_v(x: np.ndarray, y: np.ndarray, kx: int, ky: int) -> float:
    """Bias-corrected Cramér's V (Bergsma 2013); NaN when a column holds one value."""
    n = len(x)
    if n < 2:
        return math.nan
    table = np.bincount(x * ky + y, minlength=kx * ky).reshape(kx, ky).astype(float)
    table = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
    r, k = table.shape
    if r < 2 or k < 2:
        return math.nan
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / n
    phi2 = float(((table - expected) ** 2 / expected).sum()) / n
    phi2 = max(0.0, phi2 - (k - 1) * (r - 1) / (n - 1))
    r_c, k_c = r - (r - 1) ** 2 / (n - 1), k - (k - 1) ** 2 / (n - 1)
    denom = min(k_c - 1, r_c - 1)
    return math.sqrt(phi2 / denom) if denom > 0 else math.nan


def _heat_colour(delta: float) -> str:
    if not math.isfinite(delta):
        return "#d9d9d9"
    t = min(max(delta / PAIR_SCALE, 0.0), 1.0)
    stops = ((0.0, (247, 247, 247)), (0.5, (244, 165, 130)), (1.0, (178, 24, 43)))
    for (t0, c0), (t1, c1) in itertools.pairwise(stops):
        if t <= t1:
            f = (t - t0) / (t1 - t0)
            return "#" + "".join(f"{round(a + (b - a) * f):02x}" for a, b in zip(c0, c1))
    return "#b2182b"


def _pairs_section(columns, kinds, real, synthetic, report) -> str:
    eligible = [
        c
        for c in columns
        if kinds[c] in ("numeric", "datetime", "time", "categorical", "boolean")
        and c in real.columns
        and c in synthetic.columns
        and real[c].notna().any()
    ]
    out = ['<section id="pairs"><h2>Column pair trends</h2>']
    note = ""
    if len(eligible) > PAIR_MAX_COLUMNS:
        note = f" The first {PAIR_MAX_COLUMNS} of {len(eligible):,} plotted columns are shown."
        eligible = eligible[:PAIR_MAX_COLUMNS]
    if len(eligible) < 2:
        out.append("<p>Fewer than two columns to compare in pairs.</p>")
    else:
        rows_r, rows_s = _sample(real, PAIR_ROWS), _sample(synthetic, PAIR_ROWS)
        assoc_r, assoc_s, method = _pair_matrices(eligible, kinds, rows_r, rows_s)
        delta = np.abs(assoc_r - assoc_s)
        out.append(
            f"<p>Each cell: |real association − synthetic association| for a column pair, on "
            f"{len(rows_r):,} real and {len(rows_s):,} synthetic rows. Pearson r between two "
            "numeric or date columns; bias-corrected Cramér's V otherwise (numbers cut in "
            f"{PAIR_BINS} quantile bins). White: the same; dark red: off by {PAIR_SCALE} or "
            f"more; grey: undefined (a constant column). Hover a cell for its figures.{note}</p>"
        )
        out.append(_heatmap_svg(eligible, assoc_r, assoc_s, delta, method))
        pairs = [
            (delta[i, j], i, j)
            for i in range(len(eligible))
            for j in range(i)
            if math.isfinite(delta[i, j])
        ]
        pairs.sort(reverse=True)
        if pairs:
            rows = "".join(
                f"<tr><td>{_e(eligible[j])}</td><td>{_e(eligible[i])}</td>"
                f"<td>{_e(method[i, j])}</td><td class=num>{_fmt(assoc_r[i, j])}</td>"
                f"<td class=num>{_fmt(assoc_s[i, j])}</td><td class=num>{_fmt(d)}</td></tr>"
                for d, i, j in pairs[:10]
            )
            out.append(
                "<h3>Largest differences</h3><table><tr><th>column</th><th>column</th>"
                "<th>measure</th><th>real</th><th>synthetic</th><th>|Δ|</th></tr>"
                f"{rows}</table>"
            )
    worst = report.get("pairs_worst")
    if isinstance(worst, list) and worst:
        rows = "".join(
            f"<tr><td>{_e(' × '.join(map(str, p.get('columns', []))))}</td>"
            f"<td>{_e(p.get('metric', ''))}</td><td class=num>{_fmt(p.get('score'))}</td></tr>"
            for p in worst
            if isinstance(p, dict)
        )
        counted = ""
        if report.get("pairs_counted") is not None:
            counted = (
                f" ({_fmt(report.get('pairs_counted'))} of "
                f"{_fmt(report.get('pairs_total'))} pairs scored)"
            )
        out.append(
            f"<h3>Lowest pair scores in the report{_e(counted)}</h3><table><tr>"
            f"<th>columns</th><th>metric</th><th>score</th></tr>{rows}</table>"
        )
    out.append("</section>")
    return "".join(out)


def _heatmap_svg(columns, assoc_r, assoc_s, delta, method) -> str:
    """The lower triangle: rows are columns 2..n, columns 1..n-1."""
    n = len(columns) - 1
    cell = max(5, min(22, 700 // n))
    label_w = 8 + 6 * min(LABEL_CHARS, max(len(str(c)) for c in columns))
    left, top = label_w, 10
    width = left + n * cell + (150 if n < 8 else 10)
    height = top + n * cell + label_w
    font = min(11, max(6, cell - 2))
    parts = [f'<g style="font-size:{font}px">']
    for k in range(n):
        row, col = columns[k + 1], columns[k]
        parts.append(
            f'<text x="{left - 4}" y="{top + k * cell + cell / 2 + font / 3:.1f}" '
            f'text-anchor="end"><title>{_e(row)}</title>{_e(_cut(row))}</text>'
        )
        x, y = left + k * cell + cell / 2 + font / 3, top + n * cell + 4
        parts.append(
            f'<text x="{x:.1f}" y="{y}" text-anchor="end" transform="rotate(-90 '
            f'{x:.1f} {y})"><title>{_e(col)}</title>{_e(_cut(col))}</text>'
        )
    parts.append("</g>")
    for i in range(1, n + 1):
        for j in range(i):
            d = delta[i, j]
            tip = (
                f"{columns[j]} × {columns[i]}: {method[i, j]} real {_fmt(assoc_r[i, j])}, "
                f"synthetic {_fmt(assoc_s[i, j])}, |Δ| {_fmt(d)}"
            )
            parts.append(
                f'<rect x="{left + j * cell}" y="{top + (i - 1) * cell}" width="{cell - 1}" '
                f'height="{cell - 1}" fill="{_heat_colour(d)}"><title>{_e(tip)}</title></rect>'
            )
    lx = left + n * cell - 125 if n >= 8 else left + n * cell + 16
    parts.append(f'<text x="{lx}" y="{top + 10}" class="tick">|Δ| association</text>')
    for k in range(11):
        parts.append(
            f'<rect x="{lx + k * 11}" y="{top + 14}" width="11" height="10" '
            f'fill="{_heat_colour(PAIR_SCALE * k / 10)}"/>'
        )
    parts.append(
        f'<text x="{lx}" y="{top + 36}" class="tick">0</text>'
        f'<text x="{lx + 121}" y="{top + 36}" class="tick" text-anchor="end">'
        f"≥{PAIR_SCALE}</text>"
    )
    svg = _svg(width, height, "".join(parts), "pair trend differences")
    return f'<div class="wide">{svg}</div>'


# ---------------------------------------------------------------------------------------
# Summary and privacy


def _tile(label: str, score, detail: str = "", why: str | None = None) -> str:
    """A score tile; a missing score reads "n/a", with `why` (the report's reason) as its
    detail."""
    value = _float(score)
    if value is None:
        body = '<div class="value na">n/a</div>'
        detail = _e(why) if why else detail
    else:
        width = min(max(value, 0.0), 1.0) * 100
        body = (
            f'<div class="value" style="color:{_score_colour(value)}">{_fmt(value)}</div>'
            f'<div class="meter"><span style="width:{width:.1f}%;'
            f'background:{_score_colour(value)}"></span></div>'
        )
    return (
        f'<div class="tile"><div class="label">{_e(label)}</div>{body}'
        f'<div class="detail">{detail}</div></div>'
    )


def _detection_tile(found) -> str:
    """Lower is better here: 0.5 means a classifier cannot tell the rows from real ones."""
    found = found if isinstance(found, dict) else {}
    auc, floor = _float(found.get("auc")), _float(found.get("holdout_auc"))
    if auc is None:
        why = found.get("not_available") or "the report has no detection figure"
        return ('<div class="tile"><div class="label">Detection AUC</div>'
                f'<div class="value na">n/a</div><div class="detail">{_e(why)}</div></div>')
    colour = PASS if auc <= 0.6 else "#b26a00" if auc <= 0.8 else FAIL
    detail = "0.5: a classifier cannot tell synthetic rows from real ones"
    if floor is not None:
        detail += f"; a real holdout scores {_fmt(floor)}"
    giveaways = found.get("giveaways") or []
    if giveaways:
        detail += "; most telling: " + ", ".join(
            f"{_e(g.get('column'))} (−{_fmt(_float(g.get('auc_drop')))})" for g in giveaways)
    width = min(max((1.0 - auc) / 0.5, 0.0), 1.0) * 100  # full at 0.5, empty at 1.0
    return (f'<div class="tile"><div class="label">Detection AUC</div>'
            f'<div class="value" style="color:{colour}">{_fmt(auc)}</div>'
            f'<div class="meter"><span style="width:{width:.1f}%;background:{colour}"></span>'
            f'</div><div class="detail">{detail}</div></div>')


def _summary_section(report) -> str:
    why = report.get("not_available") if isinstance(report.get("not_available"), dict) else {}
    pairs = (report.get("subsampled") or {}).get("column_pairs")
    pair_detail = "correlation and contingency similarity" + (
        f"; {_fmt(pairs.get('pairs_scored'))} of {_fmt(pairs.get('pairs_of'))} pairs "
        f"({_fmt(pairs.get('columns_used'))} of {_fmt(pairs.get('columns_of'))} columns, "
        "drawn at random)" if isinstance(pairs, dict) else ""
    )
    tiles = [
        _tile("Quality", report.get("quality"), "mean of shapes and pair trends",
              why.get("quality")),
        _tile("Column shapes", report.get("column_shapes"), "1 − KS / 1 − TVD per column",
              why.get("column_shapes")),
        _tile("Column pair trends", report.get("column_pair_trends"), _e(pair_detail),
              why.get("column_pair_trends")),
    ]  # fmt: skip
    tiles.append(_detection_tile(report.get("detection")))
    ml = report.get("ml_efficacy")
    if isinstance(ml, dict):
        score = next((ml[k] for k in ("score", "ratio", "synthetic", "value") if k in ml), None)
        detail = "; ".join(
            f"{_e(k)} {_e(_fmt(v))}" for k, v in ml.items() if not isinstance(v, (dict, list))
        )
        tiles.append(_tile("ML efficacy", score, detail))
    elif ml is not None:
        tiles.append(_tile("ML efficacy", ml, "train on synthetic, test on real"))
    gate = report.get("privacy_gate")
    if isinstance(gate, dict) and "passed" in gate:
        failures = gate.get("failures") or []
        ok = bool(gate.get("passed"))
        verdict = "PASSED" if ok else "FAILED"
        tiles.append(
            f'<div class="tile"><div class="label">Privacy gate</div>'
            f'<div class="value" style="color:{PASS if ok else FAIL}">{verdict}</div>'
            f'<div class="detail">{len(failures)} figure{"s" * (len(failures) != 1)} past '
            'its threshold · <a href="#privacy">details</a></div></div>'
        )
    else:
        tiles.append(
            '<div class="tile"><div class="label">Privacy gate</div>'
            '<div class="value na">not run</div><div class="detail">'
            "the report has no privacy_gate</div></div>"
        )
    return (
        f'<section id="summary"><h2>Summary</h2><div class="tiles">{"".join(tiles)}</div></section>'
    )


def _privacy_section(report) -> str:
    privacy = report.get("privacy_report") if isinstance(report.get("privacy_report"), dict) else {}
    gate = report.get("privacy_gate") if isinstance(report.get("privacy_gate"), dict) else None
    legacy = report.get("privacy") if isinstance(report.get("privacy"), dict) else None
    out = ['<section id="privacy"><h2>Privacy</h2>']
    if not privacy and not gate and not legacy:
        out.append(
            "<p>No privacy figures in this report (no rows were held back to score "
            "privacy, or the run predates privacy scoring).</p></section>"
        )
        return "".join(out)
    if gate is not None:
        ok = bool(gate.get("passed"))
        out.append(
            f'<p class="verdict" style="border-color:{PASS if ok else FAIL}">'
            f'Privacy gate: <b style="color:{PASS if ok else FAIL}">'
            f"{'PASSED' if ok else 'FAILED'}</b></p>"
        )
    thresholds = (gate or {}).get("thresholds") or {}
    failures = {f.get("name"): f for f in (gate or {}).get("failures") or [] if isinstance(f, dict)}
    if privacy or failures:
        rows, seen = [], set()
        for figure in gate_figures(privacy):
            name, value, key, rule = figure.name, figure.value, figure.threshold, figure.rule
            seen.add(name)
            if figure.skipped:
                rows.append(
                    f"<tr><td>{_e(name)}</td><td class=num>—</td><td class=num>—</td><td>—</td>"
                    f'<td class="muted">skipped: {_e(figure.skipped)}</td><td></td></tr>'
                )
                continue
            failure = failures.get(name)
            threshold = _float(thresholds.get(key))
            if failure is not None and threshold is None:
                threshold = _float(failure.get("threshold"))
            if failure is not None:  # the gate's own reading of the figure
                status, by = False, failure.get("by")
                value = failure.get("value", value)
            elif gate is None or threshold is None:
                status, by = None, None
            else:  # passed: within its threshold, or past it by no more than noise
                v = _float(value)
                within = v is not None and (v >= threshold if rule == ">=" else v <= threshold)
                status, by = (True if within else "noise"), None
            rows.append(_gate_row(name, value, figure.p_value, rule, threshold, status, by,
                                  value is None))  # fmt: skip
        for name, failure in failures.items():  # figures this page does not know
            if name not in seen:
                rows.append(
                    _gate_row(
                        name,
                        failure.get("value"),
                        failure.get("p_value"),
                        failure.get("rule", ""),
                        _float(failure.get("threshold")),
                        False,
                        failure.get("by"),
                        failure.get("value") is None,
                    )
                )
        caption = "" if gate else " (no privacy gate in the report: figures are not judged)"
        out.append(
            f"<h3>Gated figures{_e(caption)}</h3><p>Each figure the privacy gate judges; "
            "the gate passes when every one does. A figure fails when it is past its threshold "
            "and its p-value (the chance that rows leaking nothing score at least this) is "
            "below the gate's false-alarm rate over the number of figures. The evidence "
            "behind them is below.</p>"
            "<table><tr><th>figure</th><th>value</th><th>p-value</th>"
            "<th>threshold</th><th>verdict</th><th>past it by</th></tr>"
            f"{''.join(rows)}</table>"
        )
    if thresholds:
        out.append(_fold("Gate thresholds", _kv_table(thresholds)))
    if privacy:
        out.append(_privacy_details(privacy))
    elif gate is not None:
        out.append(
            "<p>The report has no privacy_report section: the figures behind the "
            "gate are not shown.</p>"
        )
    if legacy:
        out.append(
            _fold(
                "Distance to closest record and exact copies (flow scores)",
                "<p>Not gated. dcr_ratio: median distance of synthetic rows to the "
                "training rows over that of unseen holdout rows (about 1 or more: "
                "synthetic rows sit no closer to training rows than new real rows do).</p>"
                + _kv_table(legacy),
            )
        )
    out.append("</section>")
    return "".join(out)


def _gate_row(name, value, p_value, rule, threshold, status, by, missing) -> str:
    if status is None:
        verdict = '<span class="muted">not judged</span>'
    elif status == "noise":
        verdict = f'<b style="color:{PASS}">pass</b> (past it by no more than noise)'
    elif status:
        verdict = f'<b style="color:{PASS}">pass</b>'
    else:
        verdict = f'<b style="color:{FAIL}">FAIL</b>' + (" (not measured)" if missing else "")
    symbol = {">=": "≥", "<=": "≤"}.get(rule, rule)
    limit = "—" if threshold is None else f"{_e(symbol)} {_fmt(threshold)}"
    return (
        f"<tr><td>{_e(name)}</td><td class=num>{_fmt(value)}</td>"
        f"<td class=num>{'—' if p_value is None else f'{p_value:.2g}'}</td><td>{limit}</td>"
        f"<td>{verdict}</td><td class=num>{_fmt(by) if by is not None else ''}</td></tr>"
    )


def _privacy_details(privacy: dict) -> str:
    out = []
    sdm = privacy.get("sdmetrics")
    if isinstance(sdm, dict):
        rows = []
        for key, label in (
            ("dcr_baseline_protection", "DCRBaselineProtection"),
            ("dcr_overfitting_protection", "DCROverfittingProtection"),
            ("new_row_synthesis", "NewRowSynthesis"),
        ):
            entry = sdm.get(key)
            if isinstance(entry, dict):
                rows.append((label, entry.get("score"), _details(entry, {"score"})))
        for secret, entry in (sdm.get("disclosure_protection") or {}).items():
            if isinstance(entry, dict):
                rows.append(
                    (
                        f"DisclosureProtectionEstimate [{secret}]",
                        entry.get("score"),
                        _details(entry, {"score"}),
                    )
                )
        table = "".join(
            f"<tr><td>{_e(a)}</td><td class=num>{_fmt(b)}</td><td>{c}</td></tr>" for a, b, c in rows
        )
        out.append(
            _fold(
                "SDMetrics privacy metrics",
                f"<table><tr><th>metric</th><th>score</th><th>details</th></tr>{table}</table>",
            )
        )
    closer = privacy.get("closer_to_training")
    if isinstance(closer, dict):
        out.append(_fold(
            "Nearest real row",
            "<p>share: how often a synthetic row's nearest real row (of the training and "
            "holdout rows together) is a training row; expected: the share for rows the model "
            "never learned from. protection: 1 when the share is no higher than expected.</p>"
            + _kv_table(closer),
        ))  # fmt: skip
    copies = privacy.get("exact_copies")
    if isinstance(copies, dict):
        out.append(_fold(
            "Exact copies of training rows",
            "<p>Against the control: holdout rows equal to a training row, and training rows "
            "equal to another training row.</p>" + _kv_table(copies),
        ))  # fmt: skip
    attacks = privacy.get("attacks")
    if isinstance(attacks, dict):
        rows = []
        for name, a in attack_results(attacks):
            note = "; ".join(str(a[k]) for k in ("skipped", "note", "warning") if a.get(k))
            rows.append(
                f"<tr><td>{_e(name)}</td><td class=num>{_fmt(a.get('risk'))}</td>"
                f"<td class=num>{_ci(a.get('ci'))}</td>"
                f"<td class=num>{_fmt(a.get('attack_rate'))}</td>"
                f"<td class=num>{_fmt(a.get('control_rate'))}</td>"
                f"<td class=num>{_fmt(a.get('baseline_rate'))}</td>"
                f"<td class=num>{_fmt(a.get('attacks'))}</td><td>{_e(note)}</td></tr>"
            )
        out.append(
            _fold(
                "Attacks (after Anonymeter)",
                "<p>risk = (attack − control) / (1 − control): "
                "how much better the attack does on training rows than on unseen holdout rows, "
                "with its 95% interval.</p><table><tr><th>attack</th><th>risk</th><th>95% CI</th>"
                "<th>attack rate</th><th>control rate</th><th>baseline rate</th><th>attacks</th>"
                f"<th>note</th></tr>{''.join(rows)}</table>",
            )
        )
    membership = privacy.get("membership_inference")
    if isinstance(membership, dict):
        out.append(
            _fold(
                "Membership inference",
                "<p>ROC AUC of telling training rows from "
                "holdout rows by their distance to the closest synthetic row; 0.5 "
                "is chance.</p>" + _kv_table(membership),
            )
        )
    rest = {
        k: v
        for k, v in privacy.items()
        if k not in ("sdmetrics", "closer_to_training", "exact_copies", "attacks",
                     "membership_inference")
    }
    if rest:
        out.append(_fold("Privacy report settings", _kv_table(rest)))
    return "".join(out)


def _fold(title: str, body: str) -> str:
    """A section people open on demand (native HTML, no script)."""
    return f"<details><summary>{_e(title)}</summary>{body}</details>"


def _ci(ci) -> str:
    if isinstance(ci, (list, tuple)) and len(ci) == 2:
        return f"{_fmt(ci[0])} – {_fmt(ci[1])}"
    return _fmt(ci)


def _details(entry: dict, skip: set) -> str:
    return _e(
        "; ".join(
            f"{k} {_fmt(v) if not isinstance(v, dict) else _inline(v)}"
            for k, v in entry.items()
            if k not in skip
        )
    )


def _inline(d: dict) -> str:
    return ", ".join(f"{k} {_fmt(v)}" for k, v in d.items())


# ---------------------------------------------------------------------------------------
# Provenance


def _kv_table(d, depth: int = 0) -> str:
    if not isinstance(d, dict) or not d:
        return '<p class="muted">—</p>'
    rows = []
    for key, value in d.items():
        if isinstance(value, dict) and depth < 2 and value:
            cell = _kv_table(value, depth + 1)
        elif isinstance(value, (dict, list)) and not (
            isinstance(value, list) and all(not isinstance(v, (dict, list)) for v in value)
        ):
            text = json.dumps(value, indent=1, default=str)
            cell = f"<pre>{_e(text[:4000] + ('…' if len(text) > 4000 else ''))}</pre>"
        else:
            cell = _e(_fmt(value))
        rows.append(f"<tr><th>{_e(key)}</th><td>{cell}</td></tr>")
    return f'<table class="kv">{"".join(rows)}</table>'


def _timings_table(timings: dict) -> str:
    numbers = {k: _float(v) for k, v in timings.items()}
    total = numbers.get("total") or max((v for v in numbers.values() if v), default=0) or 1.0
    rows = []
    for key, value in numbers.items():
        bar = ""
        if value is not None and key != "total":
            bar = f'<span class="tbar" style="width:{min(value / total, 1) * 200:.0f}px"></span>'
        rows.append(f"<tr><th>{_e(key)}</th><td class=num>{_fmt(value)} s</td><td>{bar}</td></tr>")
    return f'<table class="kv">{"".join(rows)}</table>'


def _rules_section(report) -> str:
    rules = report.get("rules")
    if not isinstance(rules, list) or not rules:
        return ""
    rows = "".join(
        f"<tr><td>{_e(r.get('rule'))}</td><td>{_e(r.get('kind'))}</td>"
        f"<td class=num>{_fmt(r.get('support'))}</td>"
        f"<td class=num>{_pct(r.get('real_violation_rate'))}</td>"
        f"<td class=num>{_pct(r.get('synthetic_violation_rate'))}</td></tr>"
        for r in rules if isinstance(r, dict))
    return ('<section id="rules"><h2>Rules</h2><p class="muted">Rules every training row '
            "keeps, found at fit time; sampling makes every synthetic row keep them too.</p>"
            "<table><tr><th>rule</th><th>kind</th><th>rows seen</th><th>real rows breaking it"
            f"</th><th>synthetic rows breaking it</th></tr>{rows}</table></section>")


def _pct(value) -> str:
    value = _float(value)
    return "n/a" if value is None else f"{value:.2%}"


def _provenance_section(report) -> str:
    out = ['<section id="provenance"><h2>Provenance</h2>']
    inp = report.get("input") if isinstance(report.get("input"), dict) else {}
    schema = report.get("schema") if isinstance(report.get("schema"), dict) else {}
    run = {
        "input file": inp.get("path"),
        "input sha256": inp.get("sha256"),
        "input rows": inp.get("rows"),
        "schema": schema.get("path"),
        "schema inferred": schema.get("inferred"),
        "seed": report.get("seed"),
        "synthetic rows": report.get("rows"),
        "output": report.get("output"),
        "format": report.get("format"),
        "files": report.get("files"),
        "holdout fraction": report.get("holdout_fraction"),
        "training rows": report.get("train_rows"),
        "holdout rows": report.get("holdout_rows"),
        "conditions": report.get("conditions") or None,
        "rows matching conditions": report.get("rows_matching_conditions"),
        "rows scored": report.get("rows_scored"),
    }
    run = {k: v for k, v in run.items() if v is not None}
    extra = {k: v for k, v in inp.items() if k not in ("path", "sha256", "rows")}
    if extra:
        run["input (more)"] = extra
    out.append(
        "<h3>Run</h3>" + (_kv_table(run) if run else '<p class="muted">not in the report</p>')
    )
    fit = report.get("fit") if isinstance(report.get("fit"), dict) else None
    if fit:
        fit = {k: v for k, v in fit.items() if k != "column_kinds"}
        out.append("<h3>Training</h3>" + _kv_table(fit))
    model = {k: report[k] for k in MODEL_KEYS if k in report}
    source = "the report"
    if not model:
        model, source = _saved_model_params(report)
    if model:
        out.append(
            f'<h3>Model parameters</h3><p class="muted">from {_e(source)}</p>' + _kv_table(model)
        )
    else:
        out.append('<h3>Model parameters</h3><p class="muted">not in the report</p>')
    timings = report.get("timings")
    out.append(
        "<h3>Timings</h3>"
        + (
            _timings_table(timings)
            if isinstance(timings, dict) and timings
            else '<p class="muted">not in the report</p>'
        )
    )
    versions = report.get("versions")
    out.append(
        "<h3>Package versions</h3>"
        + (
            _kv_table(versions)
            if isinstance(versions, dict) and versions
            else '<p class="muted">not in the report</p>'
        )
    )
    other = {k: v for k, v in report.items() if k not in SHOWN_KEYS}
    if other:
        out.append("<h3>Other report fields</h3>" + _kv_table(other))
    out.append("</section>")
    return "".join(out)


def _saved_model_params(report) -> tuple[dict, str]:
    """The saved model's parameters when the report names its directory and
    synthesizer.json is there: params (less the column kinds, shown per column),
    model_config and train_config."""
    files = report.get("files") if isinstance(report.get("files"), dict) else {}
    if not report.get("output") or not files.get("model"):
        return {}, ""
    path = Path(str(report["output"])) / str(files["model"]) / "synthesizer.json"
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}, ""
    if not isinstance(saved, dict):
        return {}, ""
    model = {
        k: saved[k]
        for k in ("params", "model_config", "train_config")
        if isinstance(saved.get(k), dict)
    }
    if "params" in model:
        model["params"] = {k: v for k, v in model["params"].items() if k != "column_kinds"}
    return model, str(path)


def _header(title, report, n_real, n_synthetic) -> str:
    inp = report.get("input") if isinstance(report.get("input"), dict) else {}
    source = f" from {_e(inp['path'])}" if inp.get("path") else ""
    return (
        f"<header><h1>{_e(title)}</h1><p>{n_synthetic:,} synthetic rows against {n_real:,} "
        f"real rows{source}. "
        f'<span class="key"><i style="background:{REAL}"></i>real</span> '
        f'<span class="key"><i style="background:{SYNTHETIC}"></i>synthetic</span></p>'
        '<nav><a href="#summary">Summary</a><a href="#privacy">Privacy</a>'
        '<a href="#columns">Columns</a><a href="#pairs">Pair trends</a>'
        '<a href="#provenance">Provenance</a></nav></header>'
    )


CSS = """
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;
 margin:0;color:#1f2328;background:#f6f8fa}
header{background:#fff;border-bottom:1px solid #d0d7de;padding:12px 24px;
 position:sticky;top:0;z-index:2}
h1{font-size:20px;margin:0 0 4px}
h2{font-size:18px;margin:0 0 10px;border-bottom:1px solid #d0d7de;padding-bottom:4px}
h3{font-size:14px;margin:16px 0 6px}
header p{margin:0 0 6px;color:#57606a}
nav a{margin-right:16px;color:#0969da;text-decoration:none}
section{background:#fff;margin:16px 24px;padding:16px 20px;border:1px solid #d0d7de;
 border-radius:6px}
a{color:#0969da}
.key{margin-left:10px;white-space:nowrap}
.key i{display:inline-block;width:10px;height:10px;margin-right:4px}
.tiles{display:grid;grid-template-columns:repeat(auto-fill,minmax(200px,1fr));gap:12px}
.tile{border:1px solid #d0d7de;border-radius:6px;padding:10px 12px}
.tile .label{color:#57606a;font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.tile .value{font-size:28px;font-weight:600}.na{color:#8c959f}
.tile .detail{color:#57606a;font-size:12px}
.meter{height:6px;background:#eaeef2;border-radius:3px;overflow:hidden;margin:2px 0 4px}
.meter span{display:block;height:100%}
.verdict{border-left:4px solid;padding:4px 10px;font-size:16px;background:#f6f8fa}
table{border-collapse:collapse;font-size:13px;margin:4px 0}
th,td{border-bottom:1px solid #eaeef2;padding:3px 8px;text-align:left;vertical-align:top}
table.kv th{color:#57606a;font-weight:500;white-space:nowrap}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td{overflow-wrap:anywhere}
pre{margin:0;font-size:12px;max-height:240px;overflow:auto;white-space:pre-wrap}
.muted{color:#8c959f}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(310px,1fr));gap:10px}
.card{border:1px solid #d0d7de;border-radius:6px;padding:8px;min-width:0}
.card .head{display:flex;align-items:center;gap:6px;margin-bottom:4px}
.card h3{margin:0;font-size:13px;overflow:hidden;text-overflow:ellipsis;white-space:nowrap;flex:1}
.kind{font-size:11px;color:#57606a;background:#eaeef2;border-radius:8px;padding:0 6px}
.badge{font-size:11px;color:#fff;border-radius:8px;padding:0 6px}
.badge.light{background:#eaeef2;color:#1f2328}
.card svg{width:100%;height:auto;display:block}
.notes{margin:4px 0 0;padding-left:16px;font-size:12px;color:#57606a}
svg text{font-family:inherit;fill:#1f2328}
svg .tick{font-size:9px;fill:#57606a}svg .cat{font-size:10px}svg .it{font-style:italic}
svg .axis{stroke:#8c959f;stroke-width:1}
.wide{overflow-x:auto}
section,.card{scroll-margin-top:96px}
details{margin:6px 0}summary{cursor:pointer;font-weight:600;font-size:14px}
details[open] summary{margin-bottom:4px}
.tbar{display:inline-block;height:8px;background:#8c959f}
@media print{header{position:static}section{break-inside:avoid}}
"""
