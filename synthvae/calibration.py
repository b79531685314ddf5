"""Class frequencies of the sampled rows matched to the training rows', after training.

A VAE's rows are decoded from the prior, not from the posteriors it was trained on, and
the two never agree exactly, so each categorical output's class shares drift (a 60% null
rate comes back as 69% on a 2,500-row table). Such a drift is the first thing a classifier
notices. After the prior is fitted, rows are drawn and each discrete head's output bias is
shifted by log(real share / sampled share), a few rounds (the heads are autoregressive, so
a shift early on moves the classes after it). Shifting a softmax's bias moves every row's
class odds by the same factor: the dependence of a class on z and on the other columns,
which is what the model learned, stays as it was (the least-change, I-projection, fix).
"""
from __future__ import annotations

import numpy as np
import torch

from .model import VAE
from .prior import GaussianMixturePrior

ROWS = 20_000  # rows drawn per round: a 1% class is then counted to about +-7% of itself
# Confident heads move less than their bias shift says, so a few rounds; they stop once no
# share is off by more than TOLERANCE, about the draw's own noise on a 50% class.
ROUNDS = 8
TOLERANCE = 0.003
SMOOTHING = 0.5  # counts added to every class, so a class never drawn gets a finite shift


@torch.no_grad()
def calibrate_marginals(model: VAE, prior: GaussianMixturePrior, codes: np.ndarray,
                        seed: int) -> dict[str, float]:
    """Shifts `model`'s discrete head biases so rows drawn from `prior` have the class shares
    of `codes` (the training rows' discrete outputs). Returns the largest absolute share
    difference over all classes before and after."""
    heads = model.heads
    if heads.n_discrete == 0 or len(codes) == 0:
        return {"max_share_gap_before": 0.0, "max_share_gap_after": 0.0}
    target = [_shares(codes[:, j], c) for j, c in enumerate(heads.cardinalities)]
    rng = np.random.default_rng(seed)
    z = torch.from_numpy(prior.sample(ROWS, rng))
    noise_seed = int(rng.integers(2**62))
    gaps = []
    for round_ in range(ROUNDS + 1):
        # The same latents and noise every round: the shifts, not the draws, change.
        _, drawn, _ = model.generate(z, torch.Generator().manual_seed(noise_seed), fuse=False)
        drawn = drawn.numpy()
        shares = [_shares(drawn[:, j], c) for j, c in enumerate(heads.cardinalities)]
        gaps.append(max(float(np.abs(s - t).max()) for s, t in zip(shares, target)))
        if round_ == ROUNDS or gaps[-1] <= TOLERANCE:
            break
        for head, s, t in zip(heads.discrete_heads, shares, target):
            head.bias += torch.from_numpy(np.log(t / s)).to(head.bias.dtype)
    return {"max_share_gap_before": round(gaps[0], 4), "max_share_gap_after": round(gaps[-1], 4)}


def _shares(codes: np.ndarray, n_classes: int) -> np.ndarray:
    counts = np.bincount(codes, minlength=n_classes).astype(np.float64) + SMOOTHING
    return counts / counts.sum()
