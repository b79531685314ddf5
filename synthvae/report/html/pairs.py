"""The Column pair trends section: every pair of plotted columns scored as report.json's
column_pair_trends scores it (synthvae.evaluation.pairs), drawn as a heat map, with the
lowest scores listed. A score the report holds is shown as the report has it, so the page
and report.json never give one pair two scores."""

from __future__ import annotations

import math

import numpy as np

from synthvae.evaluation.fidelity import MAX_DISCRETE_NUMERIC, sdmetrics_metadata
from synthvae.evaluation.pairs import (
    ASSOCIATION_THRESHOLD,
    CONTINGENCY,
    CORRELATION,
    CORRELATION_THRESHOLD,
    pair_trends,
)

from .svg import heatmap_svg
from .text import esc, fmt
from .values import sample

PAIR_ROWS = 5000  # rows of each table the page scores pairs on, unless the report says
MAX_PAIR_ROWS = 50_000  # fidelity.quality's default
PAIR_MAX_COLUMNS = 100  # columns in the heat map
PAIR_SCALE = 0.2  # 1 − score at which the heat map's colour saturates
MEASURE = {CORRELATION: "Pearson r", CONTINGENCY: "Cramér's V"}
PLOTTED = ("numeric", "datetime", "time", "categorical", "boolean")


def pairs_section(columns, kinds, real, synthetic, report) -> str:
    eligible = [
        c
        for c in columns
        if kinds[c] in PLOTTED
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
        rows_r, rows_s = _rows(real[eligible], synthetic[eligible], report)
        metadata = sdmetrics_metadata(real[eligible], {c: kinds[c] for c in eligible})
        pairs = _pairs(eligible, pair_trends(rows_r, rows_s, metadata), report)
        out.append(_caption(len(rows_r), len(rows_s), note))
        out.append(_heatmap(eligible, pairs))
        out.append(_lowest(pairs))
    out.append(_report_worst(report))
    out.append("</section>")
    return "".join(out)


def _rows(real, synthetic, report):
    """The rows to score pairs on: as many as the report's quality score read, drawn as
    `fidelity.quality` draws them (with the run's seed), so that given the tables the run
    scored, the page's scores are the report's own; PAIR_ROWS of each when the report does
    not say."""
    scored = report.get("rows_scored") if isinstance(report.get("rows_scored"), dict) else {}
    seed = report.get("seed")
    seed = seed if isinstance(seed, int) and not isinstance(seed, bool) and seed >= 0 else 0
    out = []
    for frame, key in ((real, "quality_real"), (synthetic, "quality_synthetic")):
        n = scored.get(key)
        if isinstance(n, int) and not isinstance(n, bool) and n > 0:
            n = min(n, MAX_PAIR_ROWS)
            out.append(frame if len(frame) <= n else frame.sample(n, random_state=seed))
        else:
            out.append(sample(frame, PAIR_ROWS))
    return out


def _pairs(columns, trends, report) -> list[dict]:
    """The scored pairs, each with the report's score in place of the page's where the
    report has one."""
    worst = report.get("pairs_worst") if isinstance(report.get("pairs_worst"), list) else []
    reported = {}
    for p in worst:
        if isinstance(p, dict) and isinstance(p.get("columns"), list):
            reported[frozenset(map(str, p["columns"]))] = p.get("score")
    at = {c: k for k, c in enumerate(columns)}
    pairs = []
    for t in trends.itertuples(index=False):
        key = frozenset((str(t.column_1), str(t.column_2)))
        in_report = key in reported and reported[key] is not None
        pairs.append({
            "i": at[t.column_2], "j": at[t.column_1], "a": t.column_1, "b": t.column_2,
            "metric": t.metric, "real": t.real, "synthetic": t.synthetic,
            "score": float(reported[key]) if in_report else t.score,
            "from_report": in_report,
            "counted": bool(t.counted or in_report),  # the report scores counted pairs only
        })  # fmt: skip
    return pairs


def _score_text(p) -> str:
    return fmt(p["score"]) if p["from_report"] else f"≈{fmt(p['score'])}"


def _caption(n_real, n_synthetic, note) -> str:
    return (
        "<p>Each cell: a column pair's trend score as report.json's column_pair_trends "
        "scores it (SDMetrics). Two numeric or date columns: CorrelationSimilarity, "
        "1 − |real r − synthetic r| / 2 with Pearson r. Other pairs: ContingencySimilarity, "
        "1 − the total variation distance between the real and the synthetic joint "
        "distribution, numbers and dates cut in 10 equal-width bins; numbers with "
        f"{MAX_DISCRETE_NUMERIC} values or fewer count as categories. Colour: 1 − score; "
        f"white: the same, dark red: {PAIR_SCALE} or more below 1, grey: undefined (a "
        "constant column). Full squares: the pairs column_pair_trends averages (real |r| "
        f"above {CORRELATION_THRESHOLD}, or real Cramér's V above {ASSOCIATION_THRESHOLD}); "
        "small squares: pairs it leaves out. Scores report.json lists are shown as it has "
        f"them; the others (≈) are computed here on {n_real:,} real and {n_synthetic:,} "
        "synthetic rows, drawn as the report's quality score draws them. Hover a cell for "
        f"its figures.{note}</p>"
    )


def _heatmap(columns, pairs) -> str:
    n = len(columns)
    value = np.full((n, n), np.nan)
    full = np.ones((n, n), dtype=bool)
    tips = [[""] * n for _ in range(n)]
    for p in pairs:
        i, j = p["i"], p["j"]
        value[i, j] = 1 - p["score"]
        full[i, j] = p["counted"]
        source = "from report.json" if p["from_report"] else "on this page's sample"
        counted = "averaged in" if p["counted"] else "left out of"
        tips[i][j] = (
            f"{p['a']} × {p['b']}: {p['metric']} {fmt(p['score'])} ({source}); "
            f"{MEASURE[p['metric']]} real {fmt(p['real'])}, synthetic {fmt(p['synthetic'])}; "
            f"{counted} column_pair_trends"
        )
    return heatmap_svg(columns, value, full, tips, PAIR_SCALE, "1 − pair score",
                       "column pair trend scores")  # fmt: skip


def _lowest(pairs) -> str:
    # Only the pairs column_pair_trends averages, as report.json's pairs_worst: the others
    # are weakly associated, and their contingency scores mostly sampling noise.
    ranked = sorted(
        (p for p in pairs if p["counted"] and math.isfinite(p["score"])), key=lambda p: p["score"]
    )
    if not ranked:
        return ""
    rows = "".join(
        f"<tr><td>{esc(p['a'])}</td><td>{esc(p['b'])}</td><td>{esc(p['metric'])}</td>"
        f"<td>{esc(MEASURE[p['metric']])}</td><td class=num>{fmt(p['real'])}</td>"
        f"<td class=num>{fmt(p['synthetic'])}</td><td class=num>{_score_text(p)}</td></tr>"
        for p in ranked[:10]
    )
    return (
        "<h3>Lowest scores of the pairs column_pair_trends averages</h3><p>real and "
        "synthetic: the measure on this page's sample; score: report.json's, or (≈) computed "
        "on this page's sample where the report does not list the pair.</p>"
        "<table><tr><th>column</th><th>column</th><th>metric</th><th>measure</th>"
        f"<th>real</th><th>synthetic</th><th>score</th></tr>{rows}</table>"
    )


def _report_worst(report) -> str:
    worst = report.get("pairs_worst")
    if not isinstance(worst, list) or not worst:
        return ""
    rows = "".join(
        f"<tr><td>{esc(' × '.join(map(str, p.get('columns', []))))}</td>"
        f"<td>{esc(p.get('metric', ''))}</td><td class=num>{fmt(p.get('score'))}</td></tr>"
        for p in worst
        if isinstance(p, dict)
    )
    counted = ""
    if report.get("pairs_counted") is not None:
        counted = (
            f" ({fmt(report.get('pairs_counted'))} of "
            f"{fmt(report.get('pairs_total'))} pairs scored)"
        )
    return (
        f"<h3>Lowest pair scores in the report{esc(counted)}</h3><table><tr>"
        f"<th>columns</th><th>metric</th><th>score</th></tr>{rows}</table>"
    )
