"""How faithful and how private synthetic rows are: fidelity (SDMetrics quality, DCR, exact
copies), detection (a classifier two-sample test), privacy evidence and the gate that judges it."""

_PUBLIC = {"detection": "detection", "score": "fidelity", "sdmetrics_metadata": "fidelity",
           "PrivacyGate": "gate", "gate_figures": "gate", "check_privacy_options": "privacy",
           "privacy_report": "privacy"}
__all__ = sorted(_PUBLIC)


def __getattr__(name: str):
    # Imported on first use, so that reading the gate's defaults does not load SDMetrics.
    if name in _PUBLIC:
        from importlib import import_module
        return getattr(import_module(f"{__name__}.{_PUBLIC[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
