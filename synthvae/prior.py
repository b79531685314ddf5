"""A density over the latent space, fitted after training, to sample from instead of N(0, I).

The encoder never fills N(0, I) exactly: some regions of the prior hold no training rows (the
"prior hole"), and decoding latents from there gives implausible rows. Fitting a Gaussian
mixture to the aggregate posterior (latents of the real rows) and sampling from it fixes most
of that (Ghosh et al. 2020, "From variational to deterministic autoencoders", sec. 4).
"""
from __future__ import annotations

import numpy as np
from sklearn.mixture import GaussianMixture

FIT_SUBSAMPLE = 50_000


class GaussianMixturePrior:
    def __init__(self, n_components: int = 20, random_state: int = 0):
        self.n_components = n_components
        self.random_state = random_state

    def fit(self, latents: np.ndarray) -> GaussianMixturePrior:
        rng = np.random.default_rng(self.random_state)
        if len(latents) > FIT_SUBSAMPLE:
            latents = latents[rng.choice(len(latents), FIT_SUBSAMPLE, replace=False)]
        k = max(1, min(self.n_components, len(latents) // 20))
        gmm = GaussianMixture(k, covariance_type="full", reg_covar=1e-4, max_iter=100,
                              random_state=self.random_state).fit(latents)
        self.weights_ = gmm.weights_ / gmm.weights_.sum()
        self.means_ = gmm.means_
        self.cholesky_ = np.linalg.cholesky(gmm.covariances_)
        return self

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """(n, latent_dim) float32 draws: pick a component per row, then mean + L @ eps."""
        counts = rng.multinomial(n, self.weights_)
        eps = rng.standard_normal((n, self.means_.shape[1])).astype(np.float32)
        z = np.empty_like(eps)
        start = 0
        for k in np.flatnonzero(counts):  # one matrix product per component, not per row
            rows = slice(start, start + counts[k])
            z[rows] = self.means_[k] + eps[rows] @ self.cholesky_[k].T.astype(np.float32)
            start += counts[k]
        return z[rng.permutation(n)]

    def state(self) -> dict[str, np.ndarray]:
        return {"weights": self.weights_, "means": self.means_, "cholesky": self.cholesky_}

    @classmethod
    def from_state(cls, arrays: dict[str, np.ndarray]) -> GaussianMixturePrior:
        prior = cls(n_components=len(arrays["weights"]))
        prior.weights_, prior.means_, prior.cholesky_ = (
            arrays["weights"], arrays["means"], arrays["cholesky"])
        return prior
