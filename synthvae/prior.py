"""A density over the latent space, fitted after training, to sample from instead of N(0, I).

The encoder never fills N(0, I) exactly: some regions of the prior hold no training rows (the
"prior hole"), and decoding latents from there gives implausible rows. Fitting a Gaussian
mixture to the aggregate posterior (latents of the real rows) and sampling from it fixes most
of that (Ghosh et al. 2020, "From variational to deterministic autoencoders", sec. 4).
"""
from __future__ import annotations

import warnings

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture

# Measured on Adult (32k rows, 32-dim latents; yardstick quality of 30k rows): all rows and
# 100 EM iterations took 11.6 s for quality 0.990; 10,000 rows and 30 iterations 4.7 s for
# 0.991. EM's last iterations polish the likelihood, not the samples.
FIT_SUBSAMPLE = 10_000
MAX_ITER = 30


class GaussianMixturePrior:
    def __init__(self, n_components: int = 20, random_state: int = 0):
        self.n_components = n_components
        self.random_state = random_state

    def fit(self, latents: np.ndarray) -> GaussianMixturePrior:
        rng = np.random.default_rng(self.random_state)
        if len(latents) > FIT_SUBSAMPLE:
            latents = latents[rng.choice(len(latents), FIT_SUBSAMPLE, replace=False)]
        k = max(1, min(self.n_components, len(latents) // 20))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # the cap is deliberate
            gmm = GaussianMixture(k, covariance_type="full", reg_covar=1e-4, max_iter=MAX_ITER,
                                  random_state=self.random_state).fit(latents)
        self.weights_ = gmm.weights_ / gmm.weights_.sum()
        self.means_ = gmm.means_
        self.cholesky_ = np.linalg.cholesky(gmm.covariances_)
        return self

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """(n, latent_dim) float32 draws: pick a component per row, then mean + L @ eps."""
        counts = rng.multinomial(n, self.weights_)
        # PyTorch's normals, seeded from rng: 2.5x faster than NumPy's (0.11 against 0.27 us
        # a row of 32), which counts when sampling millions of rows. The rest is PyTorch too:
        # it lets go of the GIL and keeps to its thread, where NumPy's BLAS started threads
        # of its own, so two chunks drawn at once took as long as one after the other.
        means, factors = self._tensors()
        normals = torch.Generator().manual_seed(int(rng.integers(2**62)))
        eps = torch.randn(n, means.shape[1], generator=normals)
        z = torch.empty_like(eps)
        start = 0
        for k in np.flatnonzero(counts):  # one matrix product per component, not per row
            rows = slice(start, start + counts[k])
            torch.addmm(means[k], eps[rows], factors[k], out=z[rows])
            start += counts[k]
        # index_select, not z[perm]: the same gather, 6x faster (advanced indexing's overhead)
        return z.index_select(0, torch.from_numpy(rng.permutation(n))).numpy()

    def _tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Means and transposed Cholesky factors as float32 tensors, made once."""
        if getattr(self, "_cached", None) is None or self._cached[0] is not self.means_:
            self._cached = (self.means_, torch.as_tensor(self.means_, dtype=torch.float32),
                            torch.as_tensor(self.cholesky_, dtype=torch.float32).transpose(1, 2)
                            .contiguous())
        return self._cached[1], self._cached[2]

    @classmethod
    def standard_normal(cls, latent_dim: int) -> GaussianMixturePrior:
        """N(0, I), the VAE's training prior, as a one-component mixture."""
        return cls.from_state({"weights": np.ones(1), "means": np.zeros((1, latent_dim)),
                               "cholesky": np.eye(latent_dim)[None]})

    def state(self) -> dict[str, np.ndarray]:
        return {"weights": self.weights_, "means": self.means_, "cholesky": self.cholesky_}

    @classmethod
    def from_state(cls, arrays: dict[str, np.ndarray]) -> GaussianMixturePrior:
        prior = cls(n_components=len(arrays["weights"]))
        prior.weights_, prior.means_, prior.cholesky_ = (
            arrays["weights"], arrays["means"], arrays["cholesky"])
        return prior
