"""What a generate run is asked to do: every option in one place, with its default, its type
and the help its command line shows.

`RunOptions` is both the generate flow's parameter and the source of `python -m
flows.generate`'s parser: adding an option is adding one field here. This module imports
only the standard library, so `--help` answers without loading PyTorch, pandas or Prefect.
"""

from __future__ import annotations

import argparse
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any, Callable

from synthvae.evaluation.gate import PrivacyGate

# Kept here rather than imported: importing synthvae.io or synthvae.synthesizer loads pandas
# and PyTorch, which costs seconds a `--help` should not. Tests check they agree.
READ_SUFFIXES = (".csv", ".csv.gz", ".parquet")
WRITE_FORMATS = ("parquet", "csv")
SAMPLE_CHUNK = 65_536
SHARD_ROWS = 16 * SAMPLE_CHUNK  # 1,048,576: seconds of work, so task overhead stays small

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_INPUT = ROOT / "data" / "adult.csv.gz"
DEFAULT_SCHEMA = ROOT / "schemas" / "adult.yaml"
DRAFT_SCHEMA_NAME = "schema.draft.yaml"
# The schema a model was fitted under, saved beside it: with --model and no --input, the
# synthetic rows are checked against it.
MODEL_SCHEMA_NAME = "schema.yaml"


def checked(parse: Callable[[str], Any], ok: Callable[[Any], bool], words: str):
    """An argparse type: `parse` the text, then require `ok(value)`, else say `words`."""

    def convert(text: str):
        try:
            value = parse(text)
        except ValueError:
            value = None
        if value is None or not ok(value):
            raise argparse.ArgumentTypeError(f"must be {words}, got {text!r}")
        return value

    convert.words = words
    return convert


positive_int = checked(int, lambda v: v >= 1, "a positive integer")
positive_float = checked(float, lambda v: 0 < v < float("inf"), "a positive number")
fraction = checked(float, lambda v: 0 <= v < 1, "a number in [0, 1)")
unit_interval = checked(float, lambda v: 0 <= v <= 1, "a number in [0, 1]")
open_unit_interval = checked(float, lambda v: 0 < v < 1, "a number in (0, 1)")


def option(default: Any, help: str, *, flag: str | None = None, shown: str | None = None,
           parse: Callable[[str], Any] = str, repeat: bool = False,
           choices: tuple[str, ...] | None = None) -> Any:
    """A RunOptions field. `flag` defaults to --name-with-dashes; `shown` is the default as
    the help words it, when the value alone would not say it; `repeat` collects a list."""
    meta = {"help": help, "flag": flag, "shown": shown, "parse": parse, "repeat": repeat,
            "choices": choices}
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass
class RunOptions:
    """One generate run. Paths are as the user gave them; None means the default `shown`."""

    rows: int = option(100_000, "number of synthetic rows to write", parse=positive_int)
    input_path: str | None = option(
        None, f"table to learn from ({', '.join(READ_SUFFIXES)})", flag="--input",
        shown="data/adult.csv.gz, the bundled table; with --model, none: the rows are drawn "
              "from the model alone, checked against its schema and not scored")
    schema_path: str | None = option(
        None, "schema YAML the input and the synthetic rows must pass", flag="--schema",
        shown="schemas/adult.yaml for the bundled table; for another --input, a draft "
              f"inferred from it, written to OUTPUT/{DRAFT_SCHEMA_NAME}")
    output_dir: str | None = option(
        None, "output folder, replaced only when the run succeeds", flag="--output",
        shown="./runs/<input name without suffix> (with --model alone: "
              "./runs/<model>-sample)")
    format: str = option("parquet", "file format of the synthetic rows", choices=WRITE_FORMATS)
    seed: int = option(0, "random seed: the same seed gives the same rows", parse=int)
    epochs: int | None = option(
        None, "maximum training epochs (training stops early when validation loss stalls)",
        shown="the Synthesizer's, set from the table size", parse=positive_int)
    protect_below: int | None = option(
        None, "a category, or a repeated number, seen in fewer than this many training rows "
              "is never generated as it is (1: off)", shown="3", parse=positive_int)
    validation_groups: str | None = option(
        None, "hold back together, for early stopping, the rows that share an event: 'auto' "
              "(a key or a timestamp with a time of day that repeats) or a column; it keeps "
              "a model from learning events by heart, at some cost in fidelity",
        shown="none: rows at random")
    max_seconds: float | None = option(None, "training time budget in seconds",
                                       shown="no limit", parse=positive_float)
    holdout_fraction: float = option(
        0.2, "share of the real rows held back from training to score privacy", parse=fraction)
    where: list[str] = option(
        [], "a condition every synthetic row meets, repeatable, quoted for the shell: "
            "'COLUMN=VALUE' ('income=>50K'), 'COLUMN=A|B', 'COLUMN=LOW..HIGH' ('age=30..40', "
            "open end: 'age=65..'), 'COLUMN=<null>'", shown="none", repeat=True)
    sensitive: list[str] = option(
        [], "a column whose values must not be inferable (attribute-inference attack and "
            "SDMetrics disclosure protection), repeatable",
        shown="the schema's `sensitive` list, else the last column", repeat=True)
    privacy_gate: bool = option(
        False, "enforce the privacy gate: when a figure is past its threshold by more than "
               "noise, the rows and model are not published and the exit code is 3",
        shown="off: figures are reported, not enforced")
    gate_dcr_overfitting: float = option(
        PrivacyGate.dcr_overfitting_protection_min, "gate: minimum DCR overfitting protection (1: synthetic rows sit no nearer the "
             "training rows than unseen real rows do)", parse=unit_interval)
    gate_copy_excess: float = option(
        PrivacyGate.exact_copy_rate_max_over_holdout, "gate: maximum share of synthetic rows copying a training row, above the share "
             "of real rows that equal one", parse=unit_interval)
    gate_attack_risk: float = option(
        PrivacyGate.attack_risk_max, "gate: maximum risk of each attack (singling out, linkability, inference)",
        parse=unit_interval)
    gate_membership_auc: float = option(
        PrivacyGate.membership_auc_max, "gate: maximum membership-inference AUC (0.5 = chance)", parse=unit_interval)
    gate_false_alarm: float = option(
        PrivacyGate.false_alarm_rate, "gate: chance that rows leaking nothing fail it (a figure fails only when past "
               "its threshold with a p-value below this over the number of figures)",
        parse=unit_interval)
    dp_epsilon: float | None = option(
        None, "train with DP-SGD (Opacus) to this epsilon; the epsilon spent goes in the "
              "report", shown="no DP", parse=positive_float)
    dp_delta: float | None = option(None, "DP delta", shown="1 / n^1.1 for n training rows",
                                    parse=open_unit_interval)
    model_dir: str | None = option(
        None, "a saved synthesizer folder (a run's model/): sample from it instead of "
              "training; privacy is then not scored", flag="--model", shown="train a new one")
    publish: str | None = option(
        None, "after a successful run (and a passed gate, when enforced), publish the output "
              "as the next version of this catalog dataset", shown="not published")
    catalog: str | None = option(None, "catalog root",
                                 shown="$SYNTHVAE_CATALOG, else data/catalog/")
    workers: int | None = option(
        None, "sample in shards on a local Dask cluster of this many worker processes; the "
              "rows are the same for any number, written as a folder of parts",
        shown="no sharding: one process, one file", parse=positive_int)
    dask_address: str | None = option(
        None, "sample in shards on an existing Dask cluster (tcp://HOST:8786); needs "
              "PREFECT_API_URL, and an output folder and model every worker can reach",
        shown="none")
    shard_rows: int = option(
        SHARD_ROWS, f"rows per shard with --workers or --dask-address (a multiple of "
                    f"{SAMPLE_CHUNK:,})", parse=positive_int)
    drop_violating: bool = option(
        False, "train without the input rows that break a rule the schema declares (how many "
               "is logged and reported) instead of refusing the input (exit 2)",
        shown="off: an input breaking a declared rule is refused")

    def gate_thresholds(self) -> dict[str, float]:
        """The PrivacyGate's arguments, in its order."""
        return {"dcr_overfitting_protection_min": self.gate_dcr_overfitting,
                "exact_copy_rate_max_over_holdout": self.gate_copy_excess,
                "attack_risk_max": self.gate_attack_risk,
                "membership_auc_max": self.gate_membership_auc,
                "false_alarm_rate": self.gate_false_alarm}


def flag(name: str) -> str:
    """The command-line spelling of a RunOptions field."""
    meta = RunOptions.__dataclass_fields__[name].metadata
    return meta["flag"] or f"--{name.replace('_', '-')}"


def build_parser() -> argparse.ArgumentParser:
    """`python -m flows.generate`'s parser: one option per RunOptions field."""
    parser = argparse.ArgumentParser(
        prog="python -m flows.generate",
        description="Fit a VAE synthesizer to a table and write synthetic rows, a report "
                    "(report.json, report.html) and the model to an output folder.",
        epilog="Related tables: python -m flows.generate --dataset DIR [--schema FILE] "
               "[--scale S] writes a whole synthetic database (--dataset DIR --help).",
    )
    for spec in fields(RunOptions):
        meta = spec.metadata
        default = spec.default if spec.default is not MISSING else spec.default_factory()
        shown = meta["shown"] or (f"{default:,}" if type(default) is int else default)
        words = f"{meta['help']} (default: {shown})"
        if spec.type == "bool":
            parser.add_argument(flag(spec.name), dest=spec.name, action="store_true",
                                help=words)
            continue
        parser.add_argument(
            flag(spec.name), dest=spec.name, default=default, type=meta["parse"],
            choices=meta["choices"], action="append" if meta["repeat"] else "store",
            metavar=None if meta["choices"] else flag(spec.name)[2:].upper().replace("-", "_"),
            help=words,
        )
    return parser


def parse_options(argv: list[str] | None = None) -> RunOptions:
    return RunOptions(**vars(build_parser().parse_args(argv)))
