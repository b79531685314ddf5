"""How unlikely a row is under the fitted model, and which columns make it so.

The score is the row's negative log-likelihood, -log p(x), estimated by importance sampling
over the encoder's posterior (the IWAE bound of Burda et al. 2016 with K draws): tighter than
the ELBO, and like it, in nats. A row whose columns disagree with each other (a husband who is
female, a degree that does not match the years of schooling) gets a high score even when each
value alone is common, because the autoregressive decoder scores every column given the
others drawn before it.

The explanation splits the score by column: each column's expected negative log-likelihood
given the latent and the columns before it, plus whatever the latent itself costs
("(latent)"), so the parts add up to the score.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from .model import VAE

SCORE_BATCH = 4096
LATENT_COLUMN = "(latent)"


@torch.no_grad()
def score_rows(model: VAE, continuous: np.ndarray, discrete: np.ndarray, n_draws: int,
               generator: torch.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(-log p(x) per row, (rows, slots) expected negative log-likelihood per model output)."""
    model.eval()
    scores, per_slot = [], []
    for start in range(0, len(continuous), SCORE_BATCH):
        cont = torch.from_numpy(continuous[start:start + SCORE_BATCH])
        disc = torch.from_numpy(discrete[start:start + SCORE_BATCH])
        mean, logvar = model.encode(cont, disc)
        log_w, slot_nll = [], 0.0
        for _ in range(n_draws):
            z = VAE.reparameterize(mean, logvar, generator)
            nll = model.reconstruction_nll(cont, disc, z)
            log_prior = -0.5 * (z ** 2 + math.log(2 * math.pi)).sum(1)
            log_posterior = -0.5 * ((z - mean) ** 2 / logvar.exp() + logvar
                                    + math.log(2 * math.pi)).sum(1)
            log_w.append(-nll.sum(1) + log_prior - log_posterior)
            slot_nll = slot_nll + nll / n_draws
        log_px = torch.logsumexp(torch.stack(log_w), 0) - math.log(n_draws)
        scores.append((-log_px).numpy())
        per_slot.append(slot_nll.numpy())
    if not scores:
        return np.zeros(0), np.zeros((0, len(model.cfg.cardinalities) + model.cfg.n_continuous))
    return np.concatenate(scores).astype(np.float64), np.concatenate(per_slot).astype(np.float64)
