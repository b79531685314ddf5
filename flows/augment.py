"""`python -m flows.augment`: a table with synthetic rows added, to rebalance or enlarge it.

Fits a synthesizer to the input (or loads `--model DIR`), then draws rows per class of the
target column, each class conditioned exactly, and writes the real rows followed by the
synthetic ones. A column `--mark COL` can say which rows are synthetic.
"""

from __future__ import annotations

# flows.common first: it sets Prefect's environment before Prefect is imported.
from flows.common import (
    COMPUTE_TASK,
    RUNS,
    add_model_options,
    fail,
    fit_on_table,
    positive_int,
    quiet_expected_errors,
    table_stem,
)

import argparse
import json
import logging
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task

from synthvae import Synthesizer
from synthvae.columns import ConditionError
from synthvae.io import WRITE_FORMATS, InputError, atomic_write_text, read_table, write_table


@task(**COMPUTE_TASK)
def augment_table(source: Path, model_dir: Path, target: str, balance: bool | dict,
                  rows: int | None, seed: int, mark: str | None, destination: Path,
                  format: str) -> dict[str, Any]:
    table = read_table(source)
    try:
        out = Synthesizer.load(model_dir).augment(table, target, balance=balance, n=rows,
                                                  random_state=seed)
    except (ConditionError, ValueError) as err:
        raise InputError(str(err)) from None
    if mark:
        out[mark] = [False] * len(table) + [True] * (len(out) - len(table))
    write_table(out, destination, format)
    counts = lambda df: {str(k): int(v) for k, v in df[target].value_counts(dropna=False).items()}
    return {"rows_in": len(table), "rows_added": len(out) - len(table), "rows_out": len(out),
            "classes_in": counts(table), "classes_out": counts(out)}


@flow(name="synthvae-augment")
def augment(input_path: str, target: str, balance: bool = True, shares: dict | None = None,
            rows: int | None = None, model_dir: str | None = None, output_path: str | None = None,
            format: str = "csv", seed: int = 0, mark: str | None = None,
            max_seconds: float | None = None) -> dict[str, Any]:
    """Write `input_path` plus synthetic rows: balanced classes of `target`, the given class
    `shares`, or (balance False) `rows` more rows with the model's own class mix."""
    logger = get_run_logger()
    started = time.perf_counter()
    source = Path(input_path)
    output = Path(output_path) if output_path else RUNS / f"{table_stem(source)}-augmented.{format}"
    with tempfile.TemporaryDirectory(prefix="synthvae-augment-") as work:
        model = Path(model_dir) if model_dir else fit_on_table(source, Path(work) / "model", seed,
                                                               max_seconds)
        summary = augment_table(source, model, target, shares or balance, rows, seed, mark,
                                output, format)
    summary.update(input=str(source), output=str(output), target=target,
                   seconds=round(time.perf_counter() - started, 2))
    atomic_write_text(output.with_suffix(".json"), json.dumps(summary, indent=2) + "\n")
    logger.info("wrote %s: %d real + %d synthetic rows", output, summary["rows_in"],
                summary["rows_added"])
    return summary


def _shares(text: str) -> dict[str, float]:
    """"<=50K=0.5,>50K=0.5" → {"<=50K": 0.5, ">50K": 0.5} (the last "=" splits)."""
    out = {}
    for part in text.split(","):
        label, sep, share = part.rpartition("=")
        try:
            out[label] = float(share)
        except ValueError:
            sep = ""
        if not sep or not label:
            raise argparse.ArgumentTypeError(f"must be CLASS=SHARE,CLASS=SHARE, got {text!r}")
    return out


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m flows.augment",
        description="Add synthetic rows to a table to rebalance (or enlarge) it.")
    parser.add_argument("--input", dest="input_path", required=True, help="table to augment")
    parser.add_argument("--target", required=True, help="class column to balance")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--balance", action="store_true", default=True,
                       help="equal classes (the default)")
    group.add_argument("--shares", type=_shares, help="class shares, e.g. '<=50K=0.5,>50K=0.5'")
    group.add_argument("--no-balance", dest="balance", action="store_false",
                       help="keep the model's class mix (needs --rows)")
    parser.add_argument("--rows", type=positive_int, help="synthetic rows to add (default: as "
                        "many as the balance needs)")
    parser.add_argument("--output", dest="output_path",
                        help="output file (default: runs/<input name>-augmented.<format>)")
    parser.add_argument("--format", choices=WRITE_FORMATS, default="csv")
    parser.add_argument("--mark", help="add a boolean column of this name, True on synthetic rows")
    add_model_options(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    params = vars(build_parser().parse_args(argv))
    try:
        table = read_table(Path(params["input_path"]))
        if params["target"] not in table.columns:
            raise InputError(f"--target {params['target']!r} is not a column of the input; "
                             f"columns: {list(table.columns)}")
        if params["mark"] and params["mark"] in table.columns:
            raise InputError(f"--mark {params['mark']!r} is already a column of the input")
        if not params["balance"] and not params["shares"] and not params["rows"]:
            raise InputError("--no-balance needs --rows, the number of rows to add")
        if params["shares"]:
            unknown = set(params["shares"]) - set(table[params["target"]].astype(str))
            if unknown:
                raise InputError(f"--shares names classes of {params['target']!r} not in the "
                                 f"input: {sorted(unknown)}")
    except InputError as err:
        return fail(err)
    quiet_expected_errors()
    logging.getLogger("synthvae").setLevel(logging.INFO)
    try:
        result = augment(**params)
    except InputError as err:
        return fail(err)
    print(f"Wrote {result['rows_out']:,} rows ({result['rows_in']:,} real + "
          f"{result['rows_added']:,} synthetic) to {result['output']}; {result['target']}: "
          f"{result['classes_in']} → {result['classes_out']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
