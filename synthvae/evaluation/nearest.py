"""Rows against rows, for the privacy sections and the attacks.

- `nearest`: each row's nearest reference row under the distance encoding, exact search
  (linkability, inference and membership inference link a real row to a synthetic one);
- `training_credit`: whether a row's nearest real row is a training row, ties sharing the
  credit (closer_to_training);
- `within_tolerance`: "equal" for numbers, relative to one side (SDMetrics' NewRowSynthesis
  and Anonymeter's inference use the same rule);
- the row samples, child seeds, seconds and one-sided p-value every section records.

`privacy` and `attacks` both build on this module, so neither restates it.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
from scipy.stats import norm
from sklearn.neighbors import NearestNeighbors

NUMERIC_SDTYPES = ("numerical", "datetime")
CREDIT_CHUNK = 256  # rows per distance block (256 x 32,000 floats: 33 MB)
Seed = int | np.random.SeedSequence  # sections take a child seed of the report's random_state


def nearest(reference: np.ndarray, *queries: np.ndarray, distance: bool = False) -> list:
    """For each query matrix, the index of each row's nearest `reference` row (Euclidean,
    exact search), or with `distance` its distance."""
    index = NearestNeighbors(n_neighbors=1, algorithm="brute").fit(reference)
    if distance:
        return [index.kneighbors(q)[0][:, 0] for q in queries]
    return [index.kneighbors(q, return_distance=False)[:, 0] for q in queries]


def training_credit(train_x: np.ndarray, holdout_x: np.ndarray, rows_x: np.ndarray) -> np.ndarray:
    """For each row of `rows_x`, the share of its nearest real rows (training and holdout
    rows together) that are training rows: 1 or 0, a fraction when several tie.

    Every training and holdout row is a candidate, in float32 blocks of CREDIT_CHUNK rows:
    a subsample would let a copied row miss its source."""
    reference = np.vstack([train_x, holdout_x]).astype(np.float32)
    squared = np.einsum("ij,ij->i", reference, reference)
    n_train = len(train_x)
    credit = np.empty(len(rows_x))
    for lo in range(0, len(rows_x), CREDIT_CHUNK):
        rows = rows_x[lo:lo + CREDIT_CHUNK].astype(np.float32)
        # ||r||^2 - 2 r.s ranks the references by distance to s (||s||^2 is common).
        distance = squared[None, :] - 2.0 * rows @ reference.T
        closest = distance.min(axis=1, keepdims=True)
        # float32 rounding: a tie is within a hair of the nearest, scaled to the norms
        tol = 1e-5 * (1.0 + np.abs(closest) + np.einsum("ij,ij->i", rows, rows)[:, None])
        tied = distance <= closest + tol
        credit[lo:lo + len(rows)] = tied[:, :n_train].sum(axis=1) / tied.sum(axis=1)
    return credit


def within_tolerance(values, reference, tolerance: float) -> np.ndarray:
    """Whether each value lies within `tolerance` of `reference`, relative to the reference
    (arrays broadcast). An infinite reference is met by itself only, since inf lies within
    any share of inf; a null reference by a null only."""
    with np.errstate(invalid="ignore"):  # inf - inf, comparisons with NaN
        near = np.abs(values - reference) <= tolerance * np.abs(reference)
    near = np.where(np.isinf(reference), values == reference, near)
    return np.where(np.isnan(reference), np.isnan(values), near)


# ---------------------------------------------------------------------------------------
# Shared by every section


def sample_rows(df: pd.DataFrame, n: int, rng) -> pd.DataFrame:
    return df if len(df) <= n else df.sample(n, random_state=rng).reset_index(drop=True)


def child_seeds(seed: Seed, n: int) -> list[np.random.SeedSequence]:
    return (
        seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    ).spawn(n)


def seconds_since(start: float) -> float:
    return round(time.perf_counter() - start, 2)


def p_above(estimate: float, standard_error: float) -> float:
    """One-sided p-value of `estimate` above 0 for a normal estimate (gate figures round to
    3 significant digits so that a p-value of 1e-30 stays readable in JSON)."""
    if standard_error <= 0:
        return 0.0 if estimate > 0 else 1.0
    return float(f"{norm.sf(estimate / standard_error):.3g}")
