"""Sampling at volume: `python -m flows.generate --model DIR --rows N` end to end.

    python benchmarks/scale.py --model runs/adult/model [--rows 1000000 10000000] [--workers 0 2]

Runs the command line as a user would, from a saved model (no training), streaming Parquet
chunk by chunk with every chunk checked against the schema, then scoring a 200,000-row head.
Prints, per N: wall time, the flow's own sample step (inverse transforms, schema checks and
the write included), rows per second of that step, and the peak resident memory.

`--workers 0` is the flow on its own (chunks drawn by one thread per core, one Parquet
file); `--workers N` shards the same rows over a local Dask cluster of N one-thread worker
processes, each writing its parts (the step's time then includes starting the cluster).

Peak RSS is given twice: the largest single process's (getrusage), and the largest sum over
the flow's process and all its descendants (a local Dask cluster's scheduler and workers),
sampled every 0.1 s with psutil; the memory bar is checked against the sum.
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

import psutil

ROOT = Path(__file__).resolve().parents[1]


def run(model: Path, rows: int, workdir: Path, workers: int = 0) -> dict:
    output = workdir / f"rows-{rows}-workers-{workers}"
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env.setdefault("PREFECT_HOME", str(workdir / "prefect"))
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    with tempfile.TemporaryFile("w+") as log:
        proc = subprocess.Popen([sys.executable, "-m", "flows.generate", "--model", str(model),
                                 "--rows", str(rows), "--output", str(output),
                                 *(["--workers", str(workers)] if workers else [])],
                                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, text=True)
        tree_peak = watch_tree_rss(proc)
        wall = time.perf_counter() - start
        log.seek(0)
        if proc.returncode != 0:
            raise SystemExit(log.read()[-3000:])
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    report = json.loads((output / "report.json").read_text())
    sample_s = report["timings"]["sample"]
    data = output / "synthetic.parquet"
    size = sum(p.stat().st_size for p in ([data] if data.is_file() else data.iterdir()))
    return {"rows": rows, "workers": workers, "wall_s": round(wall, 1), "sample_s": sample_s,
            "rows_per_s": round(rows / sample_s), "peak_rss_mib": round(peak_kib / 1024),
            "peak_tree_rss_mib": round(tree_peak / 2**20),
            "peak_rss_grew": peak_kib > before, "parquet_mib": round(size / 2**20, 1)}


def watch_tree_rss(proc: subprocess.Popen, every_s: float = 0.1) -> int:
    """Waits for `proc`; returns the largest sum of resident memory over it and all its
    descendants (worker processes included), sampled every `every_s` seconds."""
    peak = 0
    root = psutil.Process(proc.pid)
    while proc.poll() is None:
        total = 0
        try:
            for p in [root, *root.children(recursive=True)]:
                total += p.memory_info().rss
        except psutil.Error:  # a process ended while it was being read
            pass
        peak = max(peak, total)
        time.sleep(every_s)
    return peak


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
    print("\n| rows | workers | wall | sample step | rows/s | peak RSS, largest process | "
          "peak RSS, all processes | parquet |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['rows']:,} | {r['workers'] or 'one process'} | {r['wall_s']} s | "
              f"{r['sample_s']} s | {r['rows_per_s']:,} | {r['peak_rss_mib']} MiB | "
              f"{r['peak_tree_rss_mib']} MiB | {r['parquet_mib']} MiB |")
    print("\nBars: >= 500,000 rows/s, peak RSS <= 2 GiB whatever --rows is")
    for r in results:
        ok = r["rows_per_s"] >= 500_000 and r["peak_tree_rss_mib"] <= 2048
        print(f"  {r['rows']:>11,} rows, workers {r['workers']}: {'PASS' if ok else 'FAIL'} "
              f"({r['rows_per_s']:,} rows/s, {r['rows_per_s'] / 500_000:.2f}x the bar)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
