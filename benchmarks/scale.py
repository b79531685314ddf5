"""Sampling at volume (issue #6): `python -m flows.generate --model DIR --rows N` end to end.

    python benchmarks/scale.py --model runs/adult/model [--rows 1000000 10000000]

Runs the command line as a user would, from a saved model (no training), streaming Parquet
chunk by chunk with every chunk checked against the schema, then scoring a 200,000-row head.
Prints, per N: wall time, the flow's own sample step (inverse transforms, schema checks and
the write included), rows per second of that step, and the peak resident memory of the whole
process (its children included), read from getrusage.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(model: Path, rows: int, workdir: Path) -> dict:
    output = workdir / f"rows-{rows}"
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env.setdefault("PREFECT_HOME", str(workdir / "prefect"))
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "flows.generate", "--model", str(model),
                           "--rows", str(rows), "--output", str(output)],
                          cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if proc.returncode != 0:
        raise SystemExit(proc.stderr[-3000:])
    report = json.loads((output / "report.json").read_text())
    sample_s = report["timings"]["sample"]
    size = (output / "synthetic.parquet").stat().st_size
    return {"rows": rows, "wall_s": round(wall, 1), "sample_s": sample_s,
            "rows_per_s": round(rows / sample_s), "peak_rss_mib": round(peak_kib / 1024),
            "peak_rss_grew": peak_kib > before, "parquet_mib": round(size / 2**20, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="synthvae-scale-") as work:
        results = []
        for rows in sorted(args.rows):  # ascending, so each peak RSS is that run's own
            results.append(run(args.model.resolve(), rows, Path(work)))
            print(json.dumps(results[-1]), flush=True)
    print("\n| rows | wall | sample step | rows/s | peak RSS | parquet |")
    print("|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['rows']:,} | {r['wall_s']} s | {r['sample_s']} s | {r['rows_per_s']:,} | "
              f"{r['peak_rss_mib']} MiB | {r['parquet_mib']} MiB |")
    print("\nBars (issue #6): >= 500,000 rows/s, peak RSS <= 2 GiB whatever --rows is")
    for r in results:
        ok = r["rows_per_s"] >= 500_000 and r["peak_rss_mib"] <= 2048
        print(f"  {r['rows']:>11,} rows: {'PASS' if ok else 'FAIL'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
