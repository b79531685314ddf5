"""Privacy benchmark: how long `privacy_report` takes on 100,000 synthetic Adult rows.

    python benchmarks/privacy.py [--synthetic runs/adult/synthetic.parquet] [--seed 0]
                                 [--sensitive income ...] [--n-attacks 2000] [--json out.json]

Splits data/adult.csv.gz into training and holdout rows the way `flows.generate` does
(a seeded 20% holdout), so a synthetic table written by `python -m flows.generate` with the
same seed can be scored against the rows it was trained on. Without --synthetic, a quick
stand-in is used: 100,000 rows resampled from Adult's official test split (rows no model
saw) with numbers jittered by up to 2%, so it should score as private.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from synthvae.evaluation.fidelity import sdmetrics_metadata  # noqa: E402
from synthvae.evaluation.privacy import PrivacyGate, check_privacy_options, privacy_report  # noqa: E402

NUMBERS = ["age", "fnlwgt", "capital-gain", "capital-loss", "hours-per-week"]


def stand_in(rows: int, seed: int) -> pd.DataFrame:
    """`rows` rows of Adult's test split, drawn with replacement, numbers jittered ±2%."""
    rng = np.random.default_rng(seed)
    table = pd.read_csv(ROOT / "data" / "adult_test.csv.gz")
    sample = table.sample(rows, replace=True, random_state=seed).reset_index(drop=True)
    for name in NUMBERS:
        jitter = rng.uniform(0.98, 1.02, size=rows)
        sample[name] = np.round(sample[name] * jitter).astype(sample[name].dtype)
    return sample


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--synthetic", type=Path, help="parquet of synthetic rows (default: stand-in)"
    )
    parser.add_argument("--rows", type=int, default=100_000, help="stand-in rows")
    parser.add_argument("--seed", type=int, default=0, help="holdout split and report seed")
    parser.add_argument("--holdout-fraction", type=float, default=0.2)
    parser.add_argument("--sensitive", nargs="+")
    parser.add_argument(
        "--n-attacks", type=int, default=2000, help="targets or predicates per attack"
    )
    parser.add_argument("--json", type=Path, help="write the report here")
    args = parser.parse_args()

    table = pd.read_csv(ROOT / "data" / "adult.csv.gz")
    check_privacy_options(table.columns, args.sensitive)
    n_holdout = max(1, round(len(table) * args.holdout_fraction))  # as flows.generate
    holdout = table.sample(n=n_holdout, random_state=args.seed)
    train = table.drop(index=holdout.index).reset_index(drop=True)
    holdout = holdout.reset_index(drop=True)
    if args.synthetic:
        synthetic, source = pd.read_parquet(args.synthetic), str(args.synthetic)
    else:
        synthetic, source = (
            stand_in(args.rows, args.seed),
            "stand-in: resampled adult_test, jittered",
        )
    metadata = sdmetrics_metadata(train)

    start = time.perf_counter()
    report = privacy_report(
        train,
        holdout,
        synthetic,
        metadata,
        sensitive=args.sensitive,
        random_state=args.seed,
        n_attacks=args.n_attacks,
    )
    seconds = time.perf_counter() - start

    print(
        f"synthetic: {source} ({len(synthetic):,} rows); train {len(train):,}, holdout {len(holdout):,}"
    )
    print(f"privacy_report: {seconds:.1f} s")
    sdm = report["sdmetrics"]
    print(
        f"  sdmetrics ({sdm['seconds']} s): DCRBaselineProtection "
        f"{sdm['dcr_baseline_protection']['score']}, DCROverfittingProtection "
        f"{sdm['dcr_overfitting_protection']['score']}, NewRowSynthesis "
        f"{sdm['new_row_synthesis']['score']}"
    )
    for secret, result in sdm["disclosure_protection"].items():
        print(
            f"    DisclosureProtectionEstimate[{secret}] {result['score']} "
            f"(knows {', '.join(result['known_columns'])}; {result['seconds']} s)"
        )
    copies = report["exact_copies"]
    print(
        f"  exact copies: synthetic {copies['synthetic_copy_rate']}, holdout "
        f"{copies['holdout_copy_rate']} ({copies['seconds']} s)"
    )
    print(f"  attacks ({report['attacks']['seconds']} s):")
    for name, result in report["attacks"].items():
        for label, attack in (
            {name: result}.items()
            if name != "inference"
            else ((f"inference[{s}]", r) for s, r in result.items())
        ):
            if isinstance(attack, dict):
                print(
                    f"    {label:26s} risk {attack['risk']} ci {attack['ci']} (attack "
                    f"{attack.get('attack_rate')}, control {attack.get('control_rate')}, "
                    f"baseline {attack.get('baseline_rate')}, n {attack.get('attacks')}; "
                    f"{attack['seconds']} s)"
                )
    mia = report["membership_inference"]
    print(f"  membership inference: AUC {mia['auc']} ci {mia['auc_ci']} ({mia['seconds']} s)")
    failed = PrivacyGate().check(report)
    print(
        "  gate (defaults): "
        + (
            "passes"
            if not failed
            else "fails on "
            + "; ".join(
                f"{f['name']} = {f['value']} ({f['rule']} {f['threshold']})" for f in failed
            )
        )
    )
    if args.json:
        args.json.write_text(
            json.dumps({**report, "benchmark_seconds": round(seconds, 2)}, indent=2)
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
