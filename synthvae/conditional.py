"""Rows drawn under conditions ("income is >50K and age in 30..40"), with no rejection loop.

The decoder is autoregressive, so a condition on a column can be imposed where that column is
drawn: its distribution is cut to the allowed classes or interval and renormalised. That alone
would be biased (the latent and the columns drawn before it were chosen blind to the
condition), so each draw also carries the probability mass that its condition had under the
model, and rows are picked from a pool of draws in proportion to it: sequential importance
sampling (Doucet et al. 2001), which gives rows from p(x | condition) as the pool grows.
Every row meets the condition by construction; the pool only buys accuracy, and its size is
bounded, so a rare condition costs time in proportion, never an open-ended loop.
"""
from __future__ import annotations

import logging
import re
from typing import Any

import numpy as np
import torch

from .columns import ConditionError
from .model import VAE, Constraints
from .prior import GaussianMixturePrior

log = logging.getLogger("synthvae")

POOL_PER_ROW = 8       # draws per wanted row in the first pool
MAX_POOL_PER_ROW = 64  # the pool stops growing here, however rare the condition
MIN_POOL = 2048
ESS_PER_ROW = 4.0      # the pool grows until its effective size is this many times n


def draw_conditioned(model: VAE, prior: GaussianMixturePrior, n: int, constraints: Constraints,
                     rng: np.random.Generator, generator: torch.Generator
                     ) -> tuple[np.ndarray, np.ndarray, dict[str, float]]:
    """`n` rows of model outputs (continuous, discrete) that meet `constraints`, and the pool's
    statistics: its size and effective sample size (ESS, Kong 1992)."""
    conts, discs, weights = [], [], []
    size, total = max(MIN_POOL, n * POOL_PER_ROW), 0
    while True:
        z = torch.from_numpy(prior.sample(size, rng))
        cont, disc, log_w = model.generate(z, generator, constraints=constraints)
        conts.append(cont.numpy()); discs.append(disc.numpy()); weights.append(log_w.numpy())
        total += size
        log_w = np.concatenate(weights).astype(np.float64)
        ess = _effective_sample_size(log_w)
        # Picking n of the pool without replacement is faithful while the pool holds well
        # over n rows' worth of weight; otherwise grow it, within the bound.
        limit = max(MIN_POOL, n * MAX_POOL_PER_ROW)
        if ess >= ESS_PER_ROW * n or total >= limit:
            break
        # Draw about what the pool's efficiency so far says is missing, not a blind doubling.
        needed = ESS_PER_ROW * n * total / max(ess, 1.0) * 1.1
        size = int(min(max(needed - total, MIN_POOL), limit - total))
    if ess < n:
        log.warning("condition is rare under the model: effective pool of %.0f draws for %d "
                    "rows; rows follow the condition exactly but their other columns may be "
                    "less varied", ess, n)
    # Gumbel-top-k picks n distinct draws with probability in proportion to their weights.
    keys = log_w + rng.gumbel(size=len(log_w))
    pick = np.argsort(-keys, kind="stable")[:n]
    cont, disc = np.concatenate(conts), np.concatenate(discs)
    return cont[pick], disc[pick], {"pool": total, "effective_pool": float(ess)}


def draw_given(model: VAE, prior: GaussianMixturePrior, given: Constraints, n: int,
               particles: int, rng: np.random.Generator, generator: torch.Generator
               ) -> tuple[np.ndarray, np.ndarray]:
    """`n` rows of model outputs, row i holding the given values of row i of `given` (its
    per-row `codes` and `values`) and the rest drawn from p(x | those values).

    The same sequential importance sampling as `draw_conditioned`, with a pool per row:
    `particles` latents are drawn for each row from the prior, each decoded with the row's
    values imposed, and one is picked in proportion to the likelihood the given values had
    under it. A latent that explains the given values (a parent row's, say) then shapes the
    rest of the row, which a latent drawn blind to them would not."""
    def repeat(t: torch.Tensor) -> torch.Tensor:
        return t.repeat_interleave(particles)

    pool = Constraints(given.classes, given.intervals,
                       {j: repeat(c) for j, c in given.codes.items()},
                       {k: repeat(v) for k, v in given.values.items()})
    z = torch.from_numpy(prior.sample(n * particles, rng))
    cont, disc, log_w = model.generate(z, generator, constraints=pool)
    keys = log_w.numpy().astype(np.float64).reshape(n, particles) + rng.gumbel(
        size=(n, particles))
    pick = np.arange(n) * particles + np.argmax(keys, axis=1)
    return cont.numpy()[pick], disc.numpy()[pick]


def _effective_sample_size(log_w: np.ndarray) -> float:
    finite = log_w[np.isfinite(log_w)]
    if finite.size == 0:
        return 0.0
    w = np.exp(finite - finite.max())
    return float(w.sum() ** 2 / (w ** 2).sum())


_RANGE = re.compile(r"^(?P<low>[^.|]*)\.\.(?P<high>[^.|]*)$")


def parse_where(expressions: list[str]) -> dict[str, Any]:
    """Command-line conditions into `sample(conditions=...)`'s dict.

    `COLUMN=VALUE` (everything after the first "=", so `income=>50K` means ">50K"),
    `COLUMN=A|B` (any of them), `COLUMN=LOW..HIGH` (a range; leave an end empty to open
    it: `age=65..`), `COLUMN=<null>` (missing). A column named twice is an error."""
    conditions: dict[str, Any] = {}
    for text in expressions:
        column, sep, value = text.partition("=")
        column = column.strip()
        if not sep or not column:
            raise ConditionError(f"condition {text!r} is not COLUMN=VALUE (e.g. income=>50K, "
                                 f"age=30..40, sex=Female|Male)")
        if column in conditions:
            raise ConditionError(f"column {column!r} is conditioned twice; use A|B for either")
        match = _RANGE.match(value)
        if value == NULL_TOKEN:
            conditions[column] = None
        elif match and (match["low"].strip() or match["high"].strip()):
            conditions[column] = (match["low"].strip() or None, match["high"].strip() or None)
        elif "|" in value:
            conditions[column] = [None if v == NULL_TOKEN else v for v in value.split("|")]
        else:
            conditions[column] = value
    return conditions


NULL_TOKEN = "<null>"


def as_constraints(classes: dict[int, np.ndarray],
                   intervals: dict[int, tuple[float, float]]) -> Constraints:
    return Constraints({j: torch.from_numpy(np.asarray(m, bool)) for j, m in classes.items()},
                       dict(intervals))
