"""`python -m flows.catalog`: what the catalog holds, how good and how private it is.

    python -m flows.catalog list                     every dataset's latest version
    python -m flows.catalog show adult [--version 3] one version in full, and its history
    python -m flows.catalog verify [adult ...]       check every version's files

`--json` prints machine-readable output; `--catalog DIR` picks the root (default
$SYNTHVAE_CATALOG, else data/catalog/). Like flows.pull, a plain command line over
synthvae.catalog, with no Prefect: reading a few manifests takes well under a second, where a
flow run would first start Prefect's temporary server (10-25 s).

Exit codes: 0 done; 2 unknown dataset or version, or (show, verify) a version whose files fail
their integrity check. `list` reports a damaged version in its table and still exits 0.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from synthvae.catalog import (
    IntegrityError,
    list_datasets,
    load_manifest,
    resolve_root,
    versions,
)
from synthvae.io import InputError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m flows.catalog",
        description="List, show and verify published synthetic datasets.",
    )
    parser.add_argument("--catalog", default=None, metavar="DIR",
                        help="catalog root (default: $SYNTHVAE_CATALOG, else data/catalog)")
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="every dataset's latest version")
    listing.add_argument("--json", action="store_true", help="print JSON")
    show = commands.add_parser("show", help="one version of a dataset, in full")
    show.add_argument("dataset")
    show.add_argument("--version", default="latest", help="version number or 'latest'")
    show.add_argument("--json", action="store_true", help="print the manifest as JSON")
    verify = commands.add_parser("verify", help="check every version's files")
    verify.add_argument("datasets", nargs="*", help="datasets to check (default: all)")
    for sub in (listing, show, verify):  # accepted after the command too
        sub.add_argument("--catalog", default=argparse.SUPPRESS, metavar="DIR",
                         help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "list":
            return cmd_list(args.catalog, args.json)
        if args.command == "show":
            return cmd_show(args.catalog, args.dataset, args.version, args.json)
        return cmd_verify(args.catalog, args.datasets)
    except InputError as err:
        print(f"error: {' '.join(str(err).split())}", file=sys.stderr)
        return 2


# ------------------------------------------------------------------------------- commands


def cmd_list(root: str | None, as_json: bool) -> int:
    rows = []
    for dataset in list_datasets(root):
        names = versions(dataset, root)
        row: dict[str, Any] = {"dataset": dataset, "versions": len(names), "latest": names[-1]}
        try:
            manifest = load_manifest(dataset, "latest", root)
        except IntegrityError as err:
            row["integrity"] = f"FAILED: {err}"
        else:
            row |= _summary(manifest) | {"integrity": "ok"}
        rows.append(row)
    if as_json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"catalog {resolve_root(root)}: {len(rows)} dataset{'s' if len(rows) != 1 else ''}")
    if not rows:
        return 0
    header = ("dataset", "versions", "latest", "created_at", "rows", "quality",
              "privacy gate", "membership AUC", "integrity")
    table = [header] + [
        (r["dataset"], str(r["versions"]), r["latest"], r.get("created_at", "?"),
         _count(r.get("rows")), _num(r.get("quality")), r.get("gate", "?"),
         _num(r.get("membership_auc")), r["integrity"])
        for r in rows
    ]
    widths = [max(len(line[i]) for line in table) for i in range(len(header) - 1)]
    for line in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(line[:-1], widths, strict=True))
              + "  " + line[-1])
    return 0


def cmd_show(root: str | None, dataset: str, version: str, as_json: bool) -> int:
    manifest = load_manifest(dataset, version, root)  # IntegrityError: exit 2, file named
    if as_json:
        print(json.dumps(manifest, indent=2))
        return 0
    names = versions(dataset, root)
    if manifest.get("kind") == "database":
        print(_show_database(manifest, names))
        return 0
    figures = manifest["privacy"]["figures"]
    data, model, source = manifest["data"], manifest["model"], manifest["input"] or {}
    schema, scores = manifest["schema"] or {}, manifest["scores"]
    latest = " (latest)" if manifest["version"] == names[-1] else ""
    columns = ", ".join(f"{c['name']}" for c in data["columns"])
    files = manifest["files"]
    size = sum(f["bytes"] for f in files.values())
    conditions = manifest["conditions"]
    more = f" (and {len(names) - 10} older)" if len(names) > 10 else ""
    lines = [
        f"{dataset} version {manifest['version']}{latest}, published {manifest['created_at']}",
        f"  path      {manifest['path']}",
        (f"  rows      {data['rows']:,} in {data['path']} ({len(data['columns'])} columns: "
         f"{columns})"),
        (f"  input     {source.get('path')} ({_count(source.get('rows'))} rows, sha256 "
         f"{str(source.get('sha256'))[:12]}…)"),
        (f"  schema    {schema.get('path')}"
         f"{' (inferred draft)' if schema.get('inferred') else ''}"
         f"{'; copy: ' + schema['file'] if schema.get('file') else ''}"),
        (f"  model     id {model['id'][:16]}… ({model.get('epochs_run')} epochs in "
         f"{_num(model.get('fit_seconds'), 1)} s on {_count(model.get('train_rows'))} rows); "
         f"seed {manifest['seed']}"
         f"{'; conditions ' + ' and '.join(conditions) if conditions else ''}"),
        (f"  quality   {_num(scores.get('quality'))} (column shapes "
         f"{_num(scores.get('column_shapes'))}, column pair trends "
         f"{_num(scores.get('column_pair_trends'))}); detection AUC "
         f"{_num(scores.get('detection_auc'))} (0.5: indistinguishable from real rows)"),
        f"  privacy   gate {_gate(manifest)}",
        (f"            DCR ratio {_num(figures.get('dcr_ratio'))} (>= 1: no closer to "
         f"training rows than unseen real rows are); exact copies "
         f"{_count(figures.get('synthetic_copies'))} (holdout "
         f"{_count(figures.get('holdout_copies'))})"),
        (f"            DCR overfitting protection "
         f"{_num(figures.get('dcr_overfitting_protection'))}; membership-inference AUC "
         f"{_num(figures.get('membership_auc'))} (upper bound "
         f"{_num(figures.get('membership_auc_ci_upper'))}, 0.5 = chance); highest "
         f"attack-risk upper bound {_num(figures.get('attack_risk_ci_upper_max'))}"),
        (f"  files     {len(files) + 1} files, {size / 1e6:.1f} MB, verified against "
         f"manifest.json"),
        f"  versions  {', '.join(names[-10:])}{more}",
    ]
    print("\n".join(lines))
    return 0


def cmd_verify(root: str | None, datasets: list[str]) -> int:
    failed = 0
    checked = 0
    for dataset in datasets or list_datasets(root):
        for version in versions(dataset, root):
            checked += 1
            try:
                load_manifest(dataset, version, root)
            except IntegrityError as err:
                failed += 1
                print(f"{dataset} v{version}: FAILED: {err}")
            else:
                print(f"{dataset} v{version}: ok")
    print(f"{checked - failed} of {checked} versions verified" + (f", {failed} FAILED"
                                                                   if failed else ""))
    return 2 if failed else 0


# -------------------------------------------------------------------------------- helpers


def _show_database(manifest: dict[str, Any], names: list[str]) -> str:
    latest = " (latest)" if manifest["version"] == names[-1] else ""
    scores = manifest["scores"]
    lines = [f"{manifest['dataset']} version {manifest['version']}{latest} (a database), "
             f"published {manifest['created_at']}",
             f"  path      {manifest['path']}",
             f"  input     {manifest['input'].get('path')}; seed {manifest['seed']}, "
             f"scale {manifest['scale']}",
             f"  model     id {manifest['model']['id'][:16]}… "
             f"(fitted in {_num(manifest['model'].get('fit_seconds'), 1)} s)",
             f"  quality   {_num(scores.get('quality'))} (multi-table: "
             + ", ".join(f"{k.lower()} {_num(v)}" for k, v in
                         (scores.get("quality_parts") or {}).items()) + ")"]
    lines += [f"  table     {name}: {t['rows']:,} rows in {t['file']}"
              for name, t in manifest["tables"].items()]
    lines += [f"  integrity {k}: {_num(v)}"
              for k, v in (scores.get("referential_integrity") or {}).items()]
    return "\n".join(lines)


def _summary(manifest: dict[str, Any]) -> dict[str, Any]:
    return {
        "created_at": manifest["created_at"],
        "rows": manifest["rows"],
        "quality": manifest["scores"].get("quality"),
        "gate": _gate(manifest, short=True),
        "membership_auc": manifest["privacy"]["figures"].get("membership_auc"),
        "model_id": manifest["model"]["id"],
    }


def _gate(manifest: dict[str, Any], short: bool = False) -> str:
    gate = manifest["privacy"]["gate"]
    if gate["passed"] is None:
        return "not scored"
    words = "passed" if gate["passed"] else "FAILED"
    words += " (enforced)" if gate["enforced"] else " (not enforced)"
    if short or gate["passed"]:
        return words
    failures = "; ".join(
        f"{f.get('name')} = {_num(f.get('value'))} (must be {f.get('rule')} "
        f"{_num(f.get('threshold'))})"
        for f in gate["failures"]
    )
    return f"{words}: {failures}"


def _num(value: Any, places: int = 3) -> str:
    if isinstance(value, bool) or value is None:
        return "n/a"
    if isinstance(value, (int, float)):
        return f"{value:.{places}f}"
    return str(value)


def _count(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else "?"


if __name__ == "__main__":
    sys.exit(main())
