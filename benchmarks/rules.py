"""The rules found on every table of a corpus, how often sampled rows break them, and what
keeping them costs and gains.

    python benchmarks/rules.py [--datasets DIR] [--only NAME ...] [--json FILE]
                               [--epochs N] [--seeds 1] [--adult-rows 100000]

For each table (each a folder holding `train.csv.gz` and `test.csv.gz`, `../shared/datasets`
by default): `Synthesizer(random_state=0).fit(train)`, then `sample(len(train))` twice from
the one fitted model, with its rules and with them set aside (same seed). `--seeds N` fits
N models (`random_state` 0 to N-1) and reports the mean detection AUC and quality with and
without the rules, each seed's beside it: on a table of a few thousand rows one fit's
detection moves by a few hundredths between seeds, more than rules move it. Rules change
nothing the model learns (`tests/test_rules.py` checks that a fit without rules gives the
very rows of the same fit with its rules set aside), so the two samples differ by the rules
alone. It prints:

- per table, each rule found, its support, and the share of rows breaking it: real training
  rows, synthetic rows without the rules, synthetic rows with them; a key that repeats adds
  its groups ("rows of one id share date, time"), which the sampler keeps either way;
- a table: rules found; time spent finding them as a share of the rest of the fit (the fit
  time a table pays for its rules); rows breaking any rule without and with them; the
  yardstick's detection AUC and quality without and with them.

Then it times `sample(100000)` on the bundled Adult table (best of three, after one warm-up)
with its rules. Scores come from `../shared/yardstick/score.py`, the scorer the anchors were
measured with. Time it alone: a second CPU-heavy process on a 2-core machine slows a fit many
times over.
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

from synthvae import Synthesizer  # noqa: E402
from synthvae.io import read_table  # noqa: E402
from synthvae.rules import RuleSet  # noqa: E402


def broken_rows(model: Synthesizer, rows: pd.DataFrame) -> tuple[list[int], int]:
    """Per rule, the rows of `rows` breaking it; and the rows breaking any."""
    rules, encoders = model.rules_, {e.name: e for e in model.encoder_.encoders_}
    masks = [rules._broken(i, r, rows, encoders) for i, r in enumerate(rules.rules)]
    any_broken = np.any(masks, axis=0) if masks else np.zeros(len(rows), bool)
    return [int(m.sum()) for m in masks], int(any_broken.sum())


SCORES = ("detection_without", "detection_with", "quality_without", "quality_with")


def fit_and_score(name: str, train: pd.DataFrame, seed: int, params: dict, yardstick) -> dict:
    """One model fitted with `random_state=seed`: its rules, the rows breaking each, and
    detection AUC and quality of `len(train)` rows sampled with the rules and without."""
    model = Synthesizer(random_state=seed, **params).fit(train)
    timings = model.fit_timings_
    with_rules = model.sample(len(train), random_state=seed + 1)
    rules, model.rules_ = model.rules_, RuleSet([])
    without = model.sample(len(train), random_state=seed + 1)
    model.rules_ = rules
    real, real_any = broken_rows(model, train)
    off, off_any = broken_rows(model, without)
    on, on_any = broken_rows(model, with_rules)
    n = len(train)
    print(f"\n{name} ({n:,} rows x {train.shape[1]}, random_state={seed}): {len(rules)} rules")
    for r, a, b, c in zip(rules.rules, real, off, on):
        print(f"  {r.kind:<11} {r.describe()} (support {r.support:,}): rows breaking it: "
              f"real {a / n:.2%}, synthetic without rules {b / n:.2%}, with {c / n:.2%}")
    # a repeated key's groups are kept by the sampler, not by the rules: the same in both
    groups = [g for g in rules.report(train, with_rules, model.encoder_) if g["kind"] == "group"]
    for g in groups:
        print(f"  group       {g['rule']} (support {g['support']:,}): rows breaking it: "
              f"real {g['real_violation_rate']:.2%}, synthetic "
              f"{g['synthetic_violation_rate']:.2%} (kept with or without the rules)")
    row = {"rows": n, "cols": train.shape[1], "rules": len(rules), "groups": groups,
           "rule_list": [r.describe() for r in rules.rules],
           "find_s": timings["rules"], "fit_s": timings["total"],
           "fit_growth": timings["rules"] / max(timings["total"] - timings["rules"], 1e-9),
           "real_breaking": real_any / n, "breaking_without": off_any / n,
           "breaking_with": on_any / n,
           "per_rule": [{"rule": r.describe(), "kind": r.kind, "real": a / n,
                         "without": b / n, "with": c / n}
                        for r, a, b, c in zip(rules.rules, real, off, on)]}
    for label, rows in (("without", without), ("with", with_rules)):
        row[f"detection_{label}"] = yardstick.detection(train, rows)["detection_auc"]
        row[f"quality_{label}"] = yardstick.quality(train, rows)["quality"]
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=Path, default=ROOT.parent / "shared" / "datasets")
    parser.add_argument("--yardstick", type=Path, default=ROOT.parent / "shared" / "yardstick")
    parser.add_argument("--only", nargs="*")
    parser.add_argument("--epochs", type=int, help="cap the epochs (quick checks, not the bar)")
    parser.add_argument("--seeds", type=int, default=1, help="models fitted per table")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--adult-rows", type=int, default=100_000,
                        help="rows of the Adult sampling timing (0: no timing)")
    args = parser.parse_args()
    if args.seeds < 1:
        parser.error(f"--seeds must be at least 1, got {args.seeds}")
    sys.path.insert(0, str(args.yardstick))
    import score as yardstick  # noqa: PLC0415

    params = {"epochs": args.epochs} if args.epochs else {}
    names = args.only or sorted(p.name for p in args.datasets.iterdir()
                                if (p / "train.csv.gz").exists())
    results = []
    for name in names:
        train = read_table(args.datasets / name / "train.csv.gz")
        fits = [fit_and_score(name, train, seed, params, yardstick) for seed in range(args.seeds)]
        row = dict(fits[0])  # rules and per-rule rates: the first fit's
        for key in SCORES:
            row[f"{key}_seeds"] = [f[key] for f in fits]
            row[key] = round(float(np.mean(row[f"{key}_seeds"])), 4)
        # rows breaking a rule and fit time on rules: the worst fit's, as the bars read them
        for key in ("breaking_without", "breaking_with"):
            row[key] = max(f[key] for f in fits)
        slowest = max(fits, key=lambda f: f["fit_growth"])
        row.update({key: slowest[key] for key in ("fit_growth", "find_s", "fit_s")})
        row["table"], row["seeds"] = name, args.seeds
        seeds = "" if args.seeds == 1 else (
            f" (mean of {args.seeds} fits: without {row['detection_without_seeds']}, "
            f"with {row['detection_with_seeds']})")
        print(f"  detection {row['detection_without']} -> {row['detection_with']}{seeds}, "
              f"quality {row['quality_without']} -> {row['quality_with']}, finding the rules "
              f"took {row['find_s']} s of a {row['fit_s']} s fit", flush=True)
        results.append(row)

    print("\n| table | rules | fit time spent on rules | rows breaking a rule: without -> with"
          " | detection AUC: without -> with | quality: without -> with |")
    print("|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['table']} | {r['rules']} | {r['fit_growth']:+.1%} ({r['find_s']} s) | "
              f"{r['breaking_without']:.2%} -> {r['breaking_with']:.2%} | "
              f"{r['detection_without']} -> **{r['detection_with']}** | "
              f"{r['quality_without']} -> {r['quality_with']} |")
    if results:
        det = [r["detection_with"] - r["detection_without"] for r in results]
        print(f"\ndetection with rules minus without: median {np.median(det):+.4f}, "
              f"largest {max(det):+.4f}; fit time spent on rules: largest "
              f"{max(r['fit_growth'] for r in results):.1%}; rows breaking a rule with rules: "
              f"largest {max(r['breaking_with'] for r in results):.2%}")

    times = []
    if args.adult_rows:
        adult = pd.read_csv(ROOT / "data" / "adult.csv.gz")
        model = Synthesizer(random_state=0, **params).fit(adult)
        model.sample(args.adult_rows, random_state=0)
        for seed in range(3):
            start = time.perf_counter()
            model.sample(args.adult_rows, random_state=seed)
            times.append(time.perf_counter() - start)
        print(f"\nadult: sample({args.adult_rows:,}) with {len(model.rules_)} rules: best "
              f"{min(times):.2f} s of {[round(t, 2) for t in times]}")
    if args.json:
        args.json.write_text(json.dumps({"tables": results, "adult_sample_s": times}, indent=1,
                                        default=str))
    worst = [r["table"] for r in results if r["breaking_with"] > 0]
    print(f"{len(results) - len(worst)} of {len(results)} tables: no sampled row breaks a rule"
          + (f"; breaking: {', '.join(worst)}" if worst else ""))
    return 1 if worst else 0


if __name__ == "__main__":
    raise SystemExit(main())
