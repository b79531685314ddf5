"""synthvae: synthetic tabular data from a variational autoencoder."""
from .synthesizer import NotFittedError, Synthesizer

__all__ = ["NotFittedError", "Synthesizer"]
__version__ = "0.1.0"
