"""Adult's fit on a quiet machine and beside one competing CPU-bound process.

    python benchmarks/contention.py [--rows N] [--epochs N] [--policies library,spinning]
                                    [--cores N] [--seed 0] [--json out.json]

Fits `Synthesizer(random_state=seed)` (library defaults) on the bundled Adult training split
(data/adult.csv.gz, 32,561 rows) once with the machine to itself, then once while a second
process spins in a Python busy loop, and prints both times and their ratio. The bar: the
busy fit takes at most 2.5x the quiet one. Run it alone: any other work on the machine is
contention the script does not count.

Each fit runs in a fresh process, so that each thread policy is set before torch starts its
threads. Policies:
- `library`: what `import synthvae` sets up: threads sized to the CPU quota, OpenMP threads
  that sleep while they wait (OMP_WAIT_POLICY=PASSIVE), and a fit that trains on one core
  fewer than it may use, so that one competitor does not stall its lockstep threads;
- `all-cores`: the same, but training on every usable core (what a user's
  OMP_NUM_THREADS=<cores> gives);
- `spinning`: every core, and torch imported before synthvae, so GNU OpenMP keeps its own
  default (waiting threads spin a while before they sleep);
- `one-thread`: the library's setup with `torch.set_num_threads(1)` throughout.

`--rows 2000 --epochs 3` makes a quick try of the plumbing; the defaults are the real bar.
`--cores N` pins the script, the fits and the competitor to the first N of the CPUs this
process may use, to play a smaller machine on a bigger one (the bar was set on 2 cores).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ADULT = ROOT / "data" / "adult.csv.gz"
BAR = 2.5  # busy fit time / quiet fit time, at most
POLICIES = ("library", "all-cores", "spinning", "one-thread")
BUSY_LOOP = "while True:\n    pass\n"


def fit_once(policy: str, rows: int | None, epochs: int | None, seed: int) -> dict:
    """In this (fresh) process: set the policy up, fit, return the seconds and settings."""
    if policy in ("all-cores", "spinning"):
        os.environ["OMP_NUM_THREADS"] = str(len(os.sched_getaffinity(0)))  # as a user sets it
    if policy == "spinning":
        import torch  # noqa: F401  before synthvae: its OpenMP settings come too late

        os.environ["OMP_WAIT_POLICY"] = "unset (GNU OpenMP's default)"  # a label, read by none
    sys.path.insert(0, str(ROOT))
    import pandas as pd
    import torch

    from synthvae import Synthesizer
    from synthvae.io import usable_cores

    if policy == "one-thread":
        torch.set_num_threads(1)
    table = pd.read_csv(ADULT)
    table = table.head(rows) if rows else table
    start = time.perf_counter()
    synthesizer = Synthesizer(random_state=seed, epochs=epochs).fit(table)
    return {"seconds": round(time.perf_counter() - start, 2),
            "epochs_run": len(synthesizer.history_), "rows": len(table),
            "torch_threads": synthesizer.train_config_.threads or torch.get_num_threads(),
            "usable_cores": usable_cores(),
            "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "unset")}


def fit_in_child(policy: str, args: argparse.Namespace) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("OMP_WAIT_POLICY", "KMP_BLOCKTIME", "OMP_NUM_THREADS")}
    command = [sys.executable, __file__, "--child", policy, "--seed", str(args.seed)]
    command += ["--rows", str(args.rows)] if args.rows else []
    command += ["--epochs", str(args.epochs)] if args.epochs else []
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode:
        sys.exit(f"the {policy} fit failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def fit_beside_busy_loop(policy: str, args: argparse.Namespace) -> dict:
    competitor = subprocess.Popen([sys.executable, "-c", BUSY_LOOP])
    try:
        time.sleep(1.0)  # let the scheduler place it
        return fit_in_child(policy, args)
    finally:
        competitor.kill()
        competitor.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=None, help="first N Adult rows (all)")
    parser.add_argument("--epochs", type=int, default=None, help="epochs (library default)")
    parser.add_argument("--policies", default="library",
                        help=f"comma-separated, of {', '.join(POLICIES)} (library)")
    parser.add_argument("--cores", type=int, default=None, help="pin to the first N CPUs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--child", choices=POLICIES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(fit_once(args.child, args.rows, args.epochs, args.seed)))
        return
    policies = [p.strip() for p in args.policies.split(",") if p.strip()]
    unknown = sorted(set(policies) - set(POLICIES))
    if unknown:
        parser.error(f"unknown policies {unknown}; choose from {', '.join(POLICIES)}")
    if args.cores:
        os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:args.cores])  # inherited
    cpus = sorted(os.sched_getaffinity(0))
    print(f"CPUs {cpus}; Adult rows {args.rows or 'all'}, epochs {args.epochs or 'default'}, "
          f"seed {args.seed}; bar: busy / quiet <= {BAR}")
    results, first_quiet = {}, None
    for policy in policies:
        quiet = fit_in_child(policy, args)
        busy = fit_beside_busy_loop(policy, args)
        ratio = busy["seconds"] / quiet["seconds"]
        first_quiet = first_quiet or quiet["seconds"]
        results[policy] = {"quiet": quiet, "busy": busy, "ratio": round(ratio, 2)}
        verdict = "meets" if ratio <= BAR else "misses"
        print(f"{policy:>10}: quiet {quiet['seconds']:7.1f} s ({quiet['epochs_run']} epochs), "
              f"beside a busy loop {busy['seconds']:7.1f} s ({busy['epochs_run']} epochs): "
              f"{ratio:.2f}x, {verdict} the bar; quiet {quiet['seconds'] / first_quiet:.2f}x "
              f"the first policy's; training threads {quiet['torch_threads']}, "
              f"OMP_WAIT_POLICY {quiet['omp_wait_policy']}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
