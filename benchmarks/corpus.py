"""The defaults on every real table of a corpus, through the library and through the flow.

    python benchmarks/corpus.py [--datasets DIR] [--only NAME ...] [--mode library|flow|both]
                                [--epochs N] [--json FILE] [--keep DIR]

A corpus is a folder of tables, each a folder holding `train.csv.gz` and `test.csv.gz` (the
17 real tables this project is developed against sit in `../shared/datasets`, the default).
For each table:

- **library**: `Synthesizer(random_state=0).fit(train)`, then `sample(len(train))`;
- **flow**: `python -m flows.generate --input train.csv.gz --rows len(train)` into a temporary
  folder (the flow drafts the schema, holds rows back, scores privacy, checks every row).

Every run must exit 0 and its rows must pass these checks against the input as read by
`synthvae.io.read_table`:
- the input's columns, in order, with their dtypes; null rates within 0.02 of the input's
  (`synthvae.forms.structure_problems`);
- value forms (`synthvae.forms.form_problems`, on the input read as text): every date and
  time has a digit shape seen in the input (`2017-05-01T00:14:22Z` -> `9999-99-99T99:99:99Z`,
  so zone notation, padding and separators are the input's own) and parses; leading-zero
  digit strings stay strings of the input's widths; a prefix shared by every input value
  (`17-156684`) is kept by every synthetic value.

It prints one line per run as it goes and, at the end, a table: fit seconds, quality against
the table's real holdout (the yardstick's SDMetrics quality), detection AUC (the yardstick's
classifier two-sample test, 0.5 = indistinguishable) beside the real holdout's, worst null
drift, the DCR ratio (synthetic vs real holdout median distance to the closest training row),
the flow's exit status, and the failed checks. Exit status 1 when any check fails.

Scores come from `../shared/yardstick/score.py` (`--yardstick`), the scorer the anchors were
measured with, so figures compare like for like. Time it alone: a second CPU-heavy process on
a 2-core machine slows a fit many times over.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from synthvae import Synthesizer  # noqa: E402
from synthvae.forms import form_problems, null_drifts, structure_problems  # noqa: E402
from synthvae.io import read_table  # noqa: E402

def run_flow(train_path: Path, rows: int, epochs: int | None, out: Path) -> tuple[int, str, float]:
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    env.setdefault("PREFECT_HOME", str(out.parent / "prefect-home"))
    args = [sys.executable, "-m", "flows.generate", "--input", str(train_path), "--rows",
            str(rows), "--output", str(out)]
    if epochs:
        args += ["--epochs", str(epochs)]
    start = time.perf_counter()
    done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    tail = (done.stdout + done.stderr).strip().splitlines()
    return done.returncode, (tail[-1] if tail else ""), wall


def score(yardstick, train: pd.DataFrame, test: pd.DataFrame, synth: pd.DataFrame) -> dict:
    return {"quality": yardstick.quality(train, synth)["quality"],
            "quality_holdout": yardstick.quality(train, test)["quality"],
            "detection": yardstick.detection(train, synth)["detection_auc"],
            "detection_holdout": yardstick.detection(train, test)["detection_auc"],
            "dcr": yardstick.dcr(train, test, synth)["dcr_ratio"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=Path, default=ROOT.parent / "shared" / "datasets")
    parser.add_argument("--yardstick", type=Path, default=ROOT.parent / "shared" / "yardstick")
    parser.add_argument("--only", nargs="*")
    parser.add_argument("--mode", choices=["library", "flow", "both"], default="both")
    parser.add_argument("--epochs", type=int, help="cap the epochs (quick checks, not the bar)")
    parser.add_argument("--no-score", action="store_true", help="checks only, no yardstick")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--keep", type=Path, help="write each table's library rows here (Parquet)")
    parser.add_argument("--set", action="append", default=[], metavar="PARAM=VALUE",
                        help="a Synthesizer parameter for the library runs (rules=false, say)")
    args = parser.parse_args()

    yardstick = None
    if not args.no_score:
        sys.path.insert(0, str(args.yardstick))
        import score as yardstick  # noqa: PLC0415

    params = {"epochs": args.epochs} if args.epochs else {}
    for item in args.set:
        key, _, value = item.partition("=")
        try:  # numbers, true/false, null; anything else is a string
            params[key] = json.loads(value.lower() if value.lower() in ("true", "false", "null")
                                     else value)
        except ValueError:
            params[key] = value
    names = args.only or sorted(p.name for p in args.datasets.iterdir()
                                if (p / "train.csv.gz").exists())
    results = []
    for name in names:
        folder = args.datasets / name
        train = read_table(folder / "train.csv.gz")
        test = read_table(folder / "test.csv.gz")
        raw = pd.read_csv(folder / "train.csv.gz", dtype=str, keep_default_na=False)
        row = {"table": name, "rows": len(train), "cols": train.shape[1]}
        if args.mode in ("library", "both"):
            problems, synth = [], None
            start = time.perf_counter()
            try:
                model = Synthesizer(random_state=0, **params)
                model.fit(train)
                row["fit_s"] = round(time.perf_counter() - start, 1)
                synth = model.sample(len(train))
                broken = model.rules_.violations(synth, model.encoder_)
                row["rules"], row["rule_violations"] = len(broken), sum(broken)
            except Exception as err:  # noqa: BLE001 - a crash is a result to report
                problems.append(f"library raised {type(err).__name__}: {' '.join(str(err).split())[:300]}")
            if synth is not None:
                row["null_drift"] = float(null_drifts(train, synth).max())
                if args.keep:
                    args.keep.mkdir(parents=True, exist_ok=True)
                    synth.to_parquet(args.keep / f"{name}.parquet")
                problems += structure_problems(train, synth) + form_problems(raw, synth)
                if yardstick is not None:
                    row.update(score(yardstick, train, test, synth))
            row["library"] = problems
            print(f"{name} library: fit {row.get('fit_s')} s {row.get('quality')} "
                  f"det {row.get('detection')} rules {row.get('rules')} "
                  f"(rows breaking them {row.get('rule_violations')}) {problems or 'ok'}",
                  flush=True)
        if args.mode in ("flow", "both"):
            problems = []
            with tempfile.TemporaryDirectory(prefix=f"corpus-{name}-") as tmp:
                out = Path(tmp) / "out"
                code, last, wall = run_flow(folder / "train.csv.gz", len(train), args.epochs, out)
                row["flow_exit"], row["flow_s"] = code, round(wall, 1)
                if code != 0:
                    problems.append(f"flow exit {code}: {last[:300]}")
                else:
                    synth = pd.read_parquet(out / "synthetic.parquet")
                    row["flow_null_drift"] = float(null_drifts(train, synth).max())
                    problems += structure_problems(train, synth) + form_problems(raw, synth)
                    if yardstick is not None and args.mode == "flow":
                        row.update(score(yardstick, train, test, synth))
            row["flow"] = problems
            print(f"{name} flow: exit {row['flow_exit']} in {row['flow_s']} s {problems or 'ok'}",
                  flush=True)
        results.append(row)

    print("\n| table | rows x cols | fit s | quality (real holdout) | detection AUC (real holdout)"
          " | null drift | DCR | rules (rows breaking) | flow | checks |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        checks = [f"library: {p}" for p in r.get("library", [])] + \
            [f"flow: {p}" for p in r.get("flow", [])]
        print(f"| {r['table']} | {r['rows']:,} x {r['cols']} | {r.get('fit_s', '')} | "
              f"{r.get('quality', '')} ({r.get('quality_holdout', '')}) | "
              f"**{r.get('detection', '')}** ({r.get('detection_holdout', '')}) | "
              f"{max(r.get('null_drift', 0), r.get('flow_null_drift', 0)):.3f} | "
              f"{r.get('dcr', '')} | {r.get('rules', '')} ({r.get('rule_violations', '')}) | "
              f"{r.get('flow_exit', '')} | {'; '.join(checks) or 'ok'} |")
    detections = [r["detection"] for r in results if "detection" in r]
    if detections:
        print(f"\nmedian detection AUC {np.median(detections):.3f} over {len(detections)} tables; "
              f"worst {max(detections):.3f}")
    failed = [r["table"] for r in results if r.get("library") or r.get("flow")]
    print(f"{len(results) - len(failed)} of {len(results)} tables pass every check"
          + (f"; failing: {', '.join(failed)}" if failed else ""))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=str))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
