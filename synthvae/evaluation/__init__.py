"""How faithful and how private synthetic rows are: fidelity (SDMetrics quality, DCR, exact
copies), detection (a classifier two-sample test), privacy evidence and the gate that judges it."""

from .detection import detection
from .fidelity import score, sdmetrics_metadata
from .gate import PrivacyGate, gate_figures
from .privacy import check_privacy_options, privacy_report

__all__ = ["PrivacyGate", "check_privacy_options", "detection", "gate_figures",
           "privacy_report", "score", "sdmetrics_metadata"]
