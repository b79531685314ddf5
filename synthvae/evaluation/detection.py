"""Can a classifier tell the synthetic rows from the real ones? A classifier two-sample test.

SDMetrics' quality reads single columns and strongly associated pairs, so it saturates: a
good synthesizer scores as high as a real holdout while a tree ensemble still tells its rows
apart by an interaction no pair metric reads. Gradient-boosted trees are trained to tell real
rows (label 0) from synthetic ones (label 1); the cross-validated ROC AUC is 0.5 when they
cannot and 1.0 when every row gives itself away. A real holdout scored the same way gives
the floor (about 0.5, a little above on small tables).

The recipe is the yardstick's (`HistGradientBoostingClassifier`, 300 rounds with early
stopping, 5 folds, up to 10,000 rows a side, categories over their 250 most frequent real
values, ids and text left out), so a run's figure compares with the benchmarks'. On top:
what gives the rows away, as the drop in AUC when one column is shuffled in the held-out
fold (permutation importance), largest first.
"""
from __future__ import annotations

import time

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold

from synthvae.evaluation.fidelity import SCORED_SDTYPES, is_plain_numeric, to_datetime

MAX_ROWS = 10_000     # per side
FOLDS = 5
TOP_CATEGORIES = 250  # category codes per column; the rarer values share one
GIVEAWAYS = 5         # columns named in the report
# Shuffling a column of real-against-real rows moves the AUC by up to about 0.015 by chance
# (Adult, 2,000 rows a side), so smaller drops name no column.
MIN_DROP = 0.02
MIN_ROWS = 20         # per side: fewer cannot be split into folds worth reading


def detection(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    metadata: dict,
    max_rows: int = MAX_ROWS,
    seed: int = 0,
) -> dict:
    """Detection AUC of `synthetic` against `real` over the scored columns of `metadata`
    (`synthvae.evaluation.fidelity.sdmetrics_metadata`).

    Returns {"auc", "rows" (per side), "giveaways": [{"column", "auc_drop"}], "seconds"};
    "auc" is None with "not_available" saying why when there is nothing to tell apart
    (no scored column, fewer than 20 rows on a side).
    """
    start = time.perf_counter()
    columns = [c for c, m in metadata["columns"].items() if m["sdtype"] in SCORED_SDTYPES]
    k = min(max_rows, len(real), len(synthetic))
    why = ("no column to compare: every column is an id or text" if not columns else
           f"{k} rows on a side; the test needs at least {MIN_ROWS}" if k < MIN_ROWS else None)
    if why:
        return {"auc": None, "rows": int(k), "giveaways": [], "not_available": why,
                "seconds": round(time.perf_counter() - start, 2)}
    both = pd.concat([real[columns].sample(k, random_state=seed),
                      synthetic[columns].sample(k, random_state=seed)], ignore_index=True)
    features = _features(both, real, metadata, k)
    if features.shape[1] == 0:
        return {"auc": None, "rows": int(k), "giveaways": [],
                "not_available": "no column to compare: every scored column is null throughout",
                "seconds": round(time.perf_counter() - start, 2)}
    labels = np.r_[np.zeros(k), np.ones(k)]
    folds = StratifiedKFold(FOLDS, shuffle=True, random_state=seed)
    proba = np.empty(len(labels))
    giveaways: list[dict] = []
    for i, (fit_rows, test_rows) in enumerate(folds.split(features, labels)):
        model = HistGradientBoostingClassifier(categorical_features="from_dtype", max_iter=300,
                                               early_stopping=True, random_state=seed)
        model.fit(features.iloc[fit_rows], labels[fit_rows])
        proba[test_rows] = model.predict_proba(features.iloc[test_rows])[:, 1]
        if i == 0:
            giveaways = _giveaways(model, features.iloc[test_rows], labels[test_rows], seed)
    return {"auc": round(float(roc_auc_score(labels, proba)), 4), "rows": int(k),
            "giveaways": giveaways, "seconds": round(time.perf_counter() - start, 2)}


def _features(both: pd.DataFrame, real: pd.DataFrame, metadata: dict, k: int) -> pd.DataFrame:
    """Numbers as floats, dates as seconds, categories as pandas categoricals (the trees
    split them natively); nulls stay NaN (or a category of their own), which trees read."""
    out = {}
    for name in both.columns:
        meta, values = metadata["columns"][name], both[name]
        if meta["sdtype"] == "datetime":
            stamps = to_datetime(values, meta.get("datetime_format"))
            out[name] = (stamps - pd.Timestamp("1970-01-01")).dt.total_seconds()
        elif meta["sdtype"] == "numerical" or is_plain_numeric(real[name]):
            out[name] = pd.to_numeric(values.astype(object), errors="coerce").astype(float)
            out[name] = out[name].where(np.isfinite(out[name]), np.sign(out[name]) * 1e300)
        else:
            labels = values.astype(object).where(values.notna(), "__null__").astype(str)
            top = labels.iloc[:k].value_counts().index[:TOP_CATEGORIES]
            out[name] = pd.Categorical(labels.where(labels.isin(top), "__other__"))
    features = pd.DataFrame(out)
    # A number that is null in every row of both sides tells nothing apart, and the trees'
    # binning cannot take a column with no value at all.
    return features.loc[:, features.notna().any()]


def _giveaways(model, features: pd.DataFrame, labels: np.ndarray, seed: int) -> list[dict]:
    """The columns whose shuffling costs the detector most AUC on rows it did not train on."""
    base = roc_auc_score(labels, model.predict_proba(features)[:, 1])
    rng = np.random.default_rng(seed)
    drops = {}
    for name in features.columns:
        shuffled = features.copy()
        shuffled[name] = features[name].to_numpy()[rng.permutation(len(features))]
        if isinstance(features[name].dtype, pd.CategoricalDtype):
            shuffled[name] = pd.Categorical(shuffled[name],
                                            categories=features[name].cat.categories)
        drops[name] = base - roc_auc_score(labels, model.predict_proba(shuffled)[:, 1])
    ranked = sorted(drops.items(), key=lambda item: -item[1])
    return [{"column": str(name), "auc_drop": round(float(drop), 4)}
            for name, drop in ranked[:GIVEAWAYS] if drop >= MIN_DROP]
