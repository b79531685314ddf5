"""Sampling at volume (issue #6): `python -m flows.generate --model DIR --rows N` end to end.

    python benchmarks/scale.py --model runs/adult/model [--rows 1000000 10000000] [--workers 0 2]

Runs the command line as a user would, from a saved model (no training), streaming Parquet
chunk by chunk with every chunk checked against the schema, then scoring a 200,000-row head.
Prints, per N: wall time, the flow's own sample step (inverse transforms, schema checks and
the write included), rows per second of that step, and the peak resident memory of the whole
process (its children included), read from getrusage.

`--workers 0` is one process (torch and the sampling kernel on every core, one Parquet
file); `--workers N` shards the same rows over a local Dask cluster of N one-thread worker
processes, each writing its parts (the step's time then includes starting the cluster).
The peak RSS of a Dask run is the largest single process's, not their sum.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(model: Path, rows: int, workdir: Path, workers: int = 0) -> dict:
    output = workdir / f"rows-{rows}-workers-{workers}"
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env.setdefault("PREFECT_HOME", str(workdir / "prefect"))
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "flows.generate", "--model", str(model),
                           "--rows", str(rows), "--output", str(output),
                           *(["--workers", str(workers)] if workers else [])],
                          cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if proc.returncode != 0:
        raise SystemExit(proc.stderr[-3000:])
    report = json.loads((output / "report.json").read_text())
    sample_s = report["timings"]["sample"]
    data = output / "synthetic.parquet"
    size = sum(p.stat().st_size for p in ([data] if data.is_file() else data.iterdir()))
    return {"rows": rows, "workers": workers, "wall_s": round(wall, 1), "sample_s": sample_s,
            "rows_per_s": round(rows / sample_s), "peak_rss_mib": round(peak_kib / 1024),
            "peak_rss_grew": peak_kib > before, "parquet_mib": round(size / 2**20, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--workers", type=int, nargs="+", default=[0],
                        help="0: one process; N: a local Dask cluster of N workers")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="synthvae-scale-") as work:
        results = []
        for workers in args.workers:
            for rows in sorted(args.rows):  # ascending, so each peak RSS is that run's own
                results.append(run(args.model.resolve(), rows, Path(work), workers))
                print(json.dumps(results[-1]), flush=True)
                shutil.rmtree(Path(work) / f"rows-{rows}-workers-{workers}")
    print("\n| rows | workers | wall | sample step | rows/s | peak RSS | parquet |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['rows']:,} | {r['workers'] or 'one process'} | {r['wall_s']} s | "
              f"{r['sample_s']} s | {r['rows_per_s']:,} | {r['peak_rss_mib']} MiB | "
              f"{r['parquet_mib']} MiB |")
    print("\nBars (issue #6): >= 500,000 rows/s, peak RSS <= 2 GiB whatever --rows is")
    for r in results:
        ok = r["rows_per_s"] >= 500_000 and r["peak_rss_mib"] <= 2048
        print(f"  {r['rows']:>11,} rows, workers {r['workers']}: {'PASS' if ok else 'FAIL'} "
              f"({r['rows_per_s']:,} rows/s, {r['rows_per_s'] / 500_000:.2f}x the bar)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
