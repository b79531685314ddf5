"""The VAE's applications on Adult: anomaly detection, conditional generation,
augmentation with scarce data, interpolation. Prints figures and each bar's PASS/FAIL.

    python benchmarks/applications.py [--model DIR] [--seed 0] [--json out.json]

Without --model, fits `Synthesizer(random_state=seed)` with defaults on Adult's training
split (about 70 s on 2 cores) and saves it to runs/benchmark-adult-model for reuse.
Scores use the independent yardstick in ../shared/yardstick where one applies (quality).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier, IsolationForest
from sklearn.metrics import roc_auc_score

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
YARDSTICK = ROOT.parent / "shared" / "yardstick"

from synthvae import Synthesizer  # noqa: E402
from synthvae.evaluation.fidelity import encode_for_distance, sdmetrics_metadata  # noqa: E402
from synthvae.schema import infer_schema, validate  # noqa: E402

TARGET, POSITIVE = "income", ">50K"
CORRUPT_SHARE = 0.02


# ----------------------------------------------------------------------- anomaly detection
def corrupt(test: pd.DataFrame, rng: np.random.Generator) -> tuple[pd.DataFrame, np.ndarray]:
    """2% of rows made inconsistent across columns while each value stays plausible alone:
    a third get one column's value swapped in from another row, a third become female
    husbands (or male wives), a third get an education that disagrees with education-num."""
    rows = test.copy().reset_index(drop=True)
    picked = rng.choice(len(rows), int(round(CORRUPT_SHARE * len(rows))), replace=False)
    kinds = np.array_split(picked, 3)
    swap_columns = ["age", "occupation", "marital-status", "hours-per-week", "relationship",
                    "education-num", "capital-gain", "workclass"]
    for i in kinds[0]:
        column = swap_columns[rng.integers(len(swap_columns))]
        rows.loc[i, column] = rows.loc[rng.integers(len(rows)), column]
    for i in kinds[1]:
        if rows.loc[i, "sex"] == "Male":
            rows.loc[i, ["relationship", "sex"]] = ["Wife", "Male"]
        else:
            rows.loc[i, ["relationship", "sex"]] = ["Husband", "Female"]
    levels = rows[["education", "education-num"]].drop_duplicates()
    for i in kinds[2]:
        other = levels[(levels["education-num"] - rows.loc[i, "education-num"]).abs() >= 4]
        rows.loc[i, "education"] = other.iloc[rng.integers(len(other))]["education"]
    labels = np.zeros(len(rows), bool)
    labels[picked] = True
    # A swap can land on an equal value: such a row is not corrupted after all.
    unchanged = (rows.loc[picked].astype(str).values == test.reset_index(drop=True)
                 .loc[picked].astype(str).values).all(axis=1)
    labels[picked[unchanged]] = False
    return rows, labels


def one_hot(train: pd.DataFrame, rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    both = pd.get_dummies(pd.concat([train, rows], keys=["t", "r"]).astype(
        {c: "object" for c in train.columns if train[c].dtype == object}), dummy_na=True)
    both = both.astype(float).fillna(0.0)
    return both.loc["t"].to_numpy(), both.loc["r"].to_numpy()


def anomaly_detection(model: Synthesizer, train: pd.DataFrame, test: pd.DataFrame) -> dict:
    rows, labels = corrupt(test, np.random.default_rng(0))
    start = time.perf_counter()
    scores = model.anomaly_score(rows, validate=False)
    seconds = time.perf_counter() - start
    x_train, x_rows = one_hot(train, rows)
    forest = IsolationForest(n_estimators=300, random_state=0).fit(x_train)
    forest_scores = -forest.score_samples(x_rows)
    parts = model.explain_anomaly(rows[labels].head(200), validate=False)
    hits = _explained(rows[labels].head(200), test.reset_index(drop=True), parts)
    return {"rows": len(rows), "corrupted": int(labels.sum()),
            "auc_synthvae": round(roc_auc_score(labels, scores), 4),
            "auc_isolation_forest": round(roc_auc_score(labels, forest_scores), 4),
            "score_seconds": round(seconds, 2),
            "explanation_top3_names_a_changed_column": round(hits, 3)}


def _explained(corrupted: pd.DataFrame, original: pd.DataFrame, parts: pd.DataFrame) -> float:
    """Share of corrupted rows whose three largest contributions include a changed column."""
    hits = []
    for i, row in corrupted.iterrows():
        changed = {c for c in corrupted.columns if str(row[c]) != str(original.loc[i, c])}
        top = set(parts.loc[i].drop("(latent)").nlargest(3).index)
        hits.append(bool(changed & top))
    return float(np.mean(hits)) if hits else float("nan")


# ------------------------------------------------------------------ conditional generation
def conditional(model: Synthesizer, train: pd.DataFrame, score) -> dict:
    unconditional = score.quality(train, model.sample(20_000, random_state=1))["quality"]
    out = {"unconditional_quality": round(unconditional, 4), "conditions": []}
    for conditions in ({"income": ">50K", "sex": "Female"}, {"race": "Amer-Indian-Eskimo"},
                       {"age": (30, 40), "income": ">50K"}):
        real = train[model.encoder_.rows_matching(train, conditions)]
        start = time.perf_counter()
        rows = model.sample(10_000, random_state=2, conditions=conditions)
        seconds = time.perf_counter() - start
        ok = model.encoder_.rows_matching(rows, conditions)
        q = score.quality(real, rows)["quality"]
        out["conditions"].append({
            "conditions": {k: list(v) if isinstance(v, tuple) else v for k, v in conditions.items()},
            "real_share": round(len(real) / len(train), 4), "rows": len(rows),
            "rows_meeting": round(float(ok.mean()), 4), "seconds_10k": round(seconds, 2),
            "quality_vs_real_subset": round(q, 4),
            "quality_ratio": round(q / unconditional, 4),
            "effective_pool": round(model.last_pool_["effective_pool"])})
    return out


# ------------------------------------------------------------------------ augmentation
def augmentation(train: pd.DataFrame, test: pd.DataFrame, seed: int) -> dict:
    scarce = train.sample(500, random_state=seed).reset_index(drop=True)
    start = time.perf_counter()
    model = Synthesizer(random_state=seed).fit(scarce)
    fit_s = time.perf_counter() - start
    variants = {
        "500 real rows": scarce,
        "+ balance classes": model.augment(scarce, TARGET, balance=True, random_state=seed),
        "+ 5,000 synthetic (model's class mix)": model.augment(scarce, TARGET, balance=False,
                                                              n=5000, random_state=seed),
        "+ 5,000 synthetic, balanced": model.augment(scarce, TARGET, n=5000, random_state=seed),
    }
    return {"fit_seconds_on_500": round(fit_s, 1), "auc": {
        name: round(_tstr(rows, test), 4) for name, rows in variants.items()},
        "rows": {name: len(rows) for name, rows in variants.items()}}


def _tstr(rows: pd.DataFrame, test: pd.DataFrame) -> float:
    x = pd.get_dummies(pd.concat([rows.drop(columns=TARGET), test.drop(columns=TARGET)],
                                 keys=["a", "b"]), dummy_na=True).astype(float)
    clf = HistGradientBoostingClassifier(random_state=0).fit(x.loc["a"], rows[TARGET] == POSITIVE)
    return roc_auc_score(test[TARGET] == POSITIVE, clf.predict_proba(x.loc["b"])[:, 1])


# ------------------------------------------------------------------------ interpolation
def interpolation(model: Synthesizer, train: pd.DataFrame, test: pd.DataFrame) -> dict:
    schema = infer_schema(train, name="adult")
    metadata = sdmetrics_metadata(train)
    rng = np.random.default_rng(0)
    pairs = rng.choice(len(test), (100, 2), replace=False)
    paths, steps, endpoint_match = [], [], []
    for a, b in pairs:
        path = model.interpolate(test.iloc[a], test.iloc[b], steps=10)
        paths.append(path)
        encoded = encode_for_distance([train, path], metadata)[1]
        steps.append(np.linalg.norm(np.diff(encoded, axis=0), axis=1))
        ends = pd.concat([test.iloc[[a]], test.iloc[[b]]])
        endpoint_match.append((path.iloc[[0, -1]].astype(str).values == ends.astype(str).values).mean())
    all_rows = pd.concat(paths, ignore_index=True)
    failed = 0
    try:
        validate(all_rows, schema, what="interpolated rows")
    except Exception as err:  # noqa: BLE001 - report, do not crash the benchmark
        failed = len(getattr(err, "problems", [])) or 1
    steps = np.concatenate(steps)
    return {"paths": len(paths), "rows": len(all_rows), "schema_problems": failed,
            "mean_step_distance": round(float(steps.mean()), 4),
            "max_step_distance": round(float(steps.max()), 4),
            "endpoint_values_reproduced": round(float(np.mean(endpoint_match)), 4)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--skip-augmentation", action="store_true")
    args = parser.parse_args()
    sys.path.insert(0, str(YARDSTICK))
    import score  # the anchors' own scorer

    train = pd.read_csv(ROOT / "data" / "adult.csv.gz")
    test = pd.read_csv(ROOT / "data" / "adult_test.csv.gz")
    if args.model:
        model = Synthesizer.load(args.model)
    else:
        model = Synthesizer(random_state=args.seed).fit(train)
        print("fit", model.fit_timings_, flush=True)
        model.save(ROOT / "runs" / "benchmark-adult-model")
    results = {"anomaly": anomaly_detection(model, train, test)}
    print(json.dumps(results["anomaly"], indent=1), flush=True)
    results["conditional"] = conditional(model, train, score)
    print(json.dumps(results["conditional"], indent=1), flush=True)
    results["interpolation"] = interpolation(model, train, test)
    print(json.dumps(results["interpolation"], indent=1), flush=True)
    if not args.skip_augmentation:
        results["augmentation"] = augmentation(train, test, args.seed)
        print(json.dumps(results["augmentation"], indent=1), flush=True)

    a, c, i = results["anomaly"], results["conditional"], results["interpolation"]
    bars = [
        ("anomaly AUC >= 0.85", a["auc_synthvae"] >= 0.85, a["auc_synthvae"]),
        ("anomaly AUC >= IsolationForest + 0.05", a["auc_synthvae"] >= a["auc_isolation_forest"] + 0.05,
         f"{a['auc_synthvae']} vs {a['auc_isolation_forest']}"),
        ("every conditioned row meets its condition",
         all(x["rows_meeting"] == 1.0 for x in c["conditions"]), [x["rows_meeting"] for x in c["conditions"]]),
        ("conditional quality >= 0.95 x unconditional",
         all(x["quality_ratio"] >= 0.95 for x in c["conditions"]), [x["quality_ratio"] for x in c["conditions"]]),
        ("10,000 rows for the ~1% condition in <= 2 s",
         c["conditions"][1]["seconds_10k"] <= 2.0, c["conditions"][1]["seconds_10k"]),
        ("interpolated rows pass the schema", i["schema_problems"] == 0, i["schema_problems"]),
    ]
    print("\nBars:")
    for name, ok, value in bars:
        print(f"  {'PASS' if ok else 'FAIL'}  {name}: {value}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0 if all(ok for _, ok, _ in bars) else 1


if __name__ == "__main__":
    raise SystemExit(main())
