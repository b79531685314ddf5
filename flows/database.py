"""`python -m flows.generate --dataset DIR`: related tables in, a whole synthetic database out.

    python -m flows.generate --dataset data/flights              # the bundled NYC flights
    python -m flows.generate --dataset DIR --schema dataset.yaml --scale 0.5 --output OUT

Every `.csv`, `.csv.gz` or `.parquet` file of DIR is a table, named by its file. Keys come from
`--schema` (`synthvae.relational.schema`), or are inferred and written to
`OUT/dataset.draft.yaml` for review. The tables are read and checked before Prefect starts:
a key that is not unique, a foreign key whose values are missing from its parent (unless
`--orphans keep|drop`), a cycle, a composite key or a self-reference exit 2 with one line.

The flow fits `DatabaseSynthesizer`, samples `--scale` times the rows, scores the result
(`synthvae.relational.scores`) and writes, atomically (a failed run leaves no output):

    OUT/tables/<table>.parquet   the synthetic tables
    OUT/dataset.yaml             the schema they keep
    OUT/model/                   the fitted synthesizer (JSON and safetensors, no pickle)
    OUT/report.json, report.html the scores: multi-table quality and its parts, referential
                                 integrity, children per parent, detection AUC per table

`--publish NAME` then publishes the folder to the catalog as one version, for
`python -m flows.pull --dataset NAME --to postgresql://...` (or --format sqlite|duckdb|parquet).
"""
from __future__ import annotations

import argparse
import html
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

TABLE_SUFFIXES = (".csv", ".csv.gz", ".parquet")
DRAFT_NAME, SCHEMA_NAME = "dataset.draft.yaml", "dataset.yaml"


def build_parser() -> argparse.ArgumentParser:
    from synthvae.run.options import positive_float, positive_int

    parser = argparse.ArgumentParser(
        prog="python -m flows.generate --dataset",
        description="Fit related tables together and write a whole synthetic database.")
    parser.add_argument("--dataset", required=True, metavar="DIR",
                        help="folder of tables (.csv, .csv.gz, .parquet), one per file")
    parser.add_argument("--schema", default=None, metavar="FILE",
                        help="dataset schema (YAML: tables, primary and foreign keys); "
                        "default: inferred, written to OUTPUT/dataset.draft.yaml")
    parser.add_argument("--scale", type=positive_float, default=1.0,
                        help="rows of each table, as a multiple of the real ones (default 1)")
    parser.add_argument("--output", default=None, metavar="DIR",
                        help="output folder (default: runs/<dataset folder name>)")
    parser.add_argument("--orphans", choices=("error", "keep", "drop"), default="error",
                        help="foreign key values missing from their parent: refuse (default), "
                        "keep them as orphans at their real rate, or drop their rows")
    parser.add_argument("--seed", type=int, default=0, help="same seed, same database")
    parser.add_argument("--epochs", type=positive_int, default=None,
                        help="maximum epochs per table (default: the Synthesizer's)")
    parser.add_argument("--publish", default=None, metavar="NAME",
                        help="publish the output to the catalog as the next version of NAME")
    parser.add_argument("--catalog", default=None, metavar="DIR",
                        help="catalog root (default: $SYNTHVAE_CATALOG, else data/catalog/)")
    return parser


@dataclass
class Inputs:
    args: argparse.Namespace
    tables: dict[str, pd.DataFrame]
    schema: Any
    inferred: bool
    orphans: dict[str, int]
    output: Path


def read_inputs(args: argparse.Namespace) -> Inputs:
    """The tables and their schema, checked; InputError (one line) on anything wrong."""
    from synthvae.io import InputError, read_table, table_stem
    from synthvae.relational import DatasetSchema, infer_dataset_schema

    folder = Path(args.dataset)
    if not folder.is_dir():
        raise InputError(f"--dataset {folder}: not a folder of tables")
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.name.endswith(TABLE_SUFFIXES))
    if not files:
        raise InputError(f"--dataset {folder}: no .csv, .csv.gz or .parquet files")
    tables = {}
    for path in files:
        name = table_stem(path)
        if name in tables:
            raise InputError(f"--dataset {folder}: two files for table {name!r}")
        tables[name] = read_table(path)
    inferred = args.schema is None
    schema = infer_dataset_schema(tables) if inferred else DatasetSchema.from_yaml(args.schema)
    checked, orphans = schema.check(tables, args.orphans)
    dropped = {k: v for k, v in orphans.items() if v}
    if dropped and args.orphans != "error":
        print(f"foreign key values missing from their parent ({args.orphans}): "
              + ", ".join(f"{k}: {v} rows" for k, v in dropped.items()), file=sys.stderr)
    output = Path(args.output) if args.output else Path.cwd() / "runs" / folder.name
    return Inputs(args, checked, schema, inferred, orphans, output)


def main(argv: list[str]) -> int:
    started = time.perf_counter()
    args = build_parser().parse_args(argv)
    from synthvae.io import InputError

    try:
        inputs = read_inputs(args)
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    from flows.common import quiet_expected_errors

    quiet_expected_errors()
    try:
        report = generate_database(inputs)
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(summary(report, time.perf_counter() - started))
    return 0


# ---------------------------------------------------------------------- the flow
def _flow():
    # Prefect loads only once the inputs passed: it takes seconds, and bad input should not.
    from flows.common import COMPUTE_TASK, IO_TASK
    from prefect import flow, get_run_logger, task
    from prefect.artifacts import create_markdown_artifact

    from synthvae.io import atomic_dir
    from synthvae.relational import DatabaseSynthesizer
    from synthvae.relational.scores import score_database

    @task(**COMPUTE_TASK)
    def fit(inputs: Inputs) -> DatabaseSynthesizer:
        params = {"epochs": inputs.args.epochs} if inputs.args.epochs else {}
        model = DatabaseSynthesizer(orphans="keep", random_state=inputs.args.seed, **params)
        model.fit(inputs.tables, inputs.schema)
        get_run_logger().info("fitted %d tables in %.1f s: %s", len(inputs.tables),
                              model.fit_seconds_["total"], model.fit_seconds_)
        return model

    @task(**COMPUTE_TASK)
    def sample(model: DatabaseSynthesizer, scale: float, seed: int) -> dict[str, pd.DataFrame]:
        return model.sample(scale=scale, random_state=seed)

    @task(**COMPUTE_TASK)
    def score(real: dict[str, pd.DataFrame], synth: dict[str, pd.DataFrame], schema,
              seed: int) -> dict:
        return score_database(real, synth, schema, seed=seed)

    @task(**IO_TASK)
    def write(staging: Path, model: DatabaseSynthesizer, synth: dict[str, pd.DataFrame],
              inputs: Inputs, report: dict) -> None:
        (staging / "tables").mkdir()
        for name, df in synth.items():
            df.to_parquet(staging / "tables" / f"{name}.parquet", index=False)
        inputs.schema.to_yaml(staging / SCHEMA_NAME)
        if inputs.inferred:
            inputs.schema.to_yaml(staging / DRAFT_NAME)
        model.save(staging / "model")
        (staging / "report.json").write_text(json.dumps(report, indent=1, default=str))
        (staging / "report.html").write_text(render_html(report))

    @flow(name="synthvae-generate-database", log_prints=True)
    def generate_database(inputs: Inputs) -> dict:
        started = time.perf_counter()
        logger = get_run_logger()
        args = inputs.args
        timings: dict[str, float] = {}
        with atomic_dir(inputs.output) as staging:
            t = time.perf_counter()
            model = fit(inputs)
            timings["fit"] = round(time.perf_counter() - t, 2)
            t = time.perf_counter()
            synth = sample(model, args.scale, args.seed)
            timings["sample"] = round(time.perf_counter() - t, 2)
            t = time.perf_counter()
            # at another scale row counts differ by design; shapes, trends, children per
            # parent and detection do not depend on them
            scores = score(inputs.tables, synth, inputs.schema, args.seed)
            timings["score"] = round(time.perf_counter() - t, 2)
            timings["total"] = round(time.perf_counter() - started, 2)
            report = {"format": "synthvae.database-report", "format_version": 1,
                      "dataset": str(Path(args.dataset)), "output": str(inputs.output),
                      "schema": inputs.schema.to_dict(), "schema_inferred": inputs.inferred,
                      "seed": args.seed, "scale": args.scale,
                      "orphans": {"handling": args.orphans, "found": inputs.orphans},
                      "rows": {n: {"real": len(inputs.tables[n]), "synthetic": len(df)}
                               for n, df in synth.items()},
                      "fit_seconds": model.fit_seconds_, "drawn_alone": model.fallbacks_,
                      "scores": scores, "timings": timings}
            write(staging, model, synth, inputs, report)
        create_markdown_artifact(markdown(report), key="synthvae-database-report")
        if args.publish:
            from synthvae.catalog import publish_database
            report["published"] = str(publish_database(inputs.output, args.publish,
                                                       args.catalog))
            logger.info("published %s as %s", inputs.output, report["published"])
        return report

    return generate_database


def generate_database(inputs: Inputs) -> dict:
    return _flow()(inputs)


# ---------------------------------------------------------------------- reporting
def _rows(report: dict) -> list[tuple[str, str]]:
    s = report["scores"]
    rows = [("multi-table quality", f"{s['quality']:.3f}")]
    rows += [(f"  {k.lower()}", f"{v:.3f}") for k, v in s["quality_parts"].items()
             if v == v]  # NaN: a part with nothing to score
    rows += [(f"integrity {k}", f"{v:.1%} (real {s['referential_integrity_real'][k]:.1%})")
             for k, v in s["referential_integrity"].items()]
    rows += [(f"children per parent {k}", f"{v:.3f}")
             for k, v in s["cardinality_ks_complement"].items()]
    rows += [(f"detection AUC {n}" + (f" (with {t['detection_with']})"
                                      if t["detection_with"] else ""),
              "n/a" if t["detection_auc"] is None else f"{t['detection_auc']:.3f}")
             for n, t in s["tables"].items()]
    return rows


def summary(report: dict, seconds: float) -> str:
    lines = [f"wrote {report['output']} in {seconds:.0f} s: "
             + ", ".join(f"{n} {r['synthetic']:,} rows" for n, r in report["rows"].items())]
    lines += [f"  {k}: {v}" for k, v in _rows(report)]
    if report["schema_inferred"]:
        lines.append(f"  keys inferred: review {Path(report['output']) / DRAFT_NAME}")
    if report.get("published"):
        lines.append(f"  published as {report['published']}")
    return "\n".join(lines)


def markdown(report: dict) -> str:
    return "| figure | value |\n|---|---|\n" + "\n".join(
        f"| {k.strip()} | {v} |" for k, v in _rows(report))


def render_html(report: dict) -> str:
    """One self-contained page: the figures, the schema, the rows per table."""
    rows = "".join(f"<tr><td>{html.escape(k)}</td><td>{html.escape(v)}</td></tr>"
                   for k, v in _rows(report))
    counts = "".join(f"<tr><td>{html.escape(n)}</td><td>{r['real']:,}</td>"
                     f"<td>{r['synthetic']:,}</td></tr>" for n, r in report["rows"].items())
    giveaways = "".join(
        f"<tr><td>{html.escape(n)}</td><td>{html.escape(', '.join(g['column'] for g in t['giveaways']) or '-')}</td></tr>"
        for n, t in report["scores"]["tables"].items())
    schema = html.escape(json.dumps(report["schema"], indent=1))
    return f"""<!doctype html><html><head><meta charset="utf-8">
<title>synthvae database report</title><style>
body{{font-family:sans-serif;margin:2em;max-width:60em}} td,th{{padding:.2em .8em;
text-align:left;border-bottom:1px solid #ddd}} table{{border-collapse:collapse;margin-bottom:2em}}
</style></head><body><h1>Synthetic database: {html.escape(report['dataset'])}</h1>
<p>Seed {report['seed']}, scale {report['scale']}. Detection AUC is a classifier two-sample
test (0.5: the classifier cannot tell synthetic rows from real ones), on each table joined to
its parent's columns. Integrity: share of foreign key values that find their parent.</p>
<h2>Scores</h2><table>{rows}</table>
<h2>Rows</h2><table><tr><th>table</th><th>real</th><th>synthetic</th></tr>{counts}</table>
<h2>What gives rows away</h2><table><tr><th>table</th><th>columns</th></tr>{giveaways}</table>
<h2>Schema</h2><pre>{schema}</pre></body></html>
"""
