"""The Summary section (a tile per score and the privacy gate's verdict) and the Rules
section (the rules every training row keeps, and how often each table breaks them)."""

from __future__ import annotations

from .text import FAIL, PASS, WARN, esc, fmt, pct, score_colour, to_float


def _tile(label: str, score, detail: str = "", why: str | None = None) -> str:
    """A score tile; a missing score reads "n/a", with `why` (the report's reason) as its
    detail."""
    value = to_float(score)
    if value is None:
        body = '<div class="value na">n/a</div>'
        detail = esc(why) if why else detail
    else:
        width = min(max(value, 0.0), 1.0) * 100
        body = (
            f'<div class="value" style="color:{score_colour(value)}">{fmt(value)}</div>'
            f'<div class="meter"><span style="width:{width:.1f}%;'
            f'background:{score_colour(value)}"></span></div>'
        )
    return (
        f'<div class="tile"><div class="label">{esc(label)}</div>{body}'
        f'<div class="detail">{detail}</div></div>'
    )


def _detection_tile(found) -> str:
    """Lower is better here: 0.5 means a classifier cannot tell the rows from real ones."""
    found = found if isinstance(found, dict) else {}
    auc, floor = to_float(found.get("auc")), to_float(found.get("holdout_auc"))
    if auc is None:
        why = found.get("not_available") or "the report has no detection figure"
        return ('<div class="tile"><div class="label">Detection AUC</div>'
                f'<div class="value na">n/a</div><div class="detail">{esc(why)}</div></div>')
    colour = PASS if auc <= 0.6 else WARN if auc <= 0.8 else FAIL
    detail = "0.5: a classifier cannot tell synthetic rows from real ones"
    if floor is not None:
        detail += f"; a real holdout scores {fmt(floor)}"
    giveaways = found.get("giveaways") or []
    if giveaways:
        detail += "; most telling: " + ", ".join(
            f"{esc(g.get('column'))} (−{fmt(to_float(g.get('auc_drop')))})" for g in giveaways)
    width = min(max((1.0 - auc) / 0.5, 0.0), 1.0) * 100  # full at 0.5, empty at 1.0
    return (f'<div class="tile"><div class="label">Detection AUC</div>'
            f'<div class="value" style="color:{colour}">{fmt(auc)}</div>'
            f'<div class="meter"><span style="width:{width:.1f}%;background:{colour}"></span>'
            f'</div><div class="detail">{detail}</div></div>')


def summary_section(report) -> str:
    why = report.get("not_available") if isinstance(report.get("not_available"), dict) else {}
    pairs = (report.get("subsampled") or {}).get("column_pairs")
    pair_detail = "correlation and contingency similarity" + (
        f"; {fmt(pairs.get('pairs_scored'))} of {fmt(pairs.get('pairs_of'))} pairs "
        f"({fmt(pairs.get('columns_used'))} of {fmt(pairs.get('columns_of'))} columns, "
        "drawn at random)" if isinstance(pairs, dict) else ""
    )
    tiles = [
        _tile("Quality", report.get("quality"), "mean of shapes and pair trends",
              why.get("quality")),
        _tile("Column shapes", report.get("column_shapes"), "1 − KS / 1 − TVD per column",
              why.get("column_shapes")),
        _tile("Column pair trends", report.get("column_pair_trends"), esc(pair_detail),
              why.get("column_pair_trends")),
    ]  # fmt: skip
    tiles.append(_detection_tile(report.get("detection")))
    ml = report.get("ml_efficacy")
    if isinstance(ml, dict):
        score = next((ml[k] for k in ("score", "ratio", "synthetic", "value") if k in ml), None)
        detail = "; ".join(
            f"{esc(k)} {esc(fmt(v))}" for k, v in ml.items() if not isinstance(v, (dict, list))
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


def rules_section(report) -> str:
    rules = report.get("rules")
    if not isinstance(rules, list) or not rules:
        return ""
    rows = "".join(
        f"<tr><td>{esc(r.get('rule'))}</td><td>{esc(r.get('kind'))}"
        f"{' (not enforced)' if r.get('enforced') is False and r.get('kind') != 'near' else ''}"
        "</td>"
        f"<td class=num>{fmt(r.get('support'))}</td>"
        f"<td class=num>{pct(r.get('real_violation_rate'))}</td>"
        f"<td class=num>{pct(r.get('synthetic_violation_rate'))}</td></tr>"
        for r in rules if isinstance(r, dict))
    return ('<section id="rules"><h2>Rules</h2><p class="muted">Rules every training row '
            "keeps, found at fit time; sampling makes every synthetic row keep them too. "
            "Near-rules (kind near) hold in most training rows, not all: the model learns "
            "them like any other pattern, rows breaking one more often than the real rows "
            "do are given the value its source determines until the rates match, and how "
            "often each table breaks them is shown side by side. A wide table's rules past "
            "the cap of those enforced are marked not enforced: learned, and reported the "
            "same way.</p>"
            "<table><tr><th>rule</th><th>kind</th><th>rows seen</th><th>real rows breaking it"
            f"</th><th>synthetic rows breaking it</th></tr>{rows}</table></section>")
