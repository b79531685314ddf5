"""Related tables: synthvae's DatabaseSynthesizer against SDV's HMASynthesizer on the bundled
NYC flights database (`data/flights/`: airlines, airports, planes, 20,000 flights, 5,000
weather hours).

    python benchmarks/relational.py                          # synthvae alone
    python benchmarks/relational.py --sdv-python VENV/bin/python   # and HMA, in its own venv

SDV lives in a virtualenv of its own (`python -m venv V && V/bin/pip install torch==2.13.0
sdv`), so its pins never meet ours. Each tool fits and samples in a subprocess of its own, so
its peak memory (max RSS) is its own; the two run one after the other, never side by side.

Both get the same tables and keys. HMA needs every foreign key to find its parent, so the
rows whose keys point to no parent (orphan tail numbers and destinations; SDV's
`drop_unknown_references` does the same) are dropped for both; synthvae's `orphans="keep"`
is measured on the whole tables in `tests/`.

Printed per tool (`synthvae.relational.scores`): fit and sample seconds, peak memory,
SDMetrics' multi-table quality and its four parts, referential integrity per foreign key
(share of non-null values that find a generated parent), the children-per-parent KS
complement per relationship (SDMetrics' CardinalityShapeSimilarity), and per table the
detection AUC (the classifier two-sample test, 0.5 = indistinguishable) of its rows joined
to their context parent's columns: flights to their planes, weather to its airport.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
TABLES = ("airlines", "airports", "planes", "flights", "weather")


def load(folder: Path) -> dict[str, pd.DataFrame]:
    return {name: pd.read_csv(folder / f"{name}.csv.gz") for name in TABLES}


def prepared(folder: Path) -> tuple[dict[str, pd.DataFrame], dict, dict]:
    """The tables with orphan rows dropped, our dataset schema (as a dict) and the
    multi-table metadata (SDMetrics' and SDV's format) for them."""
    from synthvae.relational import infer_dataset_schema
    from synthvae.relational.scores import multi_table_metadata

    tables = load(folder)
    schema = infer_dataset_schema(tables)
    tables, _ = schema.check(tables, orphans="drop")
    return tables, schema.to_dict(), multi_table_metadata(tables, schema)


# ----------------------------------------------------------------- the workers
def work_synthvae(data: Path, out: Path, seed: int) -> dict:
    from synthvae.relational import DatabaseSynthesizer, DatasetSchema

    tables = {name: pd.read_parquet(data / f"{name}.parquet") for name in TABLES}
    schema = DatasetSchema.from_dict(json.loads((data / "schema.json").read_text()))
    start = time.perf_counter()
    model = DatabaseSynthesizer(random_state=seed).fit(tables, schema)
    fit = time.perf_counter() - start
    start = time.perf_counter()
    synth = model.sample(random_state=seed)
    return _finish(synth, out, fit, time.perf_counter() - start,
                   {"per_table_fit_s": model.fit_seconds_, "drawn_alone": model.fallbacks_})


def work_hma(data: Path, out: Path, seed: int) -> dict:
    import numpy as np
    from sdv.metadata import Metadata
    from sdv.multi_table import HMASynthesizer

    tables = {name: pd.read_parquet(data / f"{name}.parquet") for name in TABLES}
    metadata = Metadata.load_from_dict(json.loads((data / "metadata.json").read_text()))
    np.random.seed(seed)
    start = time.perf_counter()
    model = HMASynthesizer(metadata)
    model.fit(tables)
    fit = time.perf_counter() - start
    start = time.perf_counter()
    synth = model.sample_scale(scale=1.0)
    return _finish(synth, out, fit, time.perf_counter() - start, {})


def _finish(synth: dict, out: Path, fit: float, sample: float, extra: dict) -> dict:
    import resource

    for name, df in synth.items():
        df.to_parquet(out / f"{name}.parquet")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return {"fit_s": round(fit, 1), "sample_s": round(sample, 1), "peak_mib": round(peak),
            **extra}


# ------------------------------------------------------------------- scoring
def score(real: dict[str, pd.DataFrame], synth: dict[str, pd.DataFrame], schema: dict) -> dict:
    from synthvae.relational import DatasetSchema
    from synthvae.relational.scores import score_database

    scores = score_database(real, synth, DatasetSchema.from_dict(schema))
    return {"quality": scores["quality"], "parts": scores["quality_parts"],
            "integrity": scores["referential_integrity"],
            "cardinality": scores["cardinality_ks_complement"],
            "detection": {name: t["detection_auc"] for name, t in scores["tables"].items()},
            "giveaways": {name: [g["column"] for g in t["giveaways"]]
                          for name, t in scores["tables"].items()},
            "rows": {name: len(df) for name, df in synth.items()}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT / "data" / "flights")
    parser.add_argument("--sdv-python", help="python of a virtualenv with sdv installed")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tools", default="synthvae,hma",
                        help="which to run, of synthvae,hma (hma needs --sdv-python)")
    parser.add_argument("--json", type=Path, help="write the figures here too")
    parser.add_argument("--worker", choices=["synthvae", "hma"], help=argparse.SUPPRESS)
    parser.add_argument("--work-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        out = args.work_dir / args.worker
        out.mkdir(exist_ok=True)
        work = work_synthvae if args.worker == "synthvae" else work_hma
        print(json.dumps(work(args.work_dir, out, args.seed)))
        return 0

    real, schema, meta = prepared(args.data)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for name, df in real.items():
            df.to_parquet(work / f"{name}.parquet")
        (work / "schema.json").write_text(json.dumps(schema))
        (work / "metadata.json").write_text(json.dumps(meta))
        wanted = args.tools.split(",")
        tools = [("synthvae", sys.executable)] if "synthvae" in wanted else []
        if args.sdv_python and "hma" in wanted:
            tools.append(("hma", args.sdv_python))
        for tool, python in tools:
            done = subprocess.run([python, __file__, "--worker", tool, "--work-dir", str(work),
                                   "--seed", str(args.seed)], capture_output=True, text=True,
                                  cwd=ROOT)
            if done.returncode:
                print(f"{tool} failed:\n{done.stderr[-3000:]}", file=sys.stderr)
                results[tool] = {"error": done.stderr.strip().splitlines()[-1]}
                continue
            figures = json.loads(done.stdout.strip().splitlines()[-1])
            synth = {name: pd.read_parquet(work / tool / f"{name}.parquet") for name in TABLES}
            figures.update(score(real, synth, schema))
            results[tool] = figures
            print(f"{tool}: {json.dumps(figures)}", flush=True)

    print("\nrows:", {name: len(df) for name, df in real.items()}, "(orphan rows dropped)")
    print("\n| figure | " + " | ".join(results) + " |")
    print("|---|" + "---|" * len(results))
    rows = [("fit s", lambda r: r.get("fit_s")), ("sample s", lambda r: r.get("sample_s")),
            ("peak memory MiB", lambda r: r.get("peak_mib")),
            ("multi-table quality", lambda r: r.get("quality"))]
    first = next((r for r in results.values() if "parts" in r), {})
    rows += [(p, lambda r, p=p: r.get("parts", {}).get(p)) for p in first.get("parts", {})]
    rows += [(f"integrity {k}", lambda r, k=k: r.get("integrity", {}).get(k))
             for k in first.get("integrity", {})]
    rows += [(f"cardinality {k}", lambda r, k=k: r.get("cardinality", {}).get(k))
             for k in first.get("cardinality", {})]
    rows += [(f"detection AUC {k}" + (" (joined to planes)" if k == "flights" else
                                      " (joined to airports)" if k == "weather" else ""),
              lambda r, k=k: r.get("detection", {}).get(k)) for k in first.get("detection", {})]
    for label, get in rows:
        print(f"| {label} | " + " | ".join(str(get(r)) for r in results.values()) + " |")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0 if all("error" not in r for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
