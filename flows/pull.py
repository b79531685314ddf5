"""`python -m flows.pull`: a QA file from a published catalog version, in seconds.

    python -m flows.pull --dataset adult --rows 5000 --out qa.csv
    python -m flows.pull --dataset adult --version 3 --rows 5000 --pick random --seed 7
    python -m flows.pull --dataset adult --rows 2000 --where 'income=>50K' --where age=30..40

Rows come one of two ways:

- a slice of the version's published rows (the default): the first N, or with `--pick random`
  N rows chosen with `--seed`. These are the rows that were scored, and that passed the
  privacy gate when it was enforced; asking for more than the version holds is an error.
- `--fresh`: N new rows drawn from the version's saved model with `--seed` (same version and
  seed, same rows). `--where` conditions always draw fresh rows, every one meeting them.

Before any row is read, the version is checked against its manifest (synthvae.catalog), so a
corrupt or altered file stops the pull, named. The model loads from JSON and safetensors: no
code runs on load. The output file is written atomically (synthvae.io.write_table).

This is a plain command line over synthvae.catalog, not a Prefect flow, on purpose: a flow
run needs a Prefect API, and without a server Prefect starts a temporary one for the life of
the process (10-25 s, longer on a busy machine), several times the pull itself. A pull is a
read-only, local, seconds-long operation with nothing to retry, schedule or observe, so
Prefect's orchestration would add only latency. (It does not import Prefect at all.) Runs
that are worth observing, the scheduled refreshes that fit and publish, are flows:
flows/deploy.py.

Exit codes: 0 done; 2 bad input (unknown dataset or version, a file that fails its integrity
check, a condition the model cannot meet, more rows than a slice holds, a bad output path).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from synthvae.catalog import load_manifest
from synthvae.io import WRITE_FORMATS, InputError, read_table, write_table

PICKS = ("first", "random")
DATABASE_FORMATS = ("sqlite", "duckdb")


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m flows.pull",
        description="Write rows of a published synthetic dataset to a CSV or Parquet file: "
        "a slice of its published rows, or fresh rows drawn from its saved model.",
    )
    parser.add_argument("--dataset", required=True, help="dataset name in the catalog")
    parser.add_argument("--version", default="latest",
                        help="version number, or 'latest' (default: latest)")
    parser.add_argument("--rows", type=positive_int, default=None,
                        help="number of rows (default: as many as the version published)")
    parser.add_argument("--where", action="append", default=None, metavar="COL=VAL",
                        help="a condition every row meets, repeatable ('income=>50K', "
                        "age=30..40, sex=Female|Male, col=<null>); implies --fresh")
    parser.add_argument("--fresh", action="store_true",
                        help="draw new rows from the saved model instead of slicing the "
                        "published rows")
    parser.add_argument("--pick", choices=PICKS, default="first",
                        help="which published rows a slice takes (default: first)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of --pick random and of fresh draws (default: 0)")
    parser.add_argument("--format", choices=WRITE_FORMATS + DATABASE_FORMATS, default=None,
                        help="output format (default: from --out's suffix, else parquet); "
                        "a database's tables go to a folder of Parquet files, or one SQLite "
                        "or DuckDB file")
    parser.add_argument("--to", default=None, metavar="URL",
                        help="a database's tables into a database server "
                        "(postgresql://user:password@host/db), keys declared")
    parser.add_argument("--scale", type=_scale, default=None,
                        help="a database: that share of its parents with all their children "
                        "(keys intact); with --fresh, that many times the real rows")
    parser.add_argument("--out", default=None, metavar="PATH",
                        help="output file (default: <dataset>-v<version>-<rows>.<format> in "
                        "the current folder); .csv.gz writes gzip; a database's .sqlite or "
                        ".duckdb file, or its folder of Parquet files")
    parser.add_argument("--catalog", default=None, metavar="DIR",
                        help="catalog root (default: $SYNTHVAE_CATALOG, else data/catalog)")
    return parser


def main(argv: list[str] | None = None) -> int:
    started = time.perf_counter()
    args = build_parser().parse_args(argv)
    try:
        message = pull(args)
    except InputError as err:  # catalog errors (unknown, tampered) and conditions included
        print(f"error: {_one_line(err)}", file=sys.stderr)
        return 2
    print(f"{message} in {time.perf_counter() - started:.1f} s")
    return 0


def pull(args: argparse.Namespace) -> str:
    """Do the pull; return the line that reports it. Raises InputError for bad input."""
    manifest = load_manifest(args.dataset, args.version, args.catalog)  # verifies every file
    if manifest.get("kind") == "database":
        return _pull_database(args, manifest)
    if args.to or args.scale or args.format in DATABASE_FORMATS:
        raise InputError(f"{args.dataset} is one table: --to, --scale and --format "
                         f"{'/'.join(DATABASE_FORMATS)} are for databases; write CSV or Parquet")
    fmt = _output_format(args.format, args.out)
    folder = Path(manifest["path"])
    version = manifest["version"]
    published = int(manifest["rows"])
    n = args.rows or published
    fresh = args.fresh or bool(args.where)
    out = Path(args.out) if args.out else Path(
        f"{args.dataset}-v{version}-{n}{'-fresh' if fresh else ''}"
        f".{'csv' if fmt == 'csv' else 'parquet'}"
    )
    if out.is_dir():
        raise InputError(f"--out {out} is a folder; give a file name")

    if fresh:
        rows = _draw(folder, n, args.seed, args.where)
        how = (f"drawn from {args.dataset} v{version}'s model (id {manifest['model']['id'][:12]}"
               f"…, seed {args.seed}{', where ' + ' and '.join(args.where) if args.where else ''})")
    else:
        if n > published:
            raise InputError(
                f"{args.dataset} v{version} published {published:,} rows; ask for at most that "
                f"many, or add --fresh to draw {n:,} from its model"
            )
        table = read_table(folder / manifest["data"]["path"])
        if args.pick == "random":
            pick = np.sort(np.random.default_rng(args.seed).choice(len(table), n, replace=False))
            rows = table.iloc[pick].reset_index(drop=True)
            how = f"random slice (seed {args.seed}) of {args.dataset} v{version}'s {published:,}"
        else:
            rows = table.iloc[:n].reset_index(drop=True)
            how = f"first of {args.dataset} v{version}'s {published:,}"
        how += " published rows"
    write_table(rows, out, fmt)
    return f"Wrote {len(rows):,} rows to {out} ({fmt}): {how}; {_verdict(manifest)}"


def _pull_database(args: argparse.Namespace, manifest: dict[str, Any]) -> str:
    """A whole published database, or a consistent part of it, into files or a server."""
    import pandas as pd

    from synthvae.relational import DatasetSchema
    from synthvae.relational.export import write_database
    from synthvae.relational.subset import subset

    if args.rows or args.where or args.pick != "first":
        raise InputError(f"{args.dataset} is a database: take a part of it with --scale, "
                         f"not --rows, --where or --pick")
    if args.to and (args.out or args.format):
        raise InputError("--to writes into a database server; drop --out and --format")
    folder, version = Path(manifest["path"]), manifest["version"]
    schema = DatasetSchema.from_yaml(folder / "dataset.yaml")
    scale = args.scale or 1.0
    if args.fresh:
        from synthvae.relational import DatabaseSynthesizer
        tables = DatabaseSynthesizer.load(folder / "model").sample(scale, random_state=args.seed)
        how = f"drawn from {args.dataset} v{version}'s model (scale {scale}, seed {args.seed})"
    else:
        if scale > 1:
            raise InputError(f"--scale {scale}: a published database holds scale 1 at most; "
                             f"add --fresh to draw more from its model")
        tables = {name: pd.read_parquet(folder / t["file"])
                  for name, t in manifest["tables"].items()}
        how = f"{args.dataset} v{version}'s published tables"
        if scale < 1:
            tables = subset(tables, schema, scale, args.seed)
            how = (f"{scale:g} of the parents in {args.dataset} v{version}'s published "
                   f"tables, with all their children (seed {args.seed})")
    if args.to:
        target: str | Path = args.to
    else:
        fmt = args.format or _database_format(args.out)
        if fmt not in DATABASE_FORMATS + ("parquet",):
            raise InputError(f"--format {fmt}: a database is written as parquet (a folder), "
                             f"sqlite or duckdb")
        target = Path(args.out) if args.out else Path(
            f"{args.dataset}-v{version}{'' if fmt == 'parquet' else '.' + fmt}")
    try:
        undeclared = write_database(tables, schema, target,
                                    None if args.to else (args.format or _database_format(
                                        args.out)))
    except FileExistsError as err:
        raise InputError(str(err)) from None
    except ImportError as err:
        raise InputError(f"{err}: install synthvae's database extras") from None
    except Exception as err:  # a server that refuses the connection, a bad URL...
        if type(err).__module__.startswith(("sqlalchemy", "psycopg", "duckdb")):
            raise InputError(f"could not write to {_hide_password(str(target))}: "
                             f"{_one_line(err).split(' (Background')[0]}") from None
        raise
    rows = sum(len(df) for df in tables.values())
    shown = _hide_password(str(target))
    note = ("; not declared, as orphan keys (kept at the real rate) would break them: "
            + ", ".join(fk.describe() for fk in undeclared)) if undeclared else \
        "; every foreign key declared"
    return (f"Wrote {len(tables)} tables, {rows:,} rows to {shown}: {how}{note}; "
            f"multi-table quality {_num(manifest['scores'].get('quality'))}")


def _database_format(out: str | None) -> str:
    name = (out or "").lower()
    return ("sqlite" if name.endswith((".sqlite", ".sqlite3", ".db"))
            else "duckdb" if name.endswith(".duckdb") else "parquet")


def _hide_password(url: str) -> str:
    import re
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)


def _num(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, (int, float)) else "n/a"


def _scale(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}")
    return value


def _draw(folder: Path, n: int, seed: int, where: list[str] | None):
    # Only fresh rows need the model code. ConditionError is a ValueError, not an InputError.
    from synthvae import Synthesizer
    from synthvae.columns import ConditionError
    from synthvae.conditional import parse_where

    try:
        conditions = parse_where(where) if where else None
        synthesizer = Synthesizer.load(folder / "model")
        return synthesizer.sample(n, random_state=seed, conditions=conditions)
    except ConditionError as err:
        raise InputError(f"--where: {err}") from None


def _output_format(fmt: str | None, out: str | None) -> str:
    name = (out or "").lower()
    implied = ("parquet" if name.endswith(".parquet")
               else "csv" if name.endswith((".csv", ".csv.gz")) else None)
    if fmt and implied and fmt != implied:
        raise InputError(f"--format {fmt} does not match --out {out}; drop one of them")
    return fmt or implied or "parquet"


def _verdict(manifest: dict[str, Any]) -> str:
    gate = manifest["privacy"]["gate"]
    quality = manifest["scores"].get("quality")
    words = "passed" if gate["passed"] else "FAILED"
    if not gate["enforced"]:
        words += " (not enforced)"
    shown = f"{quality:.3f}" if isinstance(quality, (int, float)) else "n/a"
    return f"quality {shown}, privacy gate {words}"


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split())


if __name__ == "__main__":
    sys.exit(main())
