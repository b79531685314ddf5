"""A run's report in words, for people: the lines printed after a run, the markdown and score
table shown as Prefect artifacts, and the words a failed privacy gate is explained in."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from synthvae.evaluation.gate import attack_results
from synthvae.report.run_report import GateFailure, PrivacyGateResult, RunReport

from .options import DRAFT_SCHEMA_NAME


def summary(report: RunReport, wall_seconds: float) -> str:
    output = Path(report.output)
    synthetic = output / report.files.get("synthetic", "")
    lines = [f"Wrote {report.rows:,} synthetic rows to {synthetic} (they pass "
             f"{report.schema_.path})"]
    if report.input is None:
        lines.append(f"  drawn from the saved model {report.fit.model_from}; not scored: "
                     f"no real rows given (--input); model in {output / 'model'}")
        return "\n".join(lines + [f"  report {output / 'report.json'}; wall time "
                                   f"{wall_seconds:.1f} s"])
    if report.rows_dropped and report.rows_dropped.count:
        lines.append(f"  trained without {report.rows_dropped.count:,} input rows "
                     f"(--drop-violating): {report.rows_dropped.why}")
    if report.sharding:
        shards = report.sharding
        lines.append(f"  sharded: {shards.shards} parts (part-*.{report.format}) from "
                     f"{shards.workers} Dask workers on {shards.dask}")
    lines.append(f"  quality {fmt(report.quality)}: column shapes {fmt(report.column_shapes)}, "
                 f"column pair trends {fmt(report.column_pair_trends)}")
    lines += [f"    {line}" for line in scope_notes(report)]
    lines.append(_detection_line(report))
    if report.rules:
        lines.append(_rules_line(report))
    privacy = report.privacy
    if privacy:
        lines.append(
            f"  privacy: DCR ratio {fmt(privacy.dcr_ratio)} (synthetic vs unseen real rows; "
            f">= 1 is no closer than real), exact copies of training rows "
            f"{fmt(privacy.synthetic_copies)} (holdout: {fmt(privacy.holdout_copies)})")
        lines += [f"    n/a: {why}" for why in (privacy.not_available or {}).values()]
    else:
        lines.append("  privacy: not scored (no real rows were held back from training)")
    evidence = report.privacy_report or {}
    if evidence:
        mia = evidence.get("membership_inference") or {}
        risks = [r for _, r in attack_results(evidence.get("attacks") or {})]
        worst = max((r["risk"] for r in risks if r.get("risk") is not None), default=None)
        lines.append(
            f"  attacks: membership-inference AUC {fmt(mia.get('auc'))} (0.5 = chance), "
            f"highest attack risk {fmt(worst)}; privacy gate {gate_line(report.privacy_gate)}")
        if mia.get("skipped"):
            lines.append(f"    n/a: {mia['skipped']}")
    lines.append(f"  fit: {report.fit.epochs_run} epochs in {report.fit.seconds:.1f} s on "
                 f"{report.train_rows:,} rows; model in {output / 'model'}")
    lines.append(f"  report {output / 'report.html'} (and report.json); wall time "
                 f"{wall_seconds:.1f} s")
    if report.published:
        lines.append(f"  published to the catalog: {report.published}")
    if report.schema_.inferred:
        lines.append(f"  schema: none given, so a draft was inferred from the input: "
                     f"{output / DRAFT_SCHEMA_NAME} (review it, then pass it with --schema)")
    return "\n".join(lines)


def score_table(report: RunReport) -> list[dict[str, Any]]:
    """The scores as a table artifact: one row per figure, under stable names."""
    rows = [{"score": "quality", "value": report.quality},
            {"score": "column shapes", "value": report.column_shapes},
            {"score": "column pair trends", "value": report.column_pair_trends}]
    found = report.detection
    rows += [{"score": "detection auc", "value": found and found.auc},
             {"score": "detection auc of a real holdout", "value": found and found.holdout_auc}]
    for key, value in (report.privacy.model_dump() if report.privacy else {}).items():
        if not isinstance(value, dict) and key != "not_available":
            rows.append({"score": key.replace("_", " "), "value": value})
    return rows


def markdown(report: RunReport) -> str:
    table = "\n".join(f"| {row['score']} | {fmt(row['value'])} |" for row in score_table(report))
    source = report.input
    return (
        f"# synthvae: {report.rows:,} synthetic rows\n\n"
        f"- output: `{report.output}` ({', '.join(report.files.values())})\n"
        f"- input: `{source.path}` ({source.rows:,} rows, sha256 `{source.sha256[:12]}…`); "
        f"schema `{report.schema_.path}`{' (inferred draft)' if report.schema_.inferred else ''}\n"
        f"- trained on {report.train_rows:,} rows, {report.holdout_rows:,} held back; "
        f"{report.fit.epochs_run} epochs in {report.fit.seconds:.1f} s; seed {report.seed}\n\n"
        f"- privacy gate: {gate_line(report.privacy_gate)}\n\n"
        f"| score | value |\n|---|---|\n{table}\n"
        + "".join(f"\n- {note}" for note in scope_notes(report))
    )


def scope_notes(report: RunReport) -> list[str]:
    """Why a quality figure is n/a and what was subsampled."""
    reasons: dict[str, list[str]] = {}  # one line per reason, naming every figure it explains
    for figure, why in (report.not_available or {}).items():
        reasons.setdefault(why, []).append(figure.replace("_", " "))
    notes = [f"n/a: {', '.join(figures)}: {why}" for why, figures in reasons.items()]
    pairs = (report.subsampled or {}).get("column_pairs")
    if pairs:
        notes.append(
            f"pair trends over {pairs['pairs_scored']:,} of {pairs['pairs_of']:,} pairs (those "
            f"among {pairs['columns_used']} of {pairs['columns_of']} columns, drawn at random)")
    return notes


def gate_line(gate: PrivacyGateResult | None) -> str:
    if gate is None:
        return "not judged"
    verdict = "passed" if gate.passed else f"failed: {gate_words(gate.failures)}"
    return verdict + ("" if gate.enforced else " (not enforced: --privacy-gate is off)")


def gate_words(failures: list[GateFailure] | list[dict[str, Any]]) -> str:
    """Each failed figure, its threshold, and the p-value it failed with."""
    words = []
    for f in failures:
        f = f if isinstance(f, GateFailure) else GateFailure.model_validate(f)
        parts = [] if f.by is None else [f"off by {fmt(f.by)}"]
        if f.p_value is not None and f.p_needed is not None:
            parts.append(f"p = {f.p_value:.2g} < {f.p_needed:.2g}")
        words.append(f"{f.name} = {fmt(f.value)}, must be {f.rule} {fmt(f.threshold)}"
                     + (f" ({', '.join(parts)})" if parts else ""))
    return "; ".join(words)


def fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return "n/a" if value is None else str(value)


def _detection_line(report: RunReport) -> str:
    found = report.detection
    if found is None or found.auc is None:
        return f"  detection AUC n/a: {(found and found.not_available) or 'not scored'}"
    floor = found.holdout_auc
    line = (f"  detection AUC {fmt(found.auc)} (0.5: a classifier cannot tell synthetic from "
            f"real rows" + (f"; a real holdout scores {fmt(floor)}" if floor else "") + ")")
    if found.giveaways:
        line += "; most telling: " + ", ".join(
            f"{g.column} (-{g.auc_drop:.3f})" for g in found.giveaways[:3])
    return line


def _rules_line(report: RunReport) -> str:
    kept = [r for r in report.rules if r.kind != "near" and r.enforced is not False]
    past = [r for r in report.rules if r.kind != "near" and r.enforced is False]
    near = [r for r in report.rules if r.kind == "near"]
    broken = [r for r in kept if r.synthetic_violation_rate > 0]
    line = (f"  rules every training row keeps: {len(kept)}, "
            + ("broken in synthetic rows: " + "; ".join(
                f"{r.rule} ({r.synthetic_violation_rate:.2%})" for r in broken[:3])
               if broken else "kept in every synthetic row"))
    if past:
        line += f"; {len(past)} more past the cap, learned, not enforced"
    if near:
        gap = max(near, key=lambda r: abs(r.synthetic_violation_rate - r.real_violation_rate))
        line += (f"; near-rules (most rows keep them; held to the real rate): {len(near)}, "
                 f"largest gap {gap.rule}: broken in {gap.synthetic_violation_rate:.2%} of "
                 f"synthetic rows, {gap.real_violation_rate:.2%} of real")
    return line + " (report.json: rules)"
