"""Privacy evidence for a synthetic table: can its rows be traced back to the real rows the
model was trained on?

Every figure compares the training rows (`train`) with real rows the model never saw
(`holdout`, the control). An attack that works as well on holdout rows as on training rows
learns about the population, not about the people in the training set, and is no risk.

Sections of `privacy_report`, each a plain JSON-serialisable dict with its rows and seconds:
- sdmetrics: SDMetrics 0.32 privacy metrics on explicit subsamples;
- closer_to_training: how often a synthetic row's nearest real row is a training row, against
  the share a real unseen row would have;
- exact_copies: synthetic rows equal to a training row, against the holdout's own rate;
- attacks: singling out, linkability and attribute inference after Anonymeter;
- membership_inference: ROC AUC of telling training from holdout rows by their distance to
  the closest synthetic row.

The last two are `synthvae.evaluation.attacks`; the nearest-row machinery and the sampling
every section shares are `synthvae.evaluation.nearest`.

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
from scipy.stats.contingency import association
from sdmetrics.single_table import (
    DCRBaselineProtection,
    DCROverfittingProtection,
    DisclosureProtectionEstimate,
)

from synthvae.evaluation.attacks import attack_risks, membership_inference
from synthvae.evaluation.fidelity import (
    NULL,
    nothing_to_score,
    as_float,
    as_scored,
    check_columns,
    encode_for_distance,
    number,
    scored_metadata,
    exact_copies,
)
from synthvae.evaluation.gate import PrivacyGate
from synthvae.evaluation.nearest import (
    NUMERIC_SDTYPES,
    Seed,
    child_seeds,
    p_above,
    sample_rows,
    seconds_since,
    training_credit,
    within_tolerance,
)

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
# closer_to_training compares this many synthetic rows with every training and holdout row
# (about 1 s on Adult); the share's noise is then about ±0.01.
CLOSER_SYNTHETIC_ROWS = 2000


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
    named = {"train": train, "holdout": holdout, "synthetic": synthetic}
    for name, frame in named.items():
        if len(frame) == 0:
            raise ValueError(f"the {name} table has no rows; each of the three needs rows")
    sensitive = check_privacy_options(list(metadata["columns"]), sensitive)
    rows = {name: len(frame) for name, frame in named.items()}
    why = nothing_to_score(metadata)
    if why is not None:
        return _unmeasured(why) | {"sensitive": [], "random_state": random_state,
                                   "rows": rows, "seconds": seconds_since(start)}  # fmt: skip
    scored = scored_metadata(metadata)
    for name, frame in named.items():
        check_columns(frame, scored, name)
    columns = list(scored["columns"])
    # An id or text secret is not compared (no attack guesses free text): said, not raised,
    # so that a schema marking such a column sensitive does not fail a finished run.
    unscored = [c for c in sensitive or [] if c not in scored["columns"]]
    # The default secret: the last column with two values or more (a constant is no secret).
    varied = [c for c in columns if train[c].nunique(dropna=False) > 1] or columns
    secrets = [c for c in sensitive or [] if c in scored["columns"]] or varied[-1:]
    # One child seed per section: a change in one section never shifts another's draws.
    seeds = child_seeds(random_state, 4)
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
    return report | {"random_state": random_state, "rows": rows, "seconds": seconds_since(start)}


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
# SDMetrics


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
        scored = as_scored(sample_rows(frame, n, rng), metadata, train).set_axis(safe, axis=1)
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
        keep = np.random.default_rng(child_seeds(seed, 1)[0]).choice(
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
            "seconds": seconds_since(t_overfit),
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
            "seconds": seconds_since(t),
        }
        result["disclosure_protection"] = {
            secret: _disclosure(train, synthetic, metadata, secret, rng, max_rows)
            for secret in secrets
        }
    result["seconds"] = seconds_since(start)
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
        if metadata["columns"][name]["sdtype"] in NUMERIC_SDTYPES:
            columns.append((True, as_float(r), as_float(v)))
        else:  # categories (and booleans) as codes of one factorisation; null is -1
            codes = pd.factorize(pd.concat([r, v], ignore_index=True), use_na_sentinel=True)[0]
            columns.append((False, codes[:n_real], codes[n_real:]))
    for begin in range(0, len(is_new), step):
        match = np.ones((min(step, len(is_new) - begin), n_real), dtype=bool)
        for numeric, r, v in columns:
            v = v[begin : begin + step, None]
            match &= within_tolerance(r, v, tolerance) if numeric else r == v
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
        if meta["sdtype"] in NUMERIC_SDTYPES:
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
                "known_columns": []} | sizes | {"seconds": seconds_since(start)}  # fmt: skip
    known = _most_associated(train, metadata, secret, rng, max_rows)
    subset = {"columns": {c: metadata["columns"][c] for c in [*known, secret]}}
    safe = {c: f"c{i}" for i, c in enumerate(subset["columns"])}
    real, fake = (as_scored(f, subset, train).rename(columns=safe) for f in (train, synthetic))
    for name, meta in subset["columns"].items():
        if meta["sdtype"] in NUMERIC_SDTYPES:
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
    } | sizes | {"seconds": seconds_since(start)}


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
    rows = as_scored(sample_rows(train, max_rows, rng), metadata, train)

    def labels(name):
        s = rows[name]
        if metadata["columns"][name]["sdtype"] in NUMERIC_SDTYPES and s.nunique() > DISCRETE_BINS:
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


# ---------------------------------------------------------------------------------------
# Exact copies and the nearest real row


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
        "p_value": p_above(excess, noise),
        "rows": {"train": len(train), "synthetic": len(synthetic), "holdout": len(holdout)},
        "seconds": seconds_since(start),
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
    sample = sample_rows(synthetic, max_rows, rng)
    train_x, holdout_x, sample_x = encode_for_distance([train, holdout, sample], metadata)
    credit = training_credit(train_x, holdout_x, sample_x)
    n_train = len(train_x)
    expected = n_train / (n_train + len(holdout_x))
    share = float(credit.mean())
    noise = max(credit.std(), 1.0 / len(credit)) / math.sqrt(len(credit))
    return {
        "share": number(share),
        "expected": number(expected),
        "protection": number(min(1.0, max(0.0, (1 - share) / (1 - expected)))),
        "p_value": p_above(share - expected, noise),
        "rows": {"train": n_train, "holdout": len(holdout_x), "synthetic": len(sample_x)},
        "seconds": seconds_since(start),
    }
