"""How values read on the page: escaping, numbers for people, and the small HTML blocks
(key-value tables, folds) every section builds on."""

from __future__ import annotations

import html
import json
import math

import numpy as np

LABEL_CHARS = 18  # plot labels are cut to this length; the full text is in the tooltip

REAL = "#3b6ea8"
SYNTHETIC = "#e07b00"
PASS, FAIL = "#1a7f37", "#c62828"
WARN = "#b26a00"


def esc(value) -> str:
    return html.escape(str(value), quote=True)


def cut(text, n: int = LABEL_CHARS) -> str:
    text = str(text)
    return text if len(text) <= n else text[: n - 1] + "…"


def to_float(value) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def fmt(value) -> str:
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
        return ", ".join(fmt(v) for v in value) if value else "—"
    return str(value)


def pct(value) -> str:
    value = to_float(value)
    return "n/a" if value is None else f"{value:.2%}"


def short(x: float) -> str:
    """An axis tick: 1.2k, 3.4M, 0.05."""
    if not math.isfinite(x):
        return fmt(x)
    for div, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= div:
            return f"{x / div:.3g}{suffix}"
    return f"{x:.3g}"


def score_colour(score: float | None) -> str:
    if score is None:
        return "#777"
    return PASS if score >= 0.9 else WARN if score >= 0.75 else FAIL


def fold(title: str, body: str) -> str:
    """A section people open on demand (native HTML, no script)."""
    return f"<details><summary>{esc(title)}</summary>{body}</details>"


def kv_table(d, depth: int = 0) -> str:
    if not isinstance(d, dict) or not d:
        return '<p class="muted">—</p>'
    rows = []
    for key, value in d.items():
        if isinstance(value, dict) and depth < 2 and value:
            cell = kv_table(value, depth + 1)
        elif isinstance(value, (dict, list)) and not (
            isinstance(value, list) and all(not isinstance(v, (dict, list)) for v in value)
        ):
            text = json.dumps(value, indent=1, default=str)
            cell = f"<pre>{esc(text[:4000] + ('…' if len(text) > 4000 else ''))}</pre>"
        else:
            cell = esc(fmt(value))
        rows.append(f"<tr><th>{esc(key)}</th><td>{cell}</td></tr>")
    return f'<table class="kv">{"".join(rows)}</table>'
