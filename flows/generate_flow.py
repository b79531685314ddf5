"""The generate flow: real table → schema check → fit → sample → schema check → score.

Each task wraps one plain step of `synthvae.run` and adds what Prefect gives: retries on I/O,
logs, timings and artifacts. Tables and the fitted model pass from task to task in memory, so
a run reads its input once and never re-reads its model. Everything is written inside
`atomic_dir(output)`: a failed or stopped run leaves no partial output and an older output
folder intact; a killed one leaves a staging folder the next run to the same output removes.
No copy of a real row is ever written: the training and holdout rows live in memory only.
"""

from __future__ import annotations

# flows.common first: it sets Prefect's environment before Prefect is imported.
from flows.common import COMPUTE_TASK, IO_TASK

import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
from prefect import flow, get_run_logger, task
from prefect.artifacts import (create_markdown_artifact, create_progress_artifact,
                               create_table_artifact, update_progress_artifact)

from flows.shards import dask_task_runner, sample_shards
from synthvae import Synthesizer
from synthvae.catalog import publish as publish_version
from synthvae.io import InputError, atomic_dir, atomic_write_text, read_table_head
from synthvae.report.html import write_report as write_html_report
from synthvae.report.run_report import RunReport
from synthvae.run import steps
from synthvae.run.options import DRAFT_SCHEMA_NAME, MODEL_SCHEMA_NAME, RunOptions
from synthvae.run.prepare import Prepared, holdout_rows, prepare
from synthvae.run.summary import fmt, gate_words, markdown, score_table

LOG_EVERY_SECONDS = 5.0  # training progress lines at most this often
SCORES_ARTIFACT = "synthvae-scores"
REPORT_ARTIFACT = "synthvae-report"
FIT_PROGRESS_ARTIFACT = "synthvae-fit-progress"
SAMPLE_PROGRESS_ARTIFACT = "synthvae-sample-progress"


class PrivacyGateFailed(InputError):
    """The run's privacy figures missed the gate: its rows were not published."""

    def __init__(self, message: str, report: dict[str, Any] | None = None):
        super().__init__(message)
        self.report = report

    def __reduce__(self):  # Prefect pickles task and flow errors
        return type(self), (str(self), self.report)


# ---------------------------------------------------------------------------------- tasks


@task(**IO_TASK)
def prepare_inputs(options: RunOptions) -> Prepared:
    """Read and check every input (when the command line has not done so already)."""
    return prepare(options)


@task(**COMPUTE_TASK)
def drop_violating_rows(prepared: Prepared) -> tuple[pd.DataFrame, dict[str, Any] | None]:
    """The input without the rows breaking a declared rule (--drop-violating)."""
    if prepared.keep is None or prepared.keep.all():
        return prepared.table, {"count": 0, "why": None}
    get_run_logger().warning("--drop-violating: left out %d rows: %s",
                             int((~prepared.keep).sum()), prepared.violations)
    return (prepared.table[prepared.keep].reset_index(drop=True),
            {"count": int((~prepared.keep).sum()), "why": prepared.violations})


@task(**COMPUTE_TASK)
def split_holdout(table: pd.DataFrame, fraction: float, seed: int
                  ) -> tuple[pd.DataFrame, pd.DataFrame]:
    return steps.split_holdout(table, holdout_rows(len(table), fraction), seed)


@task(**COMPUTE_TASK)
def fit_model(train: pd.DataFrame, prepared: Prepared, model_dir: Path
              ) -> tuple[Synthesizer, dict[str, Any]]:
    """Fit, logging progress every few seconds and as a progress artifact."""
    logger = get_run_logger()
    progress = create_progress_artifact(0.0, key=FIT_PROGRESS_ARTIFACT,
                                        description="synthvae: training epochs run")
    last = [-LOG_EVERY_SECONDS]

    def log_progress(stats, epochs: int) -> None:
        # Every few seconds, whatever an epoch costs: a slow table's epochs are minutes apart
        # in tens, a small table's ten epochs take a second.
        if stats.seconds - last[0] >= LOG_EVERY_SECONDS:
            last[0] = stats.seconds
            logger.info("epoch %d of at most %d: train loss %.3f, validation loss %.3f, "
                        "KL %.2f (%.0f s)", stats.epoch, epochs, stats.train_loss,
                        stats.val_loss, stats.kl, stats.seconds)
            update_progress_artifact(progress, 100.0 * stats.epoch / epochs)

    fitted = steps.fit(train, prepared.schema, prepared.options, model_dir,
                       prepared.schema_path, on_epoch=log_progress,
                       progress=False)  # a bar would tangle with the run's log lines
    update_progress_artifact(progress, 100.0)
    return fitted


@task(**IO_TASK)
def copy_model(prepared: Prepared, destination: Path) -> dict[str, Any]:
    return steps.saved_model(prepared.model, Path(prepared.options.model_dir), destination)


@task(**COMPUTE_TASK)  # long for millions of rows; a retry would redo all the work
def sample_rows(model: Synthesizer, options: RunOptions, prepared: Prepared,
                destination: Path) -> int:
    progress = create_progress_artifact(0.0, key=SAMPLE_PROGRESS_ARTIFACT,
                                        description="synthvae: synthetic rows written")
    last = [time.perf_counter()]

    def report_rows(done: int) -> None:
        # each update is a call to the Prefect API: every few seconds, not every chunk
        if time.perf_counter() - last[0] >= LOG_EVERY_SECONDS or done == options.rows:
            last[0] = time.perf_counter()
            update_progress_artifact(progress, 100.0 * done / options.rows)

    return steps.sample(model, options.rows, destination, options.format, prepared.schema,
                        options.seed, options.where, on_rows=report_rows)


@task(**COMPUTE_TASK)
def score_synthetic(train: pd.DataFrame, holdout: pd.DataFrame | None, synthetic: Path,
                    prepared: Prepared, model: Synthesizer) -> tuple[dict[str, Any],
                                                                     pd.DataFrame]:
    """Scores, and the synthetic rows they read (the head of the file: rows are i.i.d.)."""
    rows = read_table_head(synthetic, steps.SCORE_ROWS)
    return steps.score_rows(train, holdout, rows, prepared.schema, model,
                            prepared.options), rows


@task(**IO_TASK)
def write_report(report: RunReport, destination: Path) -> Path:
    return atomic_write_text(destination, report.to_json())


@task(**COMPUTE_TASK)
def render_html(report: RunReport, train: pd.DataFrame, synthetic: pd.DataFrame,
                prepared: Prepared, destination: Path, model_dir: Path | None) -> Path:
    """The self-contained report a reviewer reads: scores, plots, privacy, provenance."""
    return write_html_report(destination, report.to_dict(), train, synthetic,
                             prepared.schema.kinds(), model_dir=model_dir)


@task(**IO_TASK)
def publish_run(output: Path, dataset: str, catalog: str | None) -> Path:
    """The finished output folder as the next immutable version of `dataset` in the catalog."""
    return publish_version(output, dataset, catalog)


@task(**COMPUTE_TASK)
def publish_artifacts(report: RunReport) -> None:
    """A markdown summary and a table of scores, under stable keys so runs line up."""
    create_table_artifact(key=SCORES_ARTIFACT, table=score_table(report),
                          description="synthvae: fidelity and privacy scores of the last run")
    create_markdown_artifact(key=REPORT_ARTIFACT, markdown=markdown(report),
                             description="synthvae: summary of the last run")


# ----------------------------------------------------------------------------------- flow


@flow(name="synthvae-generate")
def generate(options: RunOptions | None = None, prepared: Prepared | None = None) -> RunReport:
    """Fit a VAE synthesizer to a table and write `options.rows` synthetic rows, a report and
    the model (see RunOptions for every option and its default). `prepared`: the inputs as
    `synthvae.run.prepare` read them, when the caller has already checked them.
    Returns the report (also written to OUTPUT/report.json)."""
    logger = get_run_logger()
    started = time.perf_counter()
    prepared = prepared or prepare_inputs(options or RunOptions())
    options, output = prepared.options, prepared.output
    if prepared.model_alone:
        return _sample_model_alone(prepared, started)
    timings = {"prepare": prepared.seconds}
    synthetic_name = f"synthetic.{options.format}"
    logger.info("input %s; output folder %s", prepared.source, output)
    with atomic_dir(output) as staging:
        schema_file = prepared.schema_path or staging / DRAFT_SCHEMA_NAME
        if prepared.inferred:
            prepared.schema.save_yaml(schema_file)
            logger.warning("no schema given: inferred a draft from the input, to be written "
                           "to %s; review it and pass it with --schema next time",
                           output / DRAFT_SCHEMA_NAME)
        dropped = None
        if options.model_dir:
            # A saved model: no training, so no rows are held back and privacy is not scored
            # (which rows it was trained on is not known here).
            with _timed(timings, "load_model"):
                fit = copy_model(prepared, staging / "model")
            model, train, holdout = prepared.model, prepared.table, None
        else:
            table = prepared.table
            if options.drop_violating:
                with _timed(timings, "drop_violating"):
                    table, dropped = drop_violating_rows(prepared)
            with _timed(timings, "split_holdout"):
                train, holdout = split_holdout(table, options.holdout_fraction, options.seed)
            with _timed(timings, "fit"):
                model, fit = fit_model(train, prepared, staging / "model")
            if prepared.inferred:  # the draft lists the rules found, to keep or delete
                steps.with_discovered(prepared.schema, model).save_yaml(schema_file)
        sharding = _sample(model, prepared, staging, synthetic_name, schema_file, timings)
        with _timed(timings, "score"):
            scores, synthetic = score_synthetic(train, holdout, staging / synthetic_name,
                                                prepared, model)
        gate = steps.judge_privacy(scores["privacy_report"], options)
        withheld = options.privacy_gate and not gate["passed"]
        timings["total"] = round(time.perf_counter() - started, 2)
        report = steps.assemble_report(
            options, output=output,
            files={"report": "report.json", "report_html": "report.html"} if withheld else {
                "synthetic": synthetic_name, "report": "report.json",
                "report_html": "report.html", "model": "model/"},
            input={"path": str(prepared.source), "sha256": prepared.sha256,
                   "rows": len(prepared.table)},
            schema_path=str(output / DRAFT_SCHEMA_NAME if prepared.inferred else schema_file),
            inferred=prepared.inferred, fit=fit, train_rows=len(train),
            holdout_rows=0 if holdout is None else len(holdout), scores=scores, gate=gate,
            rows_dropped=dropped, sharding=sharding, timings=timings)
        with _timed(timings, "report_html"):
            render_html(report, train, synthetic, prepared, staging / "report.html",
                        staging / "model")
        write_report(report, staging / "report.json")
        if withheld:
            # Not published: the rows, and the model that made them, stay out of the output.
            (staging / synthetic_name).unlink()
            shutil.rmtree(staging / "model")
            logger.error("privacy gate failed: %s", gate_words(gate["failures"]))
    publish_artifacts(report)
    if withheld:
        raise PrivacyGateFailed(
            f"privacy gate failed, so the synthetic rows were not published "
            f"(report in {output}): {gate_words(gate['failures'])}", report.to_dict())
    if options.publish:
        report.published = str(publish_run(output, options.publish, options.catalog))
        logger.info("published %s as %s", output, report.published)
    logger.info("wrote %s: quality %s", output, fmt(report.quality))
    return report


def _sample_model_alone(prepared: Prepared, started: float) -> RunReport:
    """Rows from a saved model with no real table: checked against the model's schema, not
    scored, since there are no real rows to compare with."""
    options, output = prepared.options, prepared.output
    timings = {"prepare": prepared.seconds}
    synthetic_name = f"synthetic.{options.format}"
    with atomic_dir(output) as staging:
        with _timed(timings, "load_model"):
            fit = copy_model(prepared, staging / "model")
        # a path every Dask worker can reach: the given schema, or the copy in the output
        schema_file = (Path(options.schema_path) if options.schema_path
                       else staging / "model" / MODEL_SCHEMA_NAME)
        sharding = _sample(prepared.model, prepared, staging, synthetic_name, schema_file,
                           timings)
        timings["total"] = round(time.perf_counter() - started, 2)
        report = steps.assemble_report(
            options, output=output,
            files={"synthetic": synthetic_name, "report": "report.json", "model": "model/"},
            input=None, inferred=False, fit=fit,
            schema_path=options.schema_path or str(output / "model" / MODEL_SCHEMA_NAME),
            train_rows=0, holdout_rows=0, scores=None, gate=None, rows_dropped=None,
            sharding=sharding, timings=timings)
        write_report(report, staging / "report.json")
    get_run_logger().info("wrote %d rows from %s to %s (not scored: no real rows given)",
                          options.rows, options.model_dir, output)
    return report


def _sample(model: Synthesizer, prepared: Prepared, staging: Path, synthetic_name: str,
            schema_file: Path, timings: dict[str, float]) -> dict[str, Any] | None:
    """Draw the rows in this process, or in shards on Dask workers (the same rows, written
    as a folder of parts). Returns the sharding figures, or None."""
    options = prepared.options
    with _timed(timings, "sample"):
        if not (options.workers or options.dask_address):
            sample_rows(model, options, prepared, staging / synthetic_name)
            return None
        sharding = sample_shards.with_options(
            task_runner=dask_task_runner(options.workers, options.dask_address))(
            staging / "model", options.rows, staging / synthetic_name, options.format,
            schema_file, options.seed, options.where, options.shard_rows)
    get_run_logger().info("sampled %d shards on %d Dask workers", sharding["shards"],
                          sharding["workers"])
    return {"shards": sharding["shards"], "workers": sharding["workers"],
            "shard_rows": options.shard_rows,
            "shard_seconds": [part["seconds"] for part in sharding["parts"]],
            "dask": options.dask_address or f"local cluster of {options.workers} processes"}


@contextmanager
def _timed(timings: dict[str, float], step: str) -> Iterator[None]:
    started = time.perf_counter()
    yield
    timings[step] = round(time.perf_counter() - started, 2)
