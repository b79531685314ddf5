"""`python -m flows.detect`: rank a table's rows by how unlikely the model finds them.

With `--model DIR` the rows are scored by a saved synthesizer (say, one fitted on last
month's clean data); without it, a synthesizer is first fitted to the table itself, so the
rows that fit its own patterns worst come first. The output keeps each ranked row as it was,
with its score (nats, higher = more unusual), the columns that contribute most ("why") and
every column's share of the score.
"""

from __future__ import annotations

# flows.common first: it sets Prefect's environment before Prefect is imported.
from flows.common import (
    COMPUTE_TASK,
    add_model_options,
    fit_on_table,
    IO_TASK,
    RUNS,
    fail,
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

import pandas as pd
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_table_artifact

from synthvae import Synthesizer
from synthvae.anomaly import LATENT_COLUMN
from synthvae.io import (
    WRITE_FORMATS,
    InputError,
    atomic_write_text,
    check_writable,
    read_table,
    write_table,
)

WHY_COLUMNS = 3  # columns named in "why"
ARTIFACT = "synthvae-anomalies"


@task(**COMPUTE_TASK)
def rank_rows(source: Path, model_dir: Path, top: int, seed: int) -> pd.DataFrame:
    """The `top` most unusual rows, with scores and per-column explanations."""
    table = read_table(source)
    synthesizer = Synthesizer.load(model_dir)
    try:
        # Out-of-range values and unseen categories are what we are looking for: score them.
        parts = synthesizer.explain_anomaly(table, random_state=seed)
    except ValueError as err:  # the table's columns are not the model's
        raise InputError(str(err)) from None
    score = parts.sum(axis=1)
    order = score.sort_values(ascending=False, kind="stable").index[:top]
    ranked = table.loc[order].copy()
    ranked.insert(0, "rank", range(1, len(order) + 1))
    ranked.insert(1, "row", order)
    ranked.insert(2, "anomaly_score", score.loc[order].round(3))
    columns_only = parts.loc[order].drop(columns=[LATENT_COLUMN])
    ranked.insert(3, "why", [
        ", ".join(f"{name} ({nats:.1f})" for name, nats in row.nlargest(WHY_COLUMNS).items())
        for _, row in columns_only.iterrows()
    ])
    for name in parts.columns:
        ranked[f"nats:{name}"] = parts.loc[order, name].round(3)
    return ranked.reset_index(drop=True)


@task(**IO_TASK)
def write_ranked(ranked: pd.DataFrame, destination: Path, format: str, summary: dict) -> Path:
    # The table goes first, the summary last: a summary beside it means both are complete.
    write_table(ranked, destination, format)
    atomic_write_text(destination.with_suffix(".json"), json.dumps(summary, indent=2) + "\n")
    return destination


@flow(name="synthvae-detect")
def detect(
    input_path: str,
    model_dir: str | None = None,
    top: int = 100,
    output_path: str | None = None,
    format: str = "csv",
    seed: int = 0,
    max_seconds: float | None = None,
) -> dict[str, Any]:
    """Score every row of `input_path`; write the `top` most unusual to `output_path`."""
    logger = get_run_logger()
    started = time.perf_counter()
    source = Path(input_path)
    output = Path(output_path) if output_path else default_output(source, format)
    with tempfile.TemporaryDirectory(prefix="synthvae-detect-") as work:
        model = Path(model_dir) if model_dir else None
        if model is None:
            logger.info("no --model: fitting one to %s itself", source)
            model = fit_on_table(source, Path(work) / "model", seed, max_seconds)
        ranked = rank_rows(source, model, top, seed)
    summary = {"input": str(source), "model": model_dir or "fitted on the input",
               "output": str(output), "rows_ranked": len(ranked), "top": top,
               "seconds": round(time.perf_counter() - started, 2)}
    write_ranked(ranked, output, format, summary)
    create_table_artifact(key=ARTIFACT, table=ranked[["rank", "row", "anomaly_score", "why"]]
                          .head(20).to_dict("records"),
                          description="synthvae: the most unusual rows of the last detect run")
    logger.info("wrote the %d most unusual rows to %s", len(ranked), output)
    return {**summary, "head": ranked.head(10)[["rank", "row", "anomaly_score", "why"]]
            .to_dict("records")}


def default_output(source: Path, format: str) -> Path:
    return RUNS / f"{table_stem(source)}-anomalies.{format}"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m flows.detect",
        description="Rank a table's rows by anomaly score, with per-column explanations.")
    parser.add_argument("--input", dest="input_path", required=True, help="table to score")
    parser.add_argument("--top", type=positive_int, default=100,
                        help="rows to write, most unusual first (default: 100)")
    parser.add_argument("--output", dest="output_path",
                        help="output file (default: runs/<input name>-anomalies.<format>)")
    parser.add_argument("--format", choices=WRITE_FORMATS, default="csv",
                        help="output format (default: csv)")
    add_model_options(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    params = vars(build_parser().parse_args(argv))
    try:
        source = Path(params["input_path"])
        output = Path(params["output_path"] or default_output(source, params["format"]))
        if output.is_dir():
            raise InputError(f"--output {output} is a folder; give the file to write")
        check_writable(output)
        table = read_table(source)
        if params["model_dir"]:
            Synthesizer.load(params["model_dir"]).encoder_.check_columns(table, "--input rows")
    except (InputError, FileNotFoundError, ValueError) as err:
        return fail(err if isinstance(err, InputError) else InputError(str(err)))
    quiet_expected_errors()
    logging.getLogger("synthvae").setLevel(logging.INFO)
    try:
        result = detect(**params)
    except InputError as err:
        return fail(err)
    print(f"Wrote the {result['rows_ranked']} most unusual rows to {result['output']} "
          f"({result['seconds']:.1f} s). Top:")
    for row in result["head"]:
        print(f"  {row['rank']:3d}. row {row['row']}: score {row['anomaly_score']:.1f}; "
              f"{row['why']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
