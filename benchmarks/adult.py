"""Adult benchmark: synthvae's defaults against the anchors and its bars.

    python benchmarks/adult.py [--seed 0] [--with-sdv] [--json out.json] [--save DIR]

Fits `Synthesizer(random_state=seed)` with defaults on the bundled Adult training split
(32,561 rows), times the fit and a 100,000-row draw, and scores the rows with the
independent yardstick in ../shared/yardstick (the code that measured ../shared/ANCHORS.md),
so the figures compare like for like. Anchor figures come from ANCHORS.md (same kind of
machine, 2 cores); with --with-sdv, SDV's GaussianCopula is also run here, in this process,
as a same-machine speed and quality reference (needs `pip install sdv`). `--save DIR` keeps
the fitted model, e.g. for `benchmarks/scale.py --model DIR`.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
YARDSTICK = ROOT.parent / "shared" / "yardstick"

from synthvae import Synthesizer  # noqa: E402

# From ../shared/ANCHORS.md (measured 2026-11-23 on a 2-core machine of this kind).
ANCHORS = {
    "TabularARGN": {"quality": 0.980, "tstr_auc": 0.915, "dcr_ratio": 1.12, "fit_s": 173, "sample_100k_s": 5.03},
    "TVAE": {"quality": 0.909, "tstr_auc": 0.885, "dcr_ratio": 0.95, "fit_s": 1167, "sample_100k_s": 0.86},
    "GaussianCopula": {"quality": 0.814, "tstr_auc": 0.812, "dcr_ratio": 14.9, "fit_s": 8.6, "sample_100k_s": 2.32},
}
BARS = {"quality": (">=", 0.985), "tstr_auc": (">=", 0.915), "dcr_ratio": (">=", 1.0),
        "fit_s": ("<=", 90.0), "sample_100k_s": ("<=", 1.0)}


def measure(fit, sample, train, test, score) -> dict:
    start = time.perf_counter()
    model = fit(train)
    fit_s = time.perf_counter() - start
    sample(model, 1000)  # warm-up: first-call allocations are not throughput
    start = time.perf_counter()
    rows = sample(model, 100_000)
    sample_s = time.perf_counter() - start
    q = score.quality(train, rows)
    dcr = score.dcr(train, test, rows)
    return {"quality": q["quality"], "shapes": q["shapes"], "trends": q["trends"],
            "tstr_auc": score.tstr_auc(train, test, rows, "income", ">50K")["synth"],
            "dcr_ratio": dcr["dcr_ratio"], "exact_copies": dcr["exact_copy_rows"],
            "fit_s": round(fit_s, 1), "sample_100k_s": round(sample_s, 2)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--with-sdv", action="store_true")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--save", type=Path, help="save the fitted synthesizer here")
    args = parser.parse_args()
    if not (YARDSTICK / "score.py").is_file():
        sys.exit(f"the yardstick is missing: {YARDSTICK}/score.py")
    sys.path.insert(0, str(YARDSTICK))
    import score  # the anchors' own scorer

    train = pd.read_csv(ROOT / "data" / "adult.csv.gz")
    test = pd.read_csv(ROOT / "data" / "adult_test.csv.gz")
    fitted = []

    def fit_ours(df: pd.DataFrame) -> Synthesizer:
        fitted.append(Synthesizer(random_state=args.seed).fit(df))  # kept for --save
        return fitted[-1]

    results = {"synthvae": measure(fit_ours, lambda m, n: m.sample(n), train, test, score)}
    if args.save:
        print(f"saved to {fitted[-1].save(args.save)}")
    if args.with_sdv:
        from sdv.metadata import Metadata
        from sdv.single_table import GaussianCopulaSynthesizer

        def fit_gc(df):
            gc = GaussianCopulaSynthesizer(Metadata.detect_from_dataframe(df))
            gc.fit(df)
            return gc
        results["GaussianCopula (this run)"] = measure(fit_gc, lambda m, n: m.sample(n),
                                                       train, test, score)
    real = score.quality(train, test)
    results["real test split"] = {"quality": real["quality"], "shapes": real["shapes"],
                                  "trends": real["trends"]}

    ours = results["synthvae"]
    cols = ["quality", "shapes", "trends", "tstr_auc", "dcr_ratio", "exact_copies", "fit_s", "sample_100k_s"]
    print("\n| synthesizer | " + " | ".join(cols) + " |")
    print("|---" * (len(cols) + 1) + "|")
    for name, r in {**results, **{f"{k} (ANCHORS.md)": v for k, v in ANCHORS.items()}}.items():
        print(f"| {name} | " + " | ".join(str(r.get(c, "—")) for c in cols) + " |")
    print("\nBars:")
    failed = 0
    for key, (op, bar) in BARS.items():
        ok = ours[key] >= bar if op == ">=" else ours[key] <= bar
        failed += not ok
        ratios = ", ".join(f"{ours[key] / a[key]:.2f}x {name}" for name, a in ANCHORS.items())
        print(f"  {key:14s} {ours[key]!s:>8} {op} {bar:<6} {'PASS' if ok else 'FAIL'}   ({ratios})")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
