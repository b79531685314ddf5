"""Privacy evidence for a synthetic table (issue #5): can its rows be traced back to the
real rows the model was trained on?

Every figure compares the training rows (`train`) with real rows the model never saw
(`holdout`, the control). An attack that works as well on holdout rows as on training rows
learns about the population, not about the people in the training set, and is no risk.

Sections of `privacy_report`, each a plain JSON-serialisable dict with its rows and seconds:
- sdmetrics: SDMetrics 0.32 privacy metrics on explicit subsamples;
- closer_to_training: how often a synthetic row's nearest real row is a training row, against
  the share a real unseen row would have;
- exact_copies: synthetic rows equal to a training row, against the holdout's own rate;
- attacks: singling out, linkability and attribute inference after Anonymeter (Giomi et al.,
  "A Unified Framework for Quantifying Privacy Risk in Synthetic Data", PoPETs 2023),
  reimplemented with numpy / scikit-learn because anonymeter pins numpy<1.27;
- membership_inference: ROC AUC of telling training from holdout rows by their distance to
  the closest synthetic row.

Every gated figure carries a one-sided p-value against "no more leak than real unseen rows";
`synthvae.evaluation.gate.PrivacyGate` turns a report into the list of failed figures. Nothing here
imports Prefect.
"""

from __future__ import annotations

import math
import time
import warnings
from contextlib import contextmanager

import numpy as np
import pandas as pd
from scipy.stats import hypergeom, mannwhitneyu, norm, rankdata
from scipy.stats.contingency import association
from sdmetrics.single_table import (
    DCRBaselineProtection,
    DCROverfittingProtection,
    DisclosureProtectionEstimate,
)
from sklearn.metrics import roc_auc_score
from sklearn.neighbors import NearestNeighbors

from synthvae.evaluation.fidelity import (
    NULL,
    nothing_to_score,
    as_float,
    as_scored,
    check_columns,
    encode_for_distance,
    number,
    row_hashes,
    scored_metadata,
    exact_copies,
)
from synthvae.evaluation.gate import PrivacyGate

# SDMetrics' DCR metrics compare every synthetic row with every reference row in pandas,
# about 2 s per million pairs on a busy 2-core machine. Their own `num_rows_subsample`
# shrinks the real reference to the synthetic sample's size, so at an affordable 1,000 rows
# a copied training row finds its source in the reference 4% of the time on Adult and
# copying goes unseen. We subsample ourselves: few synthetic rows, a larger reference.
SDM_DCR_SYNTHETIC_ROWS = 500
SDM_DCR_REFERENCE_ROWS = 3000
# Their cost grows with columns too: 300 columns took minutes. Wider tables are measured on
# this many columns drawn at random (Adult has 15, all measured).
SDM_DCR_MAX_COLUMNS = 20
SDM_NEW_ROW_SYNTHETIC_ROWS = 200  # synthetic rows matched against every training row
SDM_DISCLOSURE_ROWS = 1000  # DisclosureProtectionEstimate's own subsample per iteration
SDM_DISCLOSURE_ITERATIONS = 3
DISCLOSURE_KNOWN_COLUMNS = 3  # the attacker knows the columns most associated with a secret
DISCRETE_BINS = 10  # DisclosureProtection's default bins for continuous columns

# Anonymeter's default is 3 columns, but on Adult only 1 in 400 such predicates isolates one
# of 26,000 rows: too few predicates for a useful interval. With 5, about 1 in 30 does.
SINGLING_OUT_COLUMNS = 5
SINGLING_OUT_MAX_ROWS = 50_000  # rows of each real set the predicates are evaluated on
SINGLING_OUT_MAX_ATTEMPTS = 10  # candidate predicates tried per predicate wanted
INFERENCE_TOLERANCE = 0.05  # a numeric secret is guessed when within 5% (Anonymeter's rule)
CONFIDENCE = 0.95
BOOTSTRAP_ROUNDS = 500
# closer_to_training compares this many synthetic rows with every training and holdout row
# (about 1 s on Adult); the share's noise is then about ±0.01.
CLOSER_SYNTHETIC_ROWS = 2000
CLOSER_CHUNK = 256  # synthetic rows per distance block (256 x 32,000 floats: 33 MB)

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
_NUMERIC_SDTYPES = ("numerical", "datetime")
Seed = int | np.random.SeedSequence  # sections take a child seed of the report's random_state


# ---------------------------------------------------------------------------------------
# Options


def check_privacy_options(
    columns, sensitive: list[str] | None = None, gate: PrivacyGate | None = None
) -> list[str] | None:
    """Check the privacy options before any training: the sensitive columns exist and the
    gate's thresholds lie in [0, 1]. Returns `sensitive` without repeats (None stays None:
    the report then attacks the last column)."""
    if gate is not None:
        gate.validate()
    if sensitive is None:
        return None
    if isinstance(sensitive, str) or not sensitive:
        raise ValueError(
            "sensitive must be a non-empty list of column names, or None to attack the last "
            f"column; got {sensitive!r}"
        )
    available = [str(c) for c in columns]
    for name in sensitive:
        if name not in available:
            raise ValueError(
                f"sensitive column {name!r} is not a column of the table; "
                f"available columns: {available}"
            )
    return list(dict.fromkeys(sensitive))


# ---------------------------------------------------------------------------------------
# The report


def privacy_report(
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    synthetic: pd.DataFrame,
    metadata: dict,
    *,
    sensitive: list[str] | None = None,
    random_state: int = 0,
    max_rows: int = 5000,
    n_attacks: int = 2000,
    sdmetrics: bool = True,
) -> dict:
    """All privacy evidence for `synthetic`, trained on `train`, with `holdout` as control.

    `metadata` is `evaluate.sdmetrics_metadata(train, kinds)`; id and text columns are not
    scored. `sensitive` names the secrets of the inference attack and the disclosure metric
    (default: the last scored column that is not constant; an id or text secret is noted in
    `sensitive_not_scored`). `max_rows` caps the membership sample and the SDMetrics
    subsamples; `n_attacks` the targets (or predicates) of each attack. A table with no
    scorable column gets every figure None, with the reason. Same inputs and `random_state`
    give the same report (but its seconds). `sdmetrics=False` leaves SDMetrics' metrics out:
    the gate does not read them, and they take most of the time.
    """
    start = time.perf_counter()
    for name, value in (("max_rows", max_rows), ("n_attacks", n_attacks)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a whole number of 1 or more; got {value!r}")
    for frame, name in ((train, "train"), (holdout, "holdout"), (synthetic, "synthetic")):
        if len(frame) == 0:
            raise ValueError(f"the {name} table has no rows; each of the three needs rows")
    sensitive = check_privacy_options(list(metadata["columns"]), sensitive)
    rows = {"train": len(train), "holdout": len(holdout), "synthetic": len(synthetic)}
    why = nothing_to_score(metadata)
    if why is not None:
        return _unmeasured(why) | {"sensitive": [], "random_state": random_state,
                                   "rows": rows, "seconds": _seconds(start)}  # fmt: skip
    scored = scored_metadata(metadata)
    for frame, name in ((train, "train"), (holdout, "holdout"), (synthetic, "synthetic")):
        check_columns(frame, scored, name)
    columns = list(scored["columns"])
    # An id or text secret is not compared (no attack guesses free text): said, not raised,
    # so that a schema marking such a column sensitive does not fail a finished run.
    unscored = [c for c in sensitive or [] if c not in scored["columns"]]
    # The default secret: the last column with two values or more (a constant is no secret).
    varied = [c for c in columns if train[c].nunique(dropna=False) > 1] or columns
    secrets = [c for c in sensitive or [] if c in scored["columns"]] or varied[-1:]
    # One child seed per section: a change in one section never shifts another's draws.
    seeds = np.random.SeedSequence(random_state).spawn(4)
    frames = (train, holdout, synthetic, scored)
    report = {
        "sdmetrics": sdmetrics_privacy(*frames, secrets, seeds[0], max_rows)
        if sdmetrics else {"skipped": "not asked for"},
        "closer_to_training": closer_to_training(*frames, seeds[3]),
        "exact_copies": copy_rates(*frames),
        "attacks": attack_risks(*frames, secrets, seeds[1], n_attacks),
        "membership_inference": membership_inference(*frames, seeds[2], max_rows),
        "sensitive": secrets,
    }
    if unscored:
        report["sensitive_not_scored"] = {
            c: f"an id or text column is not compared; the secrets are {secrets}" for c in unscored
        }
    return report | {"random_state": random_state, "rows": rows, "seconds": _seconds(start)}


def _unmeasured(why: str) -> dict:
    """The report's sections when nothing can be measured: every figure None, and why."""
    skipped = {"score": None, "skipped": why}
    return {
        "sdmetrics": {key: dict(skipped) for key in ("dcr_baseline_protection",
                      "dcr_overfitting_protection", "new_row_synthesis")}
        | {"disclosure_protection": {}, "seconds": 0.0},
        "closer_to_training": {"protection": None, "p_value": None, "skipped": why},
        "exact_copies": {"excess_copy_rate": None, "p_value": None, "skipped": why},
        "attacks": {"inference": {}, "skipped": why, "seconds": 0.0},
        "membership_inference": {"auc": None, "auc_ci": None, "skipped": why},
    }  # fmt: skip


# ---------------------------------------------------------------------------------------
# 1. SDMetrics


def sdmetrics_privacy(
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    synthetic: pd.DataFrame,
    metadata: dict,
    secrets: list[str],
    seed: Seed,
    max_rows: int = 5000,
) -> dict:
    """SDMetrics' DCRBaselineProtection, DCROverfittingProtection, NewRowSynthesis (its rule,
    vectorised here) and DisclosureProtectionEstimate (one per secret), each on the
    subsample it records.

    SDMetrics sees the columns as c0, c1, ...: its DCR metrics add helper columns named
    "index" and "<name>_diff", which a real column may be called. A metric that cannot be
    computed on the table has score None and `skipped` (why)."""
    start = time.perf_counter()
    metadata = scored_metadata(metadata)
    rng = np.random.default_rng(seed)
    names = list(metadata["columns"])
    safe = [f"c{i}" for i in range(len(names))]
    safe_meta = {"columns": dict(zip(safe, metadata["columns"].values()))}

    def rows(frame, n):  # ±inf as null: SDMetrics' ranges and random baseline need finite
        scored = as_scored(_sample(frame, n, rng), metadata, train).set_axis(safe, axis=1)
        return scored.replace([np.inf, -np.inf], np.nan)

    # Equal-size references: DCROverfittingProtection counts which one is nearer, and a
    # larger reference is nearer by its size alone.
    n_ref = min(len(train), len(holdout), SDM_DCR_REFERENCE_ROWS, max_rows)
    n_syn = min(len(synthetic), SDM_DCR_SYNTHETIC_ROWS, max_rows)
    n_new = min(len(synthetic), SDM_NEW_ROW_SYNTHETIC_ROWS, max_rows)
    train_ref, holdout_ref, synthetic_rows = (
        rows(train, n_ref),
        rows(holdout, n_ref),
        rows(synthetic, n_syn),
    )
    # A column null in every row of a reference has no range: SDMetrics' random baseline
    # draws from uniform(NaN, NaN) and its distances turn NaN. Such columns say nothing
    # about nearness, so the DCR metrics leave them out (and say so).
    empty = [c for c in safe if train_ref[c].isna().all() or holdout_ref[c].isna().all()]
    dcr_columns = [c for c in safe if c not in empty]
    left_out = {names[safe.index(c)]: "null in every sampled training or holdout row"
                for c in empty}  # fmt: skip
    subsampled = None
    if len(dcr_columns) > SDM_DCR_MAX_COLUMNS:
        keep = np.random.default_rng(_spawn(seed, 1)[0]).choice(
            len(dcr_columns), size=SDM_DCR_MAX_COLUMNS, replace=False)
        subsampled = {"columns_used": SDM_DCR_MAX_COLUMNS, "columns_of": len(dcr_columns),
                      "why": "SDMetrics' DCR costs rows x rows x columns in pandas: "
                             f"{SDM_DCR_MAX_COLUMNS} columns drawn at random stand for all"}
        dcr_columns = [dcr_columns[i] for i in np.sort(keep)]
    dcr_meta = {"columns": {c: safe_meta["columns"][c] for c in dcr_columns}}
    result = {}
    # SDMetrics samples with numpy's global RNG and draws DCRBaselineProtection's random
    # rows from its class attribute `_seed`: seed both, without touching SDMetrics' class.
    with _quiet(), _seeded_global_numpy(rng):
        t = time.perf_counter()
        seeded = type(
            "SeededDCRBaseline", (DCRBaselineProtection,), {"_seed": int(rng.integers(2**31))}
        )
        if dcr_columns:
            baseline = seeded.compute_breakdown(
                train_ref[dcr_columns], synthetic_rows[dcr_columns], dcr_meta, None
            )
            medians = baseline["median_DCR_to_real_data"]
            result["dcr_baseline_protection"] = {
                "score": number(baseline["score"]),
                "median_dcr_synthetic": number(medians["synthetic_data"]),
                "median_dcr_random": number(medians["random_data_baseline"]),
            }
            t_overfit = time.perf_counter()
            overfit = DCROverfittingProtection.compute_breakdown(
                *_range_anchored(train_ref[dcr_columns], synthetic_rows[dcr_columns],
                                 holdout_ref[dcr_columns], dcr_meta), dcr_meta, None
            )  # fmt: skip
            shares = overfit["synthetic_data_percentages"]
            result["dcr_overfitting_protection"] = {
                "score": number(overfit["score"]),
                "closer_to_training": number(shares["closer_to_training"]),
                "closer_to_holdout": number(shares["closer_to_holdout"]),
            }
        else:
            t_overfit = t
            why = "every column is null in every sampled training or holdout row"
            for key in ("dcr_baseline_protection", "dcr_overfitting_protection"):
                result[key] = {"score": None, "skipped": why}
        result["dcr_baseline_protection"] |= {
            "rows": {"synthetic": n_syn, "random": n_syn, "train": n_ref},
            "seconds": round(t_overfit - t, 2),
        }
        result["dcr_overfitting_protection"] |= {
            "rows": {"synthetic": n_syn, "train": n_ref, "holdout": n_ref},
            "seconds": _seconds(t_overfit),
        }
        for key in ("dcr_baseline_protection", "dcr_overfitting_protection"):
            if left_out:
                result[key]["columns_left_out"] = left_out
            if subsampled:
                result[key]["subsampled"] = subsampled
        t = time.perf_counter()  # NewRowSynthesis matches synthetic rows to all training rows
        new_rows = _new_rows(train, rows(synthetic, n_new), metadata, safe)
        result["new_row_synthesis"] = {
            "score": number(new_rows.mean()),
            "new_rows": int(new_rows.sum()),
            "matched_rows": int((~new_rows).sum()),
            "rows": {"synthetic": n_new, "train": len(train)},
            "seconds": _seconds(t),
        }
        result["disclosure_protection"] = {
            secret: _disclosure(train, synthetic, metadata, secret, rng, max_rows)
            for secret in secrets
        }
    result["seconds"] = _seconds(start)
    return result


def _new_rows(train, synthetic_rows, metadata, safe, tolerance=0.01) -> np.ndarray:
    """Which synthetic rows no training row matches, by SDMetrics' NewRowSynthesis rule: a
    training row matches when every category is equal and every number or date lies within
    `tolerance` of the synthetic value, relative to it (null matching null).

    Vectorised over rows, one column at a time. SDMetrics builds one pandas query per
    synthetic row from the column names and values, which names with a backtick or an emoji
    and values like inf break, and which took minutes on a 300-column table.
    `synthetic_rows` is scored already, under the names `safe`.
    """
    real = as_scored(train, metadata, train)
    n_real = len(real)
    is_new = np.ones(len(synthetic_rows), dtype=bool)
    step = max(1, 4_000_000 // max(n_real, 1))  # rows of the match matrix per block
    columns = []
    for name, column in zip(metadata["columns"], safe):
        r, v = real[name], synthetic_rows[column]
        if metadata["columns"][name]["sdtype"] in _NUMERIC_SDTYPES:
            columns.append((True, as_float(r), as_float(v)))
        else:  # categories (and booleans) as codes of one factorisation; null is -1
            codes = pd.factorize(pd.concat([r, v], ignore_index=True), use_na_sentinel=True)[0]
            columns.append((False, codes[:n_real], codes[n_real:]))
    for begin in range(0, len(is_new), step):
        match = np.ones((min(step, len(is_new) - begin), n_real), dtype=bool)
        for numeric, r, v in columns:
            v = v[begin : begin + step, None]
            if numeric:
                with np.errstate(invalid="ignore"):
                    near = np.abs(r - v) <= np.abs(tolerance * v)
                # an infinity matches itself only; a null, a null
                near = np.where(np.isinf(v), r == v, near)
                match &= np.where(np.isnan(v), np.isnan(r), near)
            else:
                match &= r == v
        is_new[begin : begin + step] = ~match.any(axis=1)
    return is_new


def _range_anchored(train_ref, synthetic_rows, holdout_ref, metadata):
    """The arguments of DCROverfittingProtection, each reference with the same two extra
    rows that span both references' range of every number and date.

    SDMetrics scales a numeric difference by the range of the reference it is measured in.
    Sampled references differ in range (750 Adult training rows held capital-gain 99999
    where 750 holdout rows topped at 27828), so distances to the wider one shrink: an
    independent sample read 57% "closer to training" (score 0.86). The anchors, whose
    categories match nothing, equalise the ranges and are never anyone's nearest row.
    """
    anchor = {}
    for name, meta in metadata["columns"].items():
        both = pd.concat([train_ref[name], holdout_ref[name]])
        if meta["sdtype"] in _NUMERIC_SDTYPES:
            anchor[name] = [both.min(), both.max()]
        elif pd.api.types.is_numeric_dtype(both):  # number codes scored as categories
            values = pd.concat([both, synthetic_rows[name]]).astype(float)
            anchor[name] = [values.max() + 1 if values.notna().any() else 0.0] * 2
        else:
            anchor[name] = ["__range_anchor__"] * 2
    anchor = pd.DataFrame(anchor)
    train_ref, holdout_ref = (
        pd.concat([ref, anchor.astype(ref.dtypes.to_dict())], ignore_index=True)
        for ref in (train_ref, holdout_ref)
    )
    return train_ref, synthetic_rows, holdout_ref


def _disclosure(train, synthetic, metadata, secret, rng, max_rows) -> dict:
    """DisclosureProtectionEstimate (CAP) for one secret, the attacker knowing the
    DISCLOSURE_KNOWN_COLUMNS columns most associated with it. SDMetrics sees the columns
    as c0, c1, ... (see sdmetrics_privacy)."""
    start = time.perf_counter()
    n_rows = min(SDM_DISCLOSURE_ROWS, max_rows)
    sizes = {"rows": {"train": min(n_rows, len(train)), "synthetic": min(n_rows, len(synthetic))},
             "iterations": SDM_DISCLOSURE_ITERATIONS}  # fmt: skip
    if len(metadata["columns"]) < 2:
        return {"score": None, "skipped": "disclosure needs a column besides the secret",
                "known_columns": []} | sizes | {"seconds": _seconds(start)}  # fmt: skip
    known = _most_associated(train, metadata, secret, rng, max_rows)
    subset = {"columns": {c: metadata["columns"][c] for c in [*known, secret]}}
    safe = {c: f"c{i}" for i, c in enumerate(subset["columns"])}
    real, fake = (as_scored(f, subset, train).rename(columns=safe) for f in (train, synthetic))
    for name, meta in subset["columns"].items():
        if meta["sdtype"] in _NUMERIC_SDTYPES:
            real[safe[name]], fake[safe[name]] = _binned(real[safe[name]], fake[safe[name]])
    # compute_breakdown, not compute: SDMetrics 0.32's compute drops num_rows_subsample.
    breakdown = DisclosureProtectionEstimate.compute_breakdown(
        real,
        fake,
        known_column_names=[safe[c] for c in known],
        sensitive_column_names=[safe[secret]],
        num_discrete_bins=DISCRETE_BINS,
        num_rows_subsample=n_rows,
        num_iterations=SDM_DISCLOSURE_ITERATIONS,
        verbose=False,
    )
    return {
        "score": number(breakdown["score"]),
        "cap_protection": number(breakdown["cap_protection"]),
        "baseline_protection": number(breakdown["baseline_protection"]),
        "known_columns": known,
    } | sizes | {"seconds": _seconds(start)}


def _binned(real: pd.Series, synthetic: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Numbers or dates as DISCRETE_BINS equal-width bins of the real finite values, labelled
    "0".."9" as SDMetrics' DisclosureProtection cuts them (the outer bins open-ended for
    synthetic values); ±inf are categories of their own, null stays null. SDMetrics' own cut
    fails on a column with no finite value or with an infinity."""
    labels = []
    values = [as_float(real), as_float(synthetic)]
    finite = values[0][np.isfinite(values[0])]
    bins = None
    if len(finite):
        bins = pd.cut(finite, DISCRETE_BINS, retbins=True)[1]
        bins[0], bins[-1] = -np.inf, np.inf
    for v in values:
        out = np.full(len(v), None, dtype=object)
        if bins is not None:
            codes = pd.cut(v, bins, labels=False)  # NaN where v is null or infinite
            inside = np.isfinite(v)
            out[inside] = codes[inside].astype(int).astype(str)
        out[v == np.inf], out[v == -np.inf] = "inf", "-inf"
        labels.append(out)
    return labels[0], labels[1]


def _most_associated(train, metadata, secret, rng, max_rows) -> list[str]:
    """The DISCLOSURE_KNOWN_COLUMNS columns of highest Cramér's V with `secret` on (up to
    max_rows) training rows, numbers cut in DISCRETE_BINS bins as the metric cuts them."""
    rows = as_scored(_sample(train, max_rows, rng), metadata, train)

    def labels(name):
        s = rows[name]
        if metadata["columns"][name]["sdtype"] in _NUMERIC_SDTYPES and s.nunique() > DISCRETE_BINS:
            s = pd.Series(_binned(s, s.iloc[:0])[0])
        return s.astype(str).where(s.notna(), NULL).to_numpy()

    target = labels(secret)
    strength = {}
    for name in metadata["columns"]:
        if name != secret:
            table = pd.crosstab(labels(name), target).to_numpy()
            strength[name] = association(table, method="cramer") if min(table.shape) > 1 else 0.0
    # sorted() is stable: equally strong columns keep the table's order.
    return sorted(strength, key=lambda c: -strength[c])[:DISCLOSURE_KNOWN_COLUMNS]


# ---------------------------------------------------------------------------------------
# 2. Exact copies


def copy_rates(
    train: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame, metadata: dict
) -> dict:
    """evaluate.exact_copies, against the rate at which real rows equal a training row.

    Real tables repeat rows (a fifth of police_force's holdout rows equal a training row:
    one incident, several records), so copies are judged against real rows, never against 0.
    The control is the holdout rows and, as many again or more, the training rows each
    compared with the other training rows (a training row is a real row the rest of the
    training set never saw): with the holdout alone its noise hid 5% of rows copied.
    excess_copy_rate = synthetic rate − control rate; p_value: a pooled two-sample z-test.
    """
    start = time.perf_counter()
    result = exact_copies(train, synthetic, holdout, metadata)
    copies = result["synthetic_copy_rows"]
    control = result["holdout_copy_rows"] + result["training_repeat_rows"]
    n_control = len(holdout) + len(train)
    excess = copies / len(synthetic) - control / n_control
    pooled = (copies + control) / (len(synthetic) + n_control)
    noise = math.sqrt(pooled * (1 - pooled) * (1 / len(synthetic) + 1 / n_control))
    return result | {
        "training_repeat_rate": number(result["training_repeat_rows"] / len(train), 6),
        "control_copy_rate": number(control / n_control, 6),
        "excess_copy_rate": number(excess, 6),
        "p_value": _p_above(excess, noise),
        "rows": {"train": len(train), "synthetic": len(synthetic), "holdout": len(holdout)},
        "seconds": _seconds(start),
    }


def closer_to_training(
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    synthetic: pd.DataFrame,
    metadata: dict,
    seed: Seed,
    max_rows: int = CLOSER_SYNTHETIC_ROWS,
) -> dict:
    """How often a synthetic row's nearest real row is a training row.

    The nearest of the training and holdout rows together: for a row the model did not
    learn from, it is a training row with probability n_train / (n_train + n_holdout)
    (`expected`), whatever the data, since the split was random. Rows at equal distance
    share the credit. `protection` is SDMetrics' DCROverfittingProtection on that scale,
    min(1, (1 - share) / (1 - expected)): 1 when synthetic rows sit no nearer the training
    rows than unseen rows do, 0 when each sits on one. Unlike SDMetrics' own (3,000-row
    subsamples) every training and holdout row is a candidate, so a copied row always finds
    its source. p_value: the share above `expected`, by a z-test on the rows' credits.
    """
    start = time.perf_counter()
    metadata = scored_metadata(metadata)
    rng = np.random.default_rng(seed)
    sample = _sample(synthetic, max_rows, rng)
    train_x, holdout_x, sample_x = encode_for_distance([train, holdout, sample], metadata)
    reference = np.vstack([train_x, holdout_x]).astype(np.float32)
    squared = np.einsum("ij,ij->i", reference, reference)
    n_train = len(train_x)
    credit = np.empty(len(sample_x))
    for lo in range(0, len(sample_x), CLOSER_CHUNK):
        rows = sample_x[lo:lo + CLOSER_CHUNK].astype(np.float32)
        # ||r||^2 - 2 r.s ranks the references by distance to s (||s||^2 is common).
        distance = squared[None, :] - 2.0 * rows @ reference.T
        nearest = distance.min(axis=1, keepdims=True)
        # float32 rounding: a tie is within a hair of the nearest, scaled to the norms
        tol = 1e-5 * (1.0 + np.abs(nearest) + np.einsum("ij,ij->i", rows, rows)[:, None])
        tied = distance <= nearest + tol
        in_train = tied[:, :n_train].sum(axis=1)
        credit[lo:lo + len(rows)] = in_train / tied.sum(axis=1)
    expected = n_train / len(reference)
    share = float(credit.mean())
    noise = max(credit.std(), 1.0 / len(credit)) / math.sqrt(len(credit))
    return {
        "share": number(share),
        "expected": number(expected),
        "protection": number(min(1.0, max(0.0, (1 - share) / (1 - expected)))),
        "p_value": _p_above(share - expected, noise),
        "rows": {"train": n_train, "holdout": len(holdout_x), "synthetic": len(sample_x)},
        "seconds": _seconds(start),
    }


# ---------------------------------------------------------------------------------------
# 3. Anonymeter-style attacks


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
    seeds = _spawn(seed, 4)
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
    result["seconds"] = _seconds(start)
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
    ori = _unique_rows(_sample(train, SINGLING_OUT_MAX_ROWS, rng), metadata, train)
    control = _unique_rows(_sample(holdout, SINGLING_OUT_MAX_ROWS, rng), metadata, train)
    n = min(len(ori), len(control))
    control, pool = _sample(control, n, rng), _sample(synthetic, len(ori), rng)
    ori_x, control_x, pool_x = _predicate_tables([ori, control, pool], metadata, train)
    numeric = np.array([m["sdtype"] in _NUMERIC_SDTYPES for m in metadata["columns"].values()])
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
                "synthetic row"} | details | {"seconds": _seconds(start)}  # fmt: skip

    def in_training_subset(predicates):  # expected isolations in a random n-row subset
        return hypergeom.pmf(1, len(ori), _count_matches(ori_x, *predicates), n).sum()

    control_successes = np.sum(_count_matches(control_x, *queries) == 1)
    baseline = _random_queries(pool_x, numeric, n_cols, n_queries, rng)
    result = _risk(in_training_subset(queries), n_queries, control_successes, n_queries,
                   in_training_subset(baseline), n_queries)  # fmt: skip
    if n_queries < n_attacks:
        result["note"] = f"only {n_queries} of {n_attacks} predicates isolate a synthetic row"
    return result | details | {"seconds": _seconds(start)}


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
    links = []  # per half, per target set: index of the nearest synthetic row
    for half in halves:
        nn = NearestNeighbors(n_neighbors=1, algorithm="brute").fit(_stack(blocks, half, 2))
        links.append([
            nn.kneighbors(_stack(blocks, half, frame)[idx], return_distance=False)[:, 0]
            for frame, idx in enumerate(targets)
        ])  # fmt: skip
    successes = [np.sum(links[0][frame] == links[1][frame]) for frame in (0, 1)]
    n_syn = len(blocks[columns[0]][2])
    random_links = rng.integers(n_syn, size=(2, len(targets[0])))  # Anonymeter's naive attacker
    baseline = np.sum(random_links[0] == random_links[1])
    result = _risk(successes[0], len(targets[0]), successes[1], len(targets[1]),
                   baseline, len(targets[0]))  # fmt: skip
    return result | {
        "aux_columns": halves,
        "rows": {"train": len(targets[0]), "holdout": len(targets[1]), "synthetic": n_syn},
        "seconds": _seconds(start),
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
    numeric = meta["sdtype"] in _NUMERIC_SDTYPES
    values = [_secret_values(f[secret], meta, train[secret]) for f in (train, holdout, synthetic)]
    nn = NearestNeighbors(n_neighbors=1, algorithm="brute").fit(_stack(blocks, aux, 2))
    successes, targets = [], []
    for frame in (0, 1):
        idx = _pick(len(values[frame]), n_attacks, rng)
        nearest = nn.kneighbors(_stack(blocks, aux, frame)[idx], return_distance=False)[:, 0]
        successes.append(np.sum(_guessed(values[2][nearest], values[frame][idx], numeric)))
        targets.append(idx)
    naive = values[2][rng.integers(len(values[2]), size=len(targets[0]))]
    baseline = np.sum(_guessed(naive, values[0][targets[0]], numeric))
    n_train, n_control = len(targets[0]), len(targets[1])
    result = _risk(successes[0], n_train, successes[1], n_control, baseline, n_train)
    return result | {
        "aux_columns": len(aux),
        "rows": {"train": n_train, "holdout": n_control, "synthetic": len(values[2])},
        "seconds": _seconds(start),
    }


# ---------------------------------------------------------------------------------------
# 4. Membership inference


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
    members, non_members = _sample(train, n, rng), _sample(holdout, n, rng)
    synthetic = _unique_rows(synthetic, metadata, train)  # the same distances, found faster
    _, member_x, non_member_x, synthetic_x = encode_for_distance(
        [train, members, non_members, synthetic], metadata
    )
    nn = NearestNeighbors(n_neighbors=1, algorithm="brute").fit(synthetic_x)
    dcr = nn.kneighbors(np.vstack([member_x, non_member_x]))[0][:, 0]
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
        "seconds": _seconds(start),
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
        "p_value": _p_above(residual, error / norm.ppf(0.5 * (1 + CONFIDENCE))),
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


def _p_above(estimate: float, standard_error: float) -> float:
    """One-sided p-value of `estimate` above 0 for a normal estimate (gate figures round to
    3 significant digits so that a p-value of 1e-30 stays readable in JSON)."""
    if standard_error <= 0:
        return 0.0 if estimate > 0 else 1.0
    return float(f"{norm.sf(estimate / standard_error):.3g}")


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
        one = {"columns": {name: meta}}
        columns = [as_scored(f[[name]], one, reference)[name] for f in frames]
        if meta["sdtype"] in _NUMERIC_SDTYPES:
            values = np.concatenate([as_float(c) for c in columns])
            ranks = np.full(len(values), np.nan, dtype=np.float32)
            present = ~np.isnan(values)
            ranks[present] = np.unique(values[present], return_inverse=True)[1]
        else:
            labels = pd.concat([c.astype(str).where(c.notna(), NULL) for c in columns])
            ranks = pd.factorize(labels)[0].astype(np.float32)
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


def _stack(blocks, columns, frame) -> np.ndarray:
    return np.hstack([blocks[c][frame] for c in columns])


def _secret_values(s: pd.Series, meta: dict, reference: pd.Series) -> np.ndarray:
    """Floats (NaN for null) for a numeric secret; labels (NULL for null) for a category."""
    one = {"columns": {s.name: meta}}
    scored = as_scored(s.to_frame(), one, reference.to_frame())[s.name]
    if meta["sdtype"] in _NUMERIC_SDTYPES:
        return as_float(scored)
    return scored.astype(str).where(scored.notna(), NULL).to_numpy()


def _guessed(guess, secret, numeric) -> np.ndarray:
    if not numeric:
        return guess == secret
    with np.errstate(invalid="ignore"):
        close = np.abs(guess - secret) <= INFERENCE_TOLERANCE * np.abs(secret)
    # an infinite secret is guessed only by itself (inf is within 5% of inf by the rule)
    close = np.where(np.isinf(secret), guess == secret, close)
    return close | (np.isnan(guess) & np.isnan(secret))


def _unique_rows(df, metadata, reference) -> pd.DataFrame:
    repeated = pd.Series(row_hashes(df, metadata, reference)).duplicated().to_numpy()
    return df[~repeated].reset_index(drop=True)


def _sample(df, n, rng) -> pd.DataFrame:
    return df if len(df) <= n else df.sample(n, random_state=rng).reset_index(drop=True)


def _pick(n_rows, n, rng) -> np.ndarray:
    return np.sort(rng.choice(n_rows, size=min(n, n_rows), replace=False))


def _spawn(seed: Seed, n: int) -> list[np.random.SeedSequence]:
    return (
        seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    ).spawn(n)


def _seconds(start: float) -> float:
    return round(time.perf_counter() - start, 2)


@contextmanager
def _seeded_global_numpy(rng):
    """Seed numpy's global RNG for SDMetrics' calls; put its state back afterwards."""
    state = np.random.get_state()
    np.random.seed(int(rng.integers(2**31)))
    try:
        yield
    finally:
        np.random.set_state(state)


@contextmanager
def _quiet():
    # SDMetrics warns about small validation sets and deprecations; the report has the sizes.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield
