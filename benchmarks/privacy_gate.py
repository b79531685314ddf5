"""Privacy gate calibration: does it pass rows that leak nothing and fail rows that copy?

    python benchmarks/privacy_gate.py [--datasets DIR] [--only NAME ...] [--draws 20]
                                      [--no-model] [--epochs N] [--json FILE]

For each table of a corpus (a folder of tables, each a folder with `train.csv.gz` and
`test.csv.gz`; default `../shared/datasets`), and for each of `--draws` random draws:

- the table's train and test rows are pooled and dealt at random, as many as the flow would
  have: training rows (80% of train.csv), holdout rows (20%), and the test split's count of
  real rows no model saw, standing in for synthetic rows (**real**);
- the same stand-in with 5%, 20% and 100% of its rows replaced by training rows drawn
  without replacement (**copy 5%**, ...);
- each is scored by `synthvae.evaluation.privacy.privacy_report` (SDMetrics' metrics left out: the gate
  does not read them) and judged by `synthvae.evaluation.gate.PrivacyGate()` with its defaults.

Copied sets are first judged on their exact copies alone, with the gate's own per-figure
bar (the false-alarm rate over the number of figures the full report has): a figure that
fails fails the gate whatever the others say, so the verdict is the full gate's. Only sets
that pass that figure are scored in full.

Then the **default model**, as a flow run would have it: `Synthesizer(random_state=0)`
fitted on the first draw's training rows, as many rows sampled as train.csv has, judged the
same way against that draw's holdout (`--no-model` skips it; `--draws 0` judges the model
alone).

Printed: per table, how many real draws pass (the bar: at least 95%), how many copied draws
fail (the bar: all), the model's verdict and the figures it failed, and, for comparison,
how many real draws the previous gate (upper 95% bounds on the attacks and the membership
AUC, copies against the holdout only) would have passed. Runs take about a minute per table
without the model; the model adds its fit.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from synthvae import Synthesizer  # noqa: E402
from synthvae.evaluation.fidelity import sdmetrics_metadata  # noqa: E402
from synthvae.evaluation.gate import PrivacyGate, attack_results, gate_figures  # noqa: E402
from synthvae.io import read_table  # noqa: E402
from synthvae.kinds import detect_kind  # noqa: E402
from synthvae.evaluation.privacy import copy_rates, privacy_report  # noqa: E402

COPY_RATES = (0.05, 0.2, 1.0)
HOLDOUT_FRACTION = 0.2  # the flow's default
ATTACKS = 5000  # the flow's attack targets per side


def deal(pooled: pd.DataFrame, n_train: int, n_holdout: int, rng) -> tuple[pd.DataFrame, ...]:
    order = rng.permutation(len(pooled))
    cuts = (order[:n_train], order[n_train:n_train + n_holdout], order[n_train + n_holdout:])
    return tuple(pooled.iloc[idx].reset_index(drop=True) for idx in cuts)


def with_copies(stand_in: pd.DataFrame, train: pd.DataFrame, rate: float, rng) -> pd.DataFrame:
    k = int(round(rate * len(stand_in)))
    copies = train.iloc[rng.choice(len(train), size=min(k, len(train)), replace=False)]
    kept = stand_in.iloc[rng.permutation(len(stand_in))[: len(stand_in) - len(copies)]]
    return pd.concat([kept, copies], ignore_index=True)


def report(train, holdout, synthetic, metadata, seed: int) -> dict:
    return privacy_report(train, holdout, synthetic, metadata, random_state=seed,
                          n_attacks=min(len(holdout), ATTACKS), sdmetrics=False)  # fmt: skip


def previous_gate_passes(report: dict) -> bool:
    """The gate as it was: upper 95% bounds (attacks ≤ 0.1, membership AUC ≤ 0.6) and
    copies against the holdout's rate alone (≤ 0); its SDMetrics figure is not measured here."""
    copies = report["exact_copies"]
    if copies["synthetic_copy_rate"] - copies["holdout_copy_rate"] > 0:
        return False
    if report["membership_inference"]["auc_ci"][1] > 0.6:
        return False
    return all(
        (a.get("ci") or [0, 0])[1] <= 0.1
        for _, a in attack_results(report["attacks"])
        if "skipped" not in a
    )


def judge_table(path: Path, draws: int, model: bool, epochs: int | None) -> dict:
    train_file = read_table(path / "train.csv.gz")
    pooled = pd.concat([train_file, read_table(path / "test.csv.gz")], ignore_index=True)
    n_holdout = int(round(HOLDOUT_FRACTION * len(train_file)))
    n_train = len(train_file) - n_holdout
    kinds = {c: detect_kind(train_file[c]) for c in train_file.columns}
    gate = PrivacyGate()
    out = {"rows": len(pooled), "real_pass": 0, "previous_gate_real_pass": 0,
           "copy_fail": {str(r): 0 for r in COPY_RATES}, "draws": draws,
           "real_failures": [], "copy_missed": []}  # fmt: skip
    start = time.perf_counter()
    for draw in range(draws):
        rng = np.random.default_rng([draw, 1])
        train, holdout, stand_in = deal(pooled, n_train, n_holdout, rng)
        metadata = sdmetrics_metadata(train, kinds)
        real = report(train, holdout, stand_in, metadata, draw)
        failures = gate.check(real)
        out["real_pass"] += not failures
        out["real_failures"] += [f["name"] for f in failures]
        out["previous_gate_real_pass"] += previous_gate_passes(real)
        p_needed = gate.p_needed(real)  # the copied sets' reports have the same figures
        for rate in COPY_RATES:
            copied = with_copies(stand_in, train, rate, rng)
            copies = copy_rates(train, holdout, copied, metadata)
            figure = next(f for f in gate_figures({"exact_copies": copies})
                          if f.name == "exact_copies.excess_copy_rate")
            failed = gate.failure(figure, p_needed) is not None or bool(
                gate.check(report(train, holdout, copied, metadata, draw)))
            out["copy_fail"][str(rate)] += failed
            if not failed:
                out["copy_missed"].append({"draw": draw, "rate": rate, "copies": copies})
    out["draw_seconds"] = round(time.perf_counter() - start, 1)
    if model:
        train, holdout, _ = deal(pooled, n_train, n_holdout, np.random.default_rng([0, 1]))
        fit_start = time.perf_counter()
        kwargs = {} if epochs is None else {"epochs": epochs}
        rows = Synthesizer(random_state=0, **kwargs).fit(train).sample(len(train_file))
        out["model_fit_seconds"] = round(time.perf_counter() - fit_start, 1)
        model_report = report(train, holdout, rows, sdmetrics_metadata(train, kinds), 0)
        out["model_failures"] = gate.check(model_report)
        out["model_figures"] = {f.name: (f.value, f.p_value) for f in gate_figures(model_report)}
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=Path, default=ROOT.parent / "shared" / "datasets")
    parser.add_argument("--only", nargs="*", default=None)
    parser.add_argument("--draws", type=int, default=20)
    parser.add_argument("--no-model", action="store_true")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    tables = sorted(p for p in args.datasets.iterdir() if (p / "train.csv.gz").exists())
    tables = [p for p in tables if args.only is None or p.name in args.only]
    results = {}
    for path in tables:
        result = judge_table(path, args.draws, not args.no_model, args.epochs)
        results[path.name] = result
        model = result.get("model_failures")
        verdict = "-" if model is None else ("pass" if not model else "FAIL " + ", ".join(
            f"{f['name']}={f['value']} (p={f['p_value']})" for f in model))
        print(f"{path.name}: real pass {result['real_pass']}/{args.draws} (previous gate "
              f"{result['previous_gate_real_pass']}/{args.draws}); copies fail "
              + ", ".join(f"{float(r):.0%} {n}/{args.draws}" for r, n in
                          result["copy_fail"].items())
              + f"; default model {verdict}; {result['draw_seconds']} s", flush=True)  # fmt: skip
    n = args.draws
    print("\n| table | rows | real rows pass | previous gate | 5% copies fail | 20% fail | "
          "100% fail | default model |")
    print("|---|---|---|---|---|---|---|---|")
    for name, r in results.items():
        model = r.get("model_failures")
        verdict = "-" if model is None else ("pass" if not model else
                                             "fail: " + ", ".join(f["name"] for f in model))
        fails = [r["copy_fail"][str(rate)] for rate in COPY_RATES]
        print(f"| {name} | {r['rows']:,} | {r['real_pass']}/{n} | "
              f"{r['previous_gate_real_pass']}/{n} | " + " | ".join(f"{f}/{n}" for f in fails)
              + f" | {verdict} |")  # fmt: skip
    met = all(r["real_pass"] >= 0.95 * n and all(v == n for v in r["copy_fail"].values())
              and not r.get("model_failures") for r in results.values())  # fmt: skip
    print(f"\nbars (real >= 95% pass, every copied set fails, default models pass): "
          f"{'met' if met else 'NOT met'}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str) + "\n")
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
