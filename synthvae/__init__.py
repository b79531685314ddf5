"""synthvae: synthetic tabular data from a variational autoencoder."""

from . import threads  # noqa: F401  (first: sizes thread pools before torch or numba load)

__all__ = ["DatabaseSynthesizer", "NotFittedError", "Synthesizer"]
__version__ = "0.1.0"


def __getattr__(name: str):
    # Imported on first use: PyTorch takes seconds to load, which a command's --help and the
    # light modules (synthvae.run.options, synthvae.evaluation.gate) should not pay.
    if name == "DatabaseSynthesizer":
        from .relational import DatabaseSynthesizer
        return DatabaseSynthesizer
    if name in __all__:
        from . import synthesizer
        return getattr(synthesizer, name)
    raise AttributeError(f"module 'synthvae' has no attribute {name!r}")
