"""The Provenance section: where the run's rows came from, how the model was trained and
with which parameters, how long each step took, the package versions, and every report
field no other section shows."""

from __future__ import annotations

import json
from pathlib import Path

from .text import esc, fmt, kv_table, to_float

SCORE_KEYS = ("quality", "column_shapes", "column_pair_trends", "ml_efficacy")
MODEL_KEYS = ("model", "params", "model_params", "model_config", "train_config", "synthesizer")
# Report fields a section of the page shows; the rest are listed under "Other report fields".
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


def _timings_table(timings: dict) -> str:
    numbers = {k: to_float(v) for k, v in timings.items()}
    total = numbers.get("total") or max((v for v in numbers.values() if v), default=0) or 1.0
    rows = []
    for key, value in numbers.items():
        bar = ""
        if value is not None and key != "total":
            bar = f'<span class="tbar" style="width:{min(value / total, 1) * 200:.0f}px"></span>'
        rows.append(f"<tr><th>{esc(key)}</th><td class=num>{fmt(value)} s</td><td>{bar}</td></tr>")
    return f'<table class="kv">{"".join(rows)}</table>'


def provenance_section(report, model_dir=None) -> str:
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
        "<h3>Run</h3>" + (kv_table(run) if run else '<p class="muted">not in the report</p>')
    )
    fit = report.get("fit") if isinstance(report.get("fit"), dict) else None
    if fit:
        fit = {k: v for k, v in fit.items() if k != "column_kinds"}
        out.append("<h3>Training</h3>" + kv_table(fit))
    model = {k: report[k] for k in MODEL_KEYS if k in report}
    source = "the report"
    if not model:
        model, source = saved_model_params(report, model_dir)
    if model:
        out.append(
            f'<h3>Model parameters</h3><p class="muted">from {esc(source)}</p>' + kv_table(model)
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
            kv_table(versions)
            if isinstance(versions, dict) and versions
            else '<p class="muted">not in the report</p>'
        )
    )
    other = {k: v for k, v in report.items() if k not in SHOWN_KEYS}
    if other:
        out.append("<h3>Other report fields</h3>" + kv_table(other))
    out.append("</section>")
    return "".join(out)


def saved_model_params(report, model_dir=None) -> tuple[dict, str]:
    """The saved model's parameters and where they are from: params (less the column
    kinds, shown per column), model_config and train_config of synthesizer.json.

    The file is read from `model_dir` when given, else from the folder the report names
    (output / files.model). A run renders its page before its staging folder becomes the
    output, so it passes the staging model folder; the page still names the model's
    published place when the report has one, which is where readers will find it.
    """
    files = report.get("files") if isinstance(report.get("files"), dict) else {}
    published = None
    if report.get("output") and files.get("model"):
        published = Path(str(report["output"])) / str(files["model"]) / "synthesizer.json"
    path = Path(model_dir) / "synthesizer.json" if model_dir is not None else published
    if path is None:
        return {}, ""
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
    return model, str(published or path)
