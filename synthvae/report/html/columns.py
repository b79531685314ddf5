"""The Columns section: one card per column, real against synthetic. Numbers and dates get
a histogram (or a bar per value when there are few), categories and booleans their shares;
id and text columns are listed, not plotted, since their values identify people."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .svg import bars_svg, histogram_svg
from .text import cut, esc, fmt, pct, score_colour, short, to_float
from .values import count_distinct, labels, lookup, numbers

TOP_CATEGORIES = 15  # bars per categorical plot, before "other" and "(null)"
HIST_BINS = 30
FEW_VALUES = 20  # a numeric column with this many distinct values or fewer: a bar per value


def column_view(index, name, kind, real, synthetic, report) -> dict:
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
        notes.append(f"all values null in the real table (synthetic: {pct(null_s)} null)")
    elif kind in ("id", "text"):
        distinct = f"{count_distinct(r):,} distinct real values"
        if s is not None:
            distinct += f", {count_distinct(s):,} synthetic"
        notes.append(f"{kind} column: not plotted; {distinct}")
        if kind == "text":
            lengths = [to_float(x.dropna().astype(str).str.len().mean()) for x in (r, s_series)]
            notes.append(f"mean length: real {fmt(lengths[0])}, synthetic {fmt(lengths[1])}")
    elif kind == "constant":
        if r.notna().any():
            value = r.dropna().iloc[0]
            notes.append(f"constant: {cut(value, 40)} in every non-null real row")
            if len(s_series):
                same = labels(s_series) == labels(pd.Series([value])).iloc[0]
                other = 1 - same.sum() / len(s_series) - null_s
                notes.append(f"synthetic rows with another value: {pct(max(other, 0.0))}")
        else:
            notes.append("constant: no values in the real table")
    elif kind in ("numeric", "datetime", "time"):
        plot, shape, extra = _numeric_plot(name, kind, r, s_series, label)
        notes.extend(extra)
    else:
        plot, shape, extra = _categorical_plot(name, r, s_series, label)
        notes.extend(extra)
    if null_r or null_s:
        notes.insert(0, f"null: real {pct(null_r)}, synthetic {pct(null_s)}")
    score = to_float(lookup(report.get("columns") or {}, name))
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
    x_r, x_s = numbers(r, kind), numbers(s, kind)
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
        names = [fmt(v if v != round(v) else int(v)) for v in values]
        plot = bars_svg(names, counts[0].tolist(), counts[1].tolist(), label)
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
        plot = histogram_svg(edges, shares[0], shares[1], ticks, label)
        if clipped:
            notes.append("axis cut at the 0.5 and 99.5 percentiles; the end bins hold the rest")
    stats = []
    if kind == "numeric":
        for what, fn in (("mean", np.mean), ("std", np.std)):
            pair = [fmt(float(fn(x))) if len(x) else "—" for x in (x_r, x_s)]
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
    return short(float(value))


def _bin_ticks(edges, kind):
    span = float(edges[-1] - edges[0])
    names = [_tick(e, kind, span) for e in edges]
    if kind == "numeric" and np.all(np.abs(edges - np.round(edges)) == 0.5):
        names = [short(math.ceil(e)) for e in edges]  # integer bins: their first value
        return [
            (
                names[i],
                f"{math.ceil(edges[i]):,} to {math.floor(edges[i + 1]):,}",
                short(math.floor(edges[i + 1])),
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
    shares_r = labels(r).value_counts() / max(len(r), 1)
    shares_s = labels(s).value_counts() / max(len(s), 1)
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
            f"({pct(float(shares_s[unseen].sum()))} of rows)"
        )
    notes.append(f"{len(shares_r):,} distinct real values, {len(shares_s):,} synthetic")
    return bars_svg(names, real_bars, syn_bars, label, italic=italic), shape, notes


def columns_section(views, report, n_real, n_synthetic) -> str:
    counts = {}
    for v in views:
        counts[v["kind"]] = counts.get(v["kind"], 0) + 1
    kinds = ", ".join(f"{n} {k}" for k, n in sorted(counts.items(), key=lambda kv: -kv[1]))
    scored = [
        v for v in views if (v["score"] if v["score"] is not None else v["shape"]) is not None
    ]
    worst = sorted(scored, key=lambda v: v["score"] if v["score"] is not None else v["shape"])
    worst_links = ", ".join(
        f'<a href="#c{v["index"]}">{esc(cut(v["name"], 30))}</a> '
        + (
            f"({fmt(v['score'])})"
            if v["score"] is not None
            else f"(≈{fmt(round(v['shape'], 3))})"
        )
        for v in worst[:8]
    )
    cards = []
    for v in views:
        badge = ""
        if v["score"] is not None:
            badge = (
                f'<span class="badge" style="background:{score_colour(v["score"])}" '
                f'title="column shape score from the report">{fmt(v["score"])}</span>'
            )
        elif v["shape"] is not None:
            badge = (
                f'<span class="badge light" title="1 − KS or 1 − TVD on this page\'s '
                f'sample (the report has no score)">≈{fmt(round(v["shape"], 3))}</span>'
            )
        notes = "".join(f"<li>{esc(n)}</li>" for n in v["notes"])
        cards.append(
            f'<div class="card" id="c{v["index"]}"><div class="head">'
            f'<h3 title="{esc(v["name"])}">{esc(v["name"])}</h3>'
            f'<span class="kind">{esc(v["kind"])}</span>{badge}</div>'
            f'{v["plot"]}<ul class="notes">{notes}</ul></div>'
        )
    return (
        '<section id="columns"><h2>Columns</h2>'
        f"<p>{len(views):,} columns ({esc(kinds)}). Plots on {n_real:,} real and "
        f"{n_synthetic:,} synthetic rows. Numbers and dates: the share of non-null values per "
        "bin (real: blue bars; synthetic: orange line), or per value when there are "
        f"{FEW_VALUES} values or fewer. Categories: the share of all rows per category "
        f"(top {TOP_CATEGORIES}, then other and null). Id and text columns are listed, not "
        "plotted. Hover for exact figures.</p>"
        + (f"<p>Lowest scores: {worst_links}</p>" if worst_links else "")
        + f'<div class="grid">{"".join(cards)}</div></section>'
    )
