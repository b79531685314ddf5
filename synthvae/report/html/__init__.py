"""A run's report as one self-contained HTML page, for people to read.

`render_report(report, real, synthetic)` returns the page; `write_report(path, ...)` writes
it atomically. The page fetches nothing: inline CSS, hand-written inline SVG, no scripts,
and a Content-Security-Policy that forbids any fetch. It shows

- the summary scores (quality, column shapes, column pair trends, detection, ML efficacy
  when the report has it) and the privacy gate: every privacy figure with its threshold
  and verdict (summary, privacy);
- one small plot per column, real against synthetic: histograms for numbers and dates,
  category shares (the most frequent categories, "other" and nulls) for categories and
  booleans; id and text columns are listed, not plotted (their values identify people),
  and so are constant columns (columns);
- a heat map of the column pair trend score of every pair of plotted columns, as
  report.json's column_pair_trends scores it (pairs);
- the run's provenance: input file and sha256, schema, seed, model parameters, timings,
  package versions, and any other field of the report (provenance).

Every string from the data or the report goes through `html.escape`. Sections missing from
the report say so and the rest renders. The modules: page (assembly and write), text
(formatting), values (column kinds and values), svg (plots), style (CSS), and one per
section.
"""

from .page import render_report, write_report
from .text import REAL, SYNTHETIC

__all__ = ["REAL", "SYNTHETIC", "render_report", "write_report"]
