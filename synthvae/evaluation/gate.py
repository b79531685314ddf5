"""The privacy gate: whether a synthetic table may be released, read from a privacy report.

Every gated figure compares the synthetic rows with real rows the model never saw, so each
has a value that rows leaking nothing would reach by chance. Thresholds alone on such
figures fail honest rows at random (a 95% upper bound on a noisy attack fails a fresh real
sample about half the time on Adult), and an interval that is wide enough passes anything.
So a figure fails only when both hold:

- its value is past the threshold (the size of the leak matters: 5% of rows copied is a
  leak; a membership AUC of 0.505 on a million rows is not one worth withholding data for);
- the excess is more than noise: the figure's one-sided p-value against "no more leak than
  real unseen rows" is below `false_alarm_rate` divided by the number of figures judged
  (Bonferroni), so rows that leak nothing fail the whole gate at most that often.

`benchmarks/privacy_gate.py` measures both sides on every table of a corpus: never-trained
real rows standing in for synthetic ones (must pass) and rows that copy 5%, 20% and 100% of
the training rows (must fail). Nothing here imports Prefect or the modelling code.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Iterator


@dataclass
class PrivacyGate:
    """Thresholds a synthetic table must meet to be released; each lies in [0, 1].

    dcr_overfitting_protection_min: SDMetrics' DCROverfittingProtection, measured here on
        the full training and holdout rows: 1 when synthetic rows are no likelier to sit
        nearest a training row than real unseen rows are, 0 when every one does.
    exact_copy_rate_max_over_holdout: the share of synthetic rows equal to a training row
        may exceed the share of real unseen rows equal to one (real tables repeat rows) by
        this much.
    attack_risk_max: each attack's risk estimate (singling out, linkability, inference:
        the attack's success on training rows beyond its success on holdout rows).
    membership_auc_max: the membership attack's ROC AUC (0.5 is chance, copies score 1).
    false_alarm_rate: the chance that rows leaking nothing fail the gate.
    """

    dcr_overfitting_protection_min: float = 0.9
    exact_copy_rate_max_over_holdout: float = 0.0
    attack_risk_max: float = 0.1
    membership_auc_max: float = 0.6
    false_alarm_rate: float = 0.002

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
            if not is_number or not 0.0 <= value <= 1.0:  # NaN fails the range check too
                raise ValueError(
                    f"privacy gate {field.name} must be a number in [0, 1]; got {value!r}"
                )

    def check(self, report: dict) -> list[dict]:
        """One dict per failed figure: name, value, threshold, rule (the bound it must keep),
        by (how far past the threshold), p_value and p_needed (below which the excess is
        more than noise). A figure the report holds as None (not measured) fails: the gate
        passes on evidence only. Skipped attacks (a table too narrow for them) are not
        figures."""
        self.validate()
        p_needed = self.p_needed(report)
        failures = (self.failure(f, p_needed) for f in gate_figures(report) if not f.skipped)
        return [failure for failure in failures if failure is not None]

    def p_needed(self, report: dict) -> float:
        """The p-value below which a figure of `report` counts as more than noise."""
        judged = sum(1 for f in gate_figures(report) if not f.skipped)
        return self.false_alarm_rate / max(judged, 1)

    def failure(self, figure: GateFigure, p_needed: float) -> dict | None:
        """The failure dict `check` lists for `figure`, or None when it passes."""
        threshold = getattr(self, figure.threshold)
        value, p = figure.value, figure.p_value
        past = value is None or (value < threshold if figure.rule == ">=" else value > threshold)
        # A report without p-values (written before they were measured) is judged on its
        # values alone.
        if not past or (value is not None and p is not None and p >= p_needed):
            return None
        by = None if value is None else round(abs(value - threshold), 6)
        return {"name": figure.name, "value": value, "threshold": threshold,
                "rule": figure.rule, "by": by, "p_value": p, "p_needed": p_needed}


@dataclass(frozen=True)
class GateFigure:
    """One figure the gate judges: where it sits in the report, its value and p-value, the
    gate field holding its threshold, and the rule it must keep. `skipped` says why an
    attack was not run (then it is not judged)."""

    name: str
    value: float | None
    p_value: float | None
    threshold: str
    rule: str
    skipped: str | None = None


def gate_figures(report: dict) -> list[GateFigure]:
    """Every figure PrivacyGate judges, read from a privacy report (report.json's
    `privacy_report`). The one list the gate, the run summary and report.html share."""

    def get(*keys):
        node = report
        for key in keys:
            node = node.get(key) if isinstance(node, dict) else None
        return node

    figures = [
        GateFigure("closer_to_training.protection", get("closer_to_training", "protection"),
                   get("closer_to_training", "p_value"), "dcr_overfitting_protection_min", ">="),
        GateFigure("exact_copies.excess_copy_rate", get("exact_copies", "excess_copy_rate"),
                   get("exact_copies", "p_value"), "exact_copy_rate_max_over_holdout", "<="),
        GateFigure("membership_inference.auc", get("membership_inference", "auc"),
                   get("membership_inference", "p_value"), "membership_auc_max", "<="),
    ]  # fmt: skip
    for name, attack in attack_results(get("attacks") or {}):
        skipped = attack.get("skipped")
        figures.append(GateFigure(
            f"attacks.{name}.risk", attack.get("risk"), attack.get("p_value"),
            "attack_risk_max", "<=", None if skipped is None else str(skipped),
        ))  # fmt: skip
    return figures


def attack_results(attacks: dict) -> Iterator[tuple[str, dict]]:
    """(name, result) of every attack in a report's attacks section."""
    for name, result in attacks.items():
        if name == "inference" and isinstance(result, dict):
            yield from ((f"inference.{k}", r) for k, r in result.items() if isinstance(r, dict))
        elif isinstance(result, dict):
            yield name, result
