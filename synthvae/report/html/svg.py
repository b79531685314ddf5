"""Hand-written inline SVG: a histogram, paired bars and a heat map. No plotting library,
no script: the page must open anywhere and fetch nothing."""

from __future__ import annotations

import itertools
import math

import numpy as np

from .text import LABEL_CHARS, REAL, SYNTHETIC, cut, esc, pct


def svg(width: int, height: int, inner: str, label: str) -> str:
    return (
        f'<svg viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-label="{esc(label)}">{inner}</svg>'
    )


def histogram_svg(edges, real_shares, synthetic_shares, ticks, label) -> str:
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
            f"{pct(top_share)}</text>"
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
            f'fill="transparent"><title>{esc(ticks[i][1])}: real {pct(real_shares[i])}, '
            f"synthetic {pct(synthetic_shares[i])}</title></rect>"
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
            f'text-anchor="{anchor}">{esc(text)}</text>'
        )
    return svg(width, height, "".join(parts), label)


def bars_svg(labels, real_shares, synthetic_shares, label, italic=()) -> str:
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
            f"<g><title>{esc(name)}: real {pct(r)}, synthetic {pct(s)}</title>"
            f'<text x="{left - 4}" y="{y0 + 12}" class="{cls}" text-anchor="end">'
            f"{esc(cut(name))}</text>{''.join(bars)}"
            f'<text x="{width - 2}" y="{y0 + 12}" class="tick" text-anchor="end">'
            f'<tspan fill="{REAL}">{pct(r)}</tspan> <tspan fill="{SYNTHETIC}">{pct(s)}</tspan>'
            "</text></g>"
        )
    return svg(width, height, "".join(parts), label)


def heat_colour(t: float) -> str:
    """White at 0, dark red at 1 and beyond; grey where the value is undefined."""
    if not math.isfinite(t):
        return "#d9d9d9"
    t = min(max(t, 0.0), 1.0)
    stops = ((0.0, (247, 247, 247)), (0.5, (244, 165, 130)), (1.0, (178, 24, 43)))
    for (t0, c0), (t1, c1) in itertools.pairwise(stops):
        if t <= t1:
            f = (t - t0) / (t1 - t0)
            return "#" + "".join(f"{round(a + (b - a) * f):02x}" for a, b in zip(c0, c1))
    return "#b2182b"


def heatmap_svg(columns, value, full, tips, scale: float, legend: str, label: str) -> str:
    """The lower triangle of a column × column matrix: rows are columns 2..n, columns
    1..n-1. Cell (i, j) is coloured by value[i, j] / scale; cells where full[i, j] is false
    are drawn as small squares, so they read as set apart."""
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
            f'text-anchor="end"><title>{esc(row)}</title>{esc(cut(row))}</text>'
        )
        x, y = left + k * cell + cell / 2 + font / 3, top + n * cell + 4
        parts.append(
            f'<text x="{x:.1f}" y="{y}" text-anchor="end" transform="rotate(-90 '
            f'{x:.1f} {y})"><title>{esc(col)}</title>{esc(cut(col))}</text>'
        )
    parts.append("</g>")
    inset = max(1, round(cell / 4))
    for i in range(1, n + 1):
        for j in range(i):
            x, y, size = left + j * cell, top + (i - 1) * cell, cell - 1
            if not full[i, j]:
                x, y, size = x + inset, y + inset, max(1, size - 2 * inset)
            parts.append(
                f'<rect x="{x}" y="{y}" width="{size}" height="{size}" '
                f'fill="{heat_colour(value[i, j] / scale)}"><title>{esc(tips[i][j])}</title></rect>'
            )
    lx = left + n * cell - 125 if n >= 8 else left + n * cell + 16
    parts.append(f'<text x="{lx}" y="{top + 10}" class="tick">{esc(legend)}</text>')
    for k in range(11):
        parts.append(
            f'<rect x="{lx + k * 11}" y="{top + 14}" width="11" height="10" '
            f'fill="{heat_colour(k / 10)}"/>'
        )
    parts.append(
        f'<text x="{lx}" y="{top + 36}" class="tick">0</text>'
        f'<text x="{lx + 121}" y="{top + 36}" class="tick" text-anchor="end">'
        f"≥{scale}</text>"
    )
    return f'<div class="wide">{svg(width, height, "".join(parts), label)}</div>'
