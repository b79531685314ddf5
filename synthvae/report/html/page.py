"""The page itself: its head, header and sections in order, and its atomic write."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from synthvae.io import atomic_write_text

from .columns import column_view, columns_section
from .pairs import pairs_section
from .privacy import privacy_section
from .provenance import provenance_section
from .style import CSS
from .summary import rules_section, summary_section
from .text import REAL, SYNTHETIC, esc
from .values import resolve_kinds, sample


def render_report(
    report: dict,
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    kinds: dict[str, str] | None = None,
    max_rows: int = 20_000,
    *,
    model_dir: str | os.PathLike | None = None,
) -> str:
    """The report page as a string. `kinds` maps columns to one of values.KINDS (default:
    the report's fit.column_kinds, else inferred from the data); plots use up to `max_rows`
    rows of each table, drawn at random with a fixed seed. `model_dir` is the saved model's
    folder, read for its parameters when the report carries none (default: the folder the
    report names, output / files.model)."""
    if isinstance(max_rows, bool) or not isinstance(max_rows, int) or max_rows < 1:
        raise ValueError(f"max_rows must be a whole number of 1 or more; got {max_rows!r}")
    report = report if isinstance(report, dict) else {}
    for frame, which in ((real, "real"), (synthetic, "synthetic")):
        if frame.columns.duplicated().any():
            repeated = sorted({str(c) for c in frame.columns[frame.columns.duplicated()]})
            raise ValueError(f"the {which} table repeats column names: {repeated}")
    columns = list(real.columns) + [c for c in synthetic.columns if c not in set(real.columns)]
    real_rows, synthetic_rows = sample(real, max_rows), sample(synthetic, max_rows)
    resolved = resolve_kinds(report, real, synthetic, columns, kinds)
    views = [
        column_view(i, name, resolved[name], real_rows, synthetic_rows, report)
        for i, name in enumerate(columns)
    ]
    title = "synthvae report"
    if report.get("output"):
        title += f": {Path(str(report['output'])).name}"
    body = "\n".join(
        [
            header(title, report, len(real), len(synthetic)),
            summary_section(report),
            privacy_section(report),
            rules_section(report),
            columns_section(views, report, len(real_rows), len(synthetic_rows)),
            pairs_section(columns, resolved, real, synthetic, report),
            provenance_section(report, model_dir),
        ]
    )
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; img-src data:\">\n"
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{esc(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n{body}\n"
        "</body>\n</html>\n"
    )


def write_report(
    path: str | os.PathLike,
    report: dict,
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    kinds: dict[str, str] | None = None,
    *,
    model_dir: str | os.PathLike | None = None,
) -> Path:
    """Render the page and write it to `path` (a directory gets `report.html`) atomically:
    readers never see half a page, and a failed render leaves the last page in place.
    `model_dir` as for render_report."""
    path = Path(path)
    if path.is_dir():
        path = path / "report.html"
    page = render_report(report, real, synthetic, kinds, model_dir=model_dir)
    return atomic_write_text(path, page)


def header(title, report, n_real, n_synthetic) -> str:
    inp = report.get("input") if isinstance(report.get("input"), dict) else {}
    source = f" from {esc(inp['path'])}" if inp.get("path") else ""
    return (
        f"<header><h1>{esc(title)}</h1><p>{n_synthetic:,} synthetic rows against {n_real:,} "
        f"real rows{source}. "
        f'<span class="key"><i style="background:{REAL}"></i>real</span> '
        f'<span class="key"><i style="background:{SYNTHETIC}"></i>synthetic</span></p>'
        '<nav><a href="#summary">Summary</a><a href="#privacy">Privacy</a>'
        '<a href="#columns">Columns</a><a href="#pairs">Pair trends</a>'
        '<a href="#provenance">Provenance</a></nav></header>'
    )
