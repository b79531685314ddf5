"""The Privacy section: the gate's verdict, every figure it judges with its threshold, and
the evidence behind them (SDMetrics' privacy metrics, nearest rows, copies, attacks)."""

from __future__ import annotations

from synthvae.evaluation.gate import attack_results, gate_figures

from .text import FAIL, PASS, esc, fmt, fold, kv_table, to_float


def privacy_section(report) -> str:
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
                    f"<tr><td>{esc(name)}</td><td class=num>—</td><td class=num>—</td>"
                    "<td>—</td>"
                    f'<td class="muted">skipped: {esc(figure.skipped)}</td><td></td></tr>'
                )
                continue
            failure = failures.get(name)
            threshold = to_float(thresholds.get(key))
            if failure is not None and threshold is None:
                threshold = to_float(failure.get("threshold"))
            if failure is not None:  # the gate's own reading of the figure
                status, by = False, failure.get("by")
                value = failure.get("value", value)
            elif gate is None or threshold is None:
                status, by = None, None
            else:  # passed: within its threshold, or past it by no more than noise
                v = to_float(value)
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
                        to_float(failure.get("threshold")),
                        False,
                        failure.get("by"),
                        failure.get("value") is None,
                    )
                )
        caption = "" if gate else " (no privacy gate in the report: figures are not judged)"
        out.append(
            f"<h3>Gated figures{esc(caption)}</h3><p>Each figure the privacy gate judges; "
            "the gate passes when every one does. A figure fails when it is past its threshold "
            "and its p-value (the chance that rows leaking nothing score at least this) is "
            "below the gate's false-alarm rate over the number of figures. The evidence "
            "behind them is below.</p>"
            "<table><tr><th>figure</th><th>value</th><th>p-value</th>"
            "<th>threshold</th><th>verdict</th><th>past it by</th></tr>"
            f"{''.join(rows)}</table>"
        )
    if thresholds:
        out.append(fold("Gate thresholds", kv_table(thresholds)))
    if privacy:
        out.append(_privacy_details(privacy))
    elif gate is not None:
        out.append(
            "<p>The report has no privacy_report section: the figures behind the "
            "gate are not shown.</p>"
        )
    if legacy:
        out.append(
            fold(
                "Distance to closest record and exact copies (flow scores)",
                "<p>Not gated. dcr_ratio: median distance of synthetic rows to the "
                "training rows over that of unseen holdout rows (about 1 or more: "
                "synthetic rows sit no closer to training rows than new real rows do).</p>"
                + kv_table(legacy),
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
    limit = "—" if threshold is None else f"{esc(symbol)} {fmt(threshold)}"
    return (
        f"<tr><td>{esc(name)}</td><td class=num>{fmt(value)}</td>"
        f"<td class=num>{'—' if p_value is None else f'{p_value:.2g}'}</td><td>{limit}</td>"
        f"<td>{verdict}</td><td class=num>{fmt(by) if by is not None else ''}</td></tr>"
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
            f"<tr><td>{esc(a)}</td><td class=num>{fmt(b)}</td><td>{c}</td></tr>" for a, b, c in rows
        )
        out.append(
            fold(
                "SDMetrics privacy metrics",
                f"<table><tr><th>metric</th><th>score</th><th>details</th></tr>{table}</table>",
            )
        )
    closer = privacy.get("closer_to_training")
    if isinstance(closer, dict):
        out.append(fold(
            "Nearest real row",
            "<p>share: how often a synthetic row's nearest real row (of the training and "
            "holdout rows together) is a training row; expected: the share for rows the model "
            "never learned from. protection: 1 when the share is no higher than expected.</p>"
            + kv_table(closer),
        ))  # fmt: skip
    copies = privacy.get("exact_copies")
    if isinstance(copies, dict):
        out.append(fold(
            "Exact copies of training rows",
            "<p>Against the control: holdout rows equal to a training row, and training rows "
            "equal to another training row.</p>" + kv_table(copies),
        ))  # fmt: skip
    attacks = privacy.get("attacks")
    if isinstance(attacks, dict):
        rows = []
        for name, a in attack_results(attacks):
            note = "; ".join(str(a[k]) for k in ("skipped", "note", "warning") if a.get(k))
            rows.append(
                f"<tr><td>{esc(name)}</td><td class=num>{fmt(a.get('risk'))}</td>"
                f"<td class=num>{_ci(a.get('ci'))}</td>"
                f"<td class=num>{fmt(a.get('attack_rate'))}</td>"
                f"<td class=num>{fmt(a.get('control_rate'))}</td>"
                f"<td class=num>{fmt(a.get('baseline_rate'))}</td>"
                f"<td class=num>{fmt(a.get('attacks'))}</td><td>{esc(note)}</td></tr>"
            )
        out.append(
            fold(
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
            fold(
                "Membership inference",
                "<p>ROC AUC of telling training rows from "
                "holdout rows by their distance to the closest synthetic row; 0.5 "
                "is chance.</p>" + kv_table(membership),
            )
        )
    rest = {
        k: v
        for k, v in privacy.items()
        if k not in ("sdmetrics", "closer_to_training", "exact_copies", "attacks",
                     "membership_inference")
    }
    if rest:
        out.append(fold("Privacy report settings", kv_table(rest)))
    return "".join(out)


def _ci(ci) -> str:
    if isinstance(ci, (list, tuple)) and len(ci) == 2:
        return f"{fmt(ci[0])} – {fmt(ci[1])}"
    return fmt(ci)


def _details(entry: dict, skip: set) -> str:
    return esc(
        "; ".join(
            f"{k} {fmt(v) if not isinstance(v, dict) else _inline(v)}"
            for k, v in entry.items()
            if k not in skip
        )
    )


def _inline(d: dict) -> str:
    return ", ".join(f"{k} {fmt(v)}" for k, v in d.items())
