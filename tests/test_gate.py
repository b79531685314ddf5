"""The privacy gate's verdict on privacy reports (report.json's `privacy_report` section):
a figure fails only when it is past its threshold by more than noise."""

import math

import pytest

from synthvae.evaluation.gate import PrivacyGate, gate_figures
from synthvae.evaluation.privacy import check_privacy_options


def report(protection=1.0, copies=0.0, auc=0.5, risk=0.0, p=0.5, inference_skipped=False):
    """A privacy report holding the gated figures, each with the same p-value `p`."""
    attack = {"risk": risk, "ci": [0.0, risk + 0.05], "p_value": p}
    inference = {"skipped": "needs a column besides the secret"} if inference_skipped else attack
    return {
        "closer_to_training": {"protection": protection, "p_value": p},
        "exact_copies": {"excess_copy_rate": copies, "p_value": p},
        "membership_inference": {"auc": auc, "auc_ci": [auc - 0.01, auc + 0.01], "p_value": p},
        "attacks": {
            "singling_out_univariate": attack,
            "singling_out_multivariate": attack,
            "linkability": attack,
            "inference": {"income": inference},
            "seconds": 1.0,
        },
    }


def test_every_figure_is_listed_with_the_gate_field_holding_its_threshold():
    figures = gate_figures(report())
    assert [f.name for f in figures] == [
        "closer_to_training.protection",
        "exact_copies.excess_copy_rate",
        "membership_inference.auc",
        "attacks.singling_out_univariate.risk",
        "attacks.singling_out_multivariate.risk",
        "attacks.linkability.risk",
        "attacks.inference.income.risk",
    ]
    gate = PrivacyGate()
    assert all(hasattr(gate, f.threshold) for f in figures)


def test_a_figure_past_its_threshold_by_noise_alone_passes():
    # an attack risk of 0.3 measured on a handful of targets: p = 0.01 is not below 0.002 / 7
    assert PrivacyGate().check(report(risk=0.3, p=0.01)) == []


def test_a_significant_excess_within_the_threshold_passes():
    # a membership AUC of 0.52 is real (p = 1e-9) but below the 0.6 worth withholding for
    assert PrivacyGate().check(report(auc=0.52, p=1e-9)) == []


def test_a_figure_past_its_threshold_by_more_than_noise_fails_with_its_p_value():
    failed = PrivacyGate().check(report(copies=0.05, p=1e-9))
    assert failed == [{
        "name": "exact_copies.excess_copy_rate", "value": 0.05, "threshold": 0.0, "rule": "<=",
        "by": 0.05, "p_value": 1e-9, "p_needed": pytest.approx(0.002 / 7),
    }]  # fmt: skip


def test_the_bar_on_p_is_the_false_alarm_rate_over_the_figures_judged():
    # a skipped attack is not judged: 6 figures, so p must be below 0.06 / 6 = 0.01
    gate = PrivacyGate(false_alarm_rate=0.06)
    assert gate.check(report(protection=0.5, p=0.011, inference_skipped=True)) == []
    failed = gate.check(report(protection=0.5, p=0.009, inference_skipped=True))
    assert [f["name"] for f in failed] == ["closer_to_training.protection"]
    assert failed[0]["p_needed"] == pytest.approx(0.01)


def test_unmeasured_figures_fail_and_reports_without_p_values_are_judged_on_values():
    unmeasured = report()
    unmeasured["closer_to_training"] = {"protection": None, "skipped": "only ids and text"}
    assert [f["name"] for f in PrivacyGate().check(unmeasured)] == [
        "closer_to_training.protection"
    ]
    older = report(auc=0.7)
    del older["membership_inference"]["p_value"]
    assert [f["name"] for f in PrivacyGate().check(older)] == ["membership_inference.auc"]


@pytest.mark.parametrize(
    "threshold, value",
    [
        ("dcr_overfitting_protection_min", 1.5),
        ("exact_copy_rate_max_over_holdout", -0.01),
        ("attack_risk_max", math.nan),
        ("membership_auc_max", "0.6"),
        ("false_alarm_rate", True),
    ],
)
def test_gate_rejects_a_threshold_outside_zero_to_one(threshold, value):
    with pytest.raises(ValueError, match=rf"{threshold}.*{value!r}"):
        PrivacyGate(**{threshold: value})


def test_gate_rechecks_a_threshold_changed_after_construction():
    gate = PrivacyGate()
    gate.attack_risk_max = 2.0
    with pytest.raises(ValueError, match="attack_risk_max"):
        gate.check(report())
    with pytest.raises(ValueError, match="attack_risk_max"):
        check_privacy_options(["age"], ["age"], gate)
