"""Privacy attacks on a synthetic table, each judged against real rows the model never saw.

- singling out, linkability and attribute inference after Anonymeter (Giomi et al., "A
  Unified Framework for Quantifying Privacy Risk in Synthetic Data", PoPETs 2023),
  reimplemented with numpy / scikit-learn because anonymeter pins numpy<1.27: each attack's
  success on training targets against its success on holdout targets (the control) and a
  naive attacker's (the baseline), as a risk with its 95% interval and p-value;
- membership inference: ROC AUC of telling training from holdout rows by their distance to
  the closest synthetic row, with its bootstrap interval and Mann-Whitney p-value.

`synthvae.evaluation.privacy.privacy_report` runs them as its `attacks` and
`membership_inference` sections.
"""

from __future__ import annotations

import math
import time

import numpy as np
import pandas as pd
from scipy.stats import hypergeom, mannwhitneyu, norm, rankdata
from sklearn.metrics import roc_auc_score

from synthvae.evaluation.fidelity import (
    NULL,
    as_float,
    as_scored,
    encode_for_distance,
    number,
    row_hashes,
    scored_metadata,
)
from synthvae.evaluation.nearest import (
    NUMERIC_SDTYPES,
    Seed,
    child_seeds,
    nearest,
    p_above,
    sample_rows,
    seconds_since,
    within_tolerance,
)

# Anonymeter's default is 3 columns, but on Adult only 1 in 400 such predicates isolates one
# of 26,000 rows: too few predicates for a useful interval. With 5, about 1 in 30 does.
SINGLING_OUT_COLUMNS = 5
SINGLING_OUT_MAX_ROWS = 50_000  # rows of each real set the predicates are evaluated on
SINGLING_OUT_MAX_ATTEMPTS = 10  # candidate predicates tried per predicate wanted
INFERENCE_TOLERANCE = 0.05  # a numeric secret is guessed when within 5% (Anonymeter's rule)
CONFIDENCE = 0.95
BOOTSTRAP_ROUNDS = 500

# Predicate operators as codes, so that thousands of predicates evaluate as arrays.
EQ, NE, GT, LT, GE, LE, IS_NULL, NOT_NULL = range(8)
_COMPARE = {
    EQ: np.equal,
    NE: np.not_equal,
    GT: np.greater,
    LT: np.less,
    GE: np.greater_equal,
    LE: np.less_equal,
    IS_NULL: lambda x, v: np.isnan(x),
    NOT_NULL: lambda x, v: ~np.isnan(x),
}


# ---------------------------------------------------------------------------------------
# Anonymeter-style attacks


def attack_risks(
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    synthetic: pd.DataFrame,
    metadata: dict,
    secrets: list[str],
    seed: Seed,
    n_attacks: int = 2000,
) -> dict:
    """Singling out (univariate, multivariate), linkability and inference (per secret).

    Each attack: attack_rate on training targets, control_rate on holdout targets,
    baseline_rate of a naive attacker, risk = (attack − control) / (1 − control) with its
    95% interval (Wilson rates, error propagated as Anonymeter does), clipped to [0, 1].
    """
    start = time.perf_counter()
    metadata = scored_metadata(metadata)
    seeds = child_seeds(seed, 4)
    # Repeated synthetic rows give an attacker nothing, and would split nearest-row ties.
    synthetic = _unique_rows(synthetic, metadata, train)
    result = {
        f"singling_out_{mode}": _singling_out(
            *(train, holdout, synthetic, metadata), mode, s, n_attacks
        )
        for mode, s in (("univariate", seeds[0]), ("multivariate", seeds[1]))
    }
    # Each column's distance encoding (evaluate's DCR one) in train, holdout and synthetic.
    blocks = {
        name: encode_for_distance([train, holdout, synthetic], {"columns": {name: meta}})
        for name, meta in metadata["columns"].items()
    }
    result["linkability"] = _linkability(train, holdout, metadata, blocks, seeds[2], n_attacks)
    rng = np.random.default_rng(seeds[3])
    result["inference"] = {
        secret: _inference(train, holdout, synthetic, metadata, blocks, secret, rng, n_attacks)
        for secret in secrets
    }
    result["seconds"] = seconds_since(start)
    return result


def _singling_out(train, holdout, synthetic, metadata, mode, seed, n_attacks) -> dict:
    """Predicates that isolate one synthetic row: how often do they isolate one real row?

    univariate: a column's only null, its minimum or maximum, a value seen once;
    multivariate: a random synthetic row on SINGLING_OUT_COLUMNS random columns, `==` on
    categories, `>=` / `<=` on numbers above / below the median (Anonymeter's rules).
    Predicates come from as many synthetic rows as the deduplicated training set has, so
    they are as specific as isolating a training row calls for.

    A predicate isolates one row less often in a larger set, so success is judged at one
    size n: in n deduplicated holdout rows, and for training, the expected share over random
    n-row subsets of the training rows (hypergeometric: exact, no sampling noise). Anonymeter
    instead extrapolates the control to the training set's size along a fitted curve; on
    Adult that read an independent sample as a risk of 0.1. The price: with a smaller
    holdout a training row is in the subset only n/N of the time, so a model that copies
    every row scores about n/N (0.25 with a 20% holdout); exact_copies and
    membership_inference see copying in full.
    """
    start = time.perf_counter()
    rng = np.random.default_rng(seed)
    ori = _unique_rows(sample_rows(train, SINGLING_OUT_MAX_ROWS, rng), metadata, train)
    control = _unique_rows(sample_rows(holdout, SINGLING_OUT_MAX_ROWS, rng), metadata, train)
    n = min(len(ori), len(control))
    control, pool = sample_rows(control, n, rng), sample_rows(synthetic, len(ori), rng)
    ori_x, control_x, pool_x = _predicate_tables([ori, control, pool], metadata, train)
    numeric = np.array([m["sdtype"] in NUMERIC_SDTYPES for m in metadata["columns"].values()])
    if mode == "univariate":
        n_cols, queries = 1, _univariate_queries(pool_x, numeric, rng)
    else:
        n_cols = min(SINGLING_OUT_COLUMNS, len(pool_x))
        queries = _multivariate_queries(pool_x, numeric, n_cols, n_attacks, rng)
    queries = tuple(q[:n_attacks] for q in queries)
    n_queries = len(queries[0])
    details = {
        "columns_per_predicate": n_cols,
        "rows": {"train": len(ori), "holdout": n, "evaluated_at": n, "synthetic": pool_x.shape[1]},
    }
    if n_queries == 0:  # nothing in the synthetic rows singles anyone out
        return {"risk": 0.0, "ci": [0.0, 0.0], "attacks": 0, "note": "no predicate isolates a "
                "synthetic row"} | details | {"seconds": seconds_since(start)}  # fmt: skip

    def in_training_subset(predicates):  # expected isolations in a random n-row subset
        return hypergeom.pmf(1, len(ori), _count_matches(ori_x, *predicates), n).sum()

    control_successes = np.sum(_count_matches(control_x, *queries) == 1)
    baseline = _random_queries(pool_x, numeric, n_cols, n_queries, rng)
    result = _risk(in_training_subset(queries), n_queries, control_successes, n_queries,
                   in_training_subset(baseline), n_queries)  # fmt: skip
    if n_queries < n_attacks:
        result["note"] = f"only {n_queries} of {n_attacks} predicates isolate a synthetic row"
    return result | details | {"seconds": seconds_since(start)}


def _linkability(train, holdout, metadata, blocks, seed, n_attacks) -> dict:
    """Split the columns in two halves an attacker holds in two separate sources; link a
    target's halves through the nearest synthetic row of each. Success: the same row.

    Columns are dealt alternately in order of decreasing distinct values on the training
    rows, so each half carries some identifying columns.
    """
    start = time.perf_counter()
    columns = list(metadata["columns"])
    if len(columns) < 2:
        return {"risk": None, "ci": None, "skipped": "linkability needs two columns or more"}
    rng = np.random.default_rng(seed)
    distinct = {c: train[c].nunique(dropna=False) for c in columns}
    ordered = sorted(columns, key=lambda c: -distinct[c])
    halves = [ordered[0::2], ordered[1::2]]
    targets = [_pick(len(train), n_attacks, rng), _pick(len(holdout), n_attacks, rng)]
    links = [_links(blocks, half, targets) for half in halves]  # per half, per target set
    successes = [np.sum(links[0][frame] == links[1][frame]) for frame in (0, 1)]
    n_syn = len(blocks[columns[0]][2])
    random_links = rng.integers(n_syn, size=(2, len(targets[0])))  # Anonymeter's naive attacker
    baseline = np.sum(random_links[0] == random_links[1])
    result = _risk(successes[0], len(targets[0]), successes[1], len(targets[1]),
                   baseline, len(targets[0]))  # fmt: skip
    return result | {
        "aux_columns": halves,
        "rows": {"train": len(targets[0]), "holdout": len(targets[1]), "synthetic": n_syn},
        "seconds": seconds_since(start),
    }


def _inference(train, holdout, synthetic, metadata, blocks, secret, rng, n_attacks) -> dict:
    """Guess `secret` as the value of the nearest synthetic row on all other columns.

    A category is guessed when equal; a number when within INFERENCE_TOLERANCE of the secret
    (relative). The naive attacker guesses a random synthetic row's value.
    """
    start = time.perf_counter()
    aux = [c for c in metadata["columns"] if c != secret]
    if not aux:
        return {"risk": None, "ci": None, "skipped": "inference needs a column besides the secret"}
    meta = metadata["columns"][secret]
    numeric = meta["sdtype"] in NUMERIC_SDTYPES
    values = [_values(f[secret], meta, train[secret]) for f in (train, holdout, synthetic)]
    targets = [_pick(len(values[frame]), n_attacks, rng) for frame in (0, 1)]
    links = _links(blocks, aux, targets)
    successes = [np.sum(_guessed(values[2][link], values[frame][idx], numeric))
                 for frame, (idx, link) in enumerate(zip(targets, links))]  # fmt: skip
    naive = values[2][rng.integers(len(values[2]), size=len(targets[0]))]
    baseline = np.sum(_guessed(naive, values[0][targets[0]], numeric))
    n_train, n_control = len(targets[0]), len(targets[1])
    result = _risk(successes[0], n_train, successes[1], n_control, baseline, n_train)
    return result | {
        "aux_columns": len(aux),
        "rows": {"train": n_train, "holdout": n_control, "synthetic": len(values[2])},
        "seconds": seconds_since(start),
    }


# ---------------------------------------------------------------------------------------
# Membership inference


def membership_inference(
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    synthetic: pd.DataFrame,
    metadata: dict,
    seed: Seed,
    max_rows: int = 5000,
) -> dict:
    """Tell training rows from holdout rows by their distance to the closest synthetic row
    (closer = member), on equal-size samples of each. ROC AUC with a 95% interval from a
    stratified bootstrap (BOOTSTRAP_ROUNDS rounds); 0.5 is chance."""
    start = time.perf_counter()
    metadata = scored_metadata(metadata)
    rng = np.random.default_rng(seed)
    n = min(len(train), len(holdout), max_rows)
    members, non_members = sample_rows(train, n, rng), sample_rows(holdout, n, rng)
    synthetic = _unique_rows(synthetic, metadata, train)  # the same distances, found faster
    _, member_x, non_member_x, synthetic_x = encode_for_distance(
        [train, members, non_members, synthetic], metadata
    )
    dcr = nearest(synthetic_x, np.vstack([member_x, non_member_x]), distance=True)[0]
    auc = roc_auc_score(np.r_[np.ones(n), np.zeros(n)], -dcr)
    # All bootstrap rounds at once: the AUC is the members' rank sum (Mann-Whitney U).
    idx = np.hstack([rng.integers(n, size=(BOOTSTRAP_ROUNDS, n)),
                     n + rng.integers(n, size=(BOOTSTRAP_ROUNDS, n))])  # fmt: skip
    ranks = rankdata(-dcr[idx], axis=1)  # ties share their average rank, as in roc_auc_score
    boot = (ranks[:, :n].sum(axis=1) - n * (n + 1) / 2) / (n * n)
    low, high = np.quantile(boot, [(1 - CONFIDENCE) / 2, (1 + CONFIDENCE) / 2])
    # Against chance: Mann-Whitney's normal approximation, corrected for tied distances
    # (rows repeated in the real data sit at distance 0 on both sides).
    p_value = mannwhitneyu(dcr[:n], dcr[n:], alternative="less", method="asymptotic").pvalue
    return {
        "auc": number(auc),
        "auc_ci": [number(low), number(high)],
        "p_value": float(f"{p_value:.3g}"),
        "dcr_mean_train": number(dcr[:n].mean()),
        "dcr_mean_holdout": number(dcr[n:].mean()),
        "bootstrap_rounds": BOOTSTRAP_ROUNDS,
        "rows": {"train": n, "holdout": n, "synthetic": len(synthetic_x)},
        "seconds": seconds_since(start),
    }


# ---------------------------------------------------------------------------------------
# Risk arithmetic, after Anonymeter's stats/confidence.py


def _wilson(successes: float, total: int) -> tuple[float, float]:
    """Wilson score estimate of a success rate, and its error at CONFIDENCE."""
    z = norm.ppf(0.5 * (1 + CONFIDENCE))
    denominator = total + z * z
    rate = (successes + 0.5 * z * z) / denominator
    error = z / denominator * math.sqrt(successes * (total - successes) / total + 0.25 * z * z)
    return rate, error


def _risk(successes, total, control_successes, control_total, baseline_successes, baseline_total):
    """risk = (attack − control) / (1 − control), its error propagated to first order;
    value and interval clipped to [0, 1]. Singling out's training successes are expected
    counts, so they may be fractional."""
    attack, attack_error = _wilson(successes, total)
    control, control_error = _wilson(control_successes, control_total)
    baseline, _ = _wilson(baseline_successes, baseline_total)
    residual = (attack - control) / (1 - control)  # Wilson keeps control below 1
    error = math.hypot(
        attack_error / (1 - control), control_error * (1 - attack) / (1 - control) ** 2
    )
    result = {
        "risk": _clipped(residual),
        "ci": [_clipped(residual - error), _clipped(residual + error)],
        "p_value": p_above(residual, error / norm.ppf(0.5 * (1 + CONFIDENCE))),
        "attack_rate": number(attack),
        "control_rate": number(control),
        "baseline_rate": number(baseline),
        "attacks": int(total),
        "successes": number(successes, 2),
        "control_attacks": int(control_total),
        "control_successes": number(control_successes, 2),
        "baseline_successes": number(baseline_successes, 2),
    }
    if baseline >= attack:  # Anonymeter's sanity check
        result["warning"] = "the attack does no better than random guessing"
    return result


def _clipped(x: float) -> float:
    return number(min(max(x, 0.0), 1.0))


# ---------------------------------------------------------------------------------------
# Predicates as arrays


def _predicate_tables(frames, metadata, reference) -> list[np.ndarray]:
    """Each frame as a float32 matrix (scored columns × rows) of dense ranks over all frames.
    Ranks keep every order and equality of the values (categories: of their labels, null
    a category; numbers: null stays NaN), are exact in float32 and compare fast."""
    tables = [[] for _ in frames]
    sizes = np.cumsum([len(f) for f in frames])[:-1]
    for name, meta in metadata["columns"].items():
        values = np.concatenate([_values(f[name], meta, reference[name]) for f in frames])
        if meta["sdtype"] in NUMERIC_SDTYPES:
            ranks = np.full(len(values), np.nan, dtype=np.float32)
            present = ~np.isnan(values)
            ranks[present] = np.unique(values[present], return_inverse=True)[1]
        else:
            ranks = pd.factorize(values)[0].astype(np.float32)
        for table, part in zip(tables, np.split(ranks, sizes)):
            table.append(part)
    return [np.vstack(t) for t in tables]


def _count_matches(table, cols, ops, vals, chunk=1_000_000) -> np.ndarray:
    """Rows of `table` (columns × rows) each predicate matches. Predicate q is the AND over
    j of `table[cols[q, j]] ops[q, j] vals[q, j]`; the arrays are (predicates × conditions).
    Chunks of about `chunk` booleans stay in cache (3x faster than one big mask)."""
    n_rows = table.shape[1]
    counts = np.zeros(len(cols), dtype=np.int64)
    step = max(1, chunk // max(n_rows, 1))
    for start in range(0, len(cols), step):
        c, o, v = cols[start : start + step], ops[start : start + step], vals[start : start + step]
        match = np.ones((len(c), n_rows), dtype=bool)
        for j in range(c.shape[1]):
            for op in np.unique(o[:, j]):  # one vectorised comparison per operator
                sel = np.flatnonzero(o[:, j] == op)
                match[sel] &= _COMPARE[op](table[c[sel, j]], v[sel, j, None])
        counts[start : start + step] = match.sum(axis=1)
    return counts


def _univariate_queries(pool, numeric, rng):
    """Anonymeter's univariate predicates (a column's only null, its minimum and maximum, a
    value seen once) that isolate one pool row, in random order."""
    conditions = []  # (column, operator, value)
    for j, column in enumerate(pool):
        missing = np.isnan(column)
        if missing.sum() == 1:
            conditions.append((j, IS_NULL, 0.0))
        present = column[~missing]
        if numeric[j] and len(present):
            conditions += [(j, LE, present.min()), (j, GE, present.max())]
        values, counts = np.unique(present, return_counts=True)
        conditions += [(j, EQ, value) for value in values[counts == 1]]
    conditions = [conditions[i] for i in rng.permutation(len(conditions))]
    cols, ops, vals = (np.array([c[k] for c in conditions]).reshape(-1, 1) for k in range(3))
    return _isolating(pool, _distinct((cols.astype(int), ops.astype(int), vals.astype(np.float32))))


def _multivariate_queries(pool, numeric, n_cols, n_queries, rng, batch=2000):
    """Predicates from random pool rows on n_cols random columns, until n_queries isolate one
    pool row or SINGLING_OUT_MAX_ATTEMPTS × n_queries candidates were tried."""
    medians = np.zeros(len(pool), dtype=np.float32)
    for j in np.flatnonzero(numeric & ~np.isnan(pool).all(axis=1)):
        medians[j] = np.nanmedian(pool[j])
    found = (
        np.empty((0, n_cols), int),
        np.empty((0, n_cols), int),
        np.empty((0, n_cols), np.float32),
    )
    tried = 0
    while len(found[0]) < n_queries and tried < SINGLING_OUT_MAX_ATTEMPTS * n_queries:
        cols = _random_columns(rng, batch, len(pool), n_cols)
        vals = pool[cols, rng.integers(pool.shape[1], size=batch)[:, None]]
        ops = np.where(numeric[cols], np.where(vals > medians[cols], GE, LE), EQ)
        ops = np.where(np.isnan(vals), IS_NULL, ops)
        new = _isolating(pool, (cols, ops, np.where(np.isnan(vals), 0, vals)))
        found = _distinct(tuple(np.concatenate(pair) for pair in zip(found, new)))
        tried += batch
    return found


def _random_queries(pool, numeric, n_cols, n_queries, rng):
    """Anonymeter's naive attacker: random columns, values and operators."""
    cols = _random_columns(rng, n_queries, len(pool), n_cols)
    vals = pool[cols, rng.integers(pool.shape[1], size=cols.shape)]  # values the columns take
    ops = np.where(numeric[cols], rng.choice([EQ, NE, GT, LT, GE, LE], size=cols.shape),
                   rng.choice([EQ, NE], size=cols.shape))  # fmt: skip
    missing = np.isnan(vals)
    ops = np.where(missing, rng.choice([IS_NULL, NOT_NULL], size=cols.shape), ops)
    return cols, ops, np.where(missing, 0, vals)


def _random_columns(rng, n_queries, n_columns, n_cols) -> np.ndarray:
    """n_cols distinct random column indices per predicate, sorted."""
    return np.sort(np.argsort(rng.random((n_queries, n_columns)), axis=1)[:, :n_cols], axis=1)


def _distinct(queries):
    """The distinct predicates, in order of first occurrence."""
    if len(queries[0]) == 0:
        return queries
    _, first = np.unique(np.hstack(queries), axis=0, return_index=True)
    keep = np.sort(first)
    return tuple(q[keep] for q in queries)


def _isolating(pool, queries):
    """The predicates that match exactly one pool row."""
    keep = _count_matches(pool, *queries) == 1
    return tuple(q[keep] for q in queries)


# ---------------------------------------------------------------------------------------
# Small helpers


def _links(blocks, columns, targets) -> list[np.ndarray]:
    """For the training targets and the holdout targets (row indices), the index of each
    one's nearest synthetic row on `columns` (`blocks`: each column's distance encoding in
    train, holdout and synthetic)."""

    def stack(frame):
        return np.hstack([blocks[c][frame] for c in columns])

    return nearest(stack(2), *(stack(frame)[idx] for frame, idx in enumerate(targets)))


def _values(s: pd.Series, meta: dict, reference: pd.Series) -> np.ndarray:
    """A column as scored: floats (NaN for null) for a number or date, labels (NULL for
    null) for a category."""
    one = {"columns": {s.name: meta}}
    scored = as_scored(s.to_frame(), one, reference.to_frame())[s.name]
    if meta["sdtype"] in NUMERIC_SDTYPES:
        return as_float(scored)
    return scored.astype(str).where(scored.notna(), NULL).to_numpy()


def _guessed(guess, secret, numeric) -> np.ndarray:
    if not numeric:
        return guess == secret
    return within_tolerance(guess, secret, INFERENCE_TOLERANCE)


def _unique_rows(df, metadata, reference) -> pd.DataFrame:
    repeated = pd.Series(row_hashes(df, metadata, reference)).duplicated().to_numpy()
    return df[~repeated].reset_index(drop=True)


def _pick(n_rows, n, rng) -> np.ndarray:
    return np.sort(rng.choice(n_rows, size=min(n, n_rows), replace=False))
