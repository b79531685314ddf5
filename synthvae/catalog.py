"""A catalog of published synthetic datasets: immutable, numbered, verifiable versions.

`publish(run_dir, dataset)` copies a finished `flows.generate` output folder into

    <catalog>/<dataset>/<version>/
        data/synthetic.parquet    the rows, queryable as is (pandas, pyarrow, DuckDB:
                                  select count(*) from '<catalog>/adult/3/data/*.parquet')
        model/                    synthesizer.json, model.safetensors, arrays.safetensors
        report.json, report.html  the run's scores, privacy evidence and provenance
        schema.yaml               the schema the rows were checked against (when found)
        manifest.json             what, when, from which input, how good, how private, and
                                  the sha256 of every other file in the version

The catalog root is `catalog_root`, else $SYNTHVAE_CATALOG, else data/catalog/ in the
repository. Versions are increasing integers ("1", "2", ...) per dataset; "latest" is the
highest complete one.

Publishing is atomic: the version is assembled in a private staging folder inside the
dataset's folder (same filesystem), then renamed into place under the next free number. A
rename onto an existing version fails, so two publishers racing for the same number cannot
overwrite each other: the loser takes the next number. Readers see a whole version or none;
a crash leaves only a dot-named staging folder, which listings ignore and later publishes
sweep away once it is a day old. Published files are made read-only (0444, folders 0555);
to delete a version, `chmod -R u+w` it first.

`load_manifest` verifies a version before anyone uses it: the manifest's own checksum, the
sha256 and size of every file it lists, and that no file was added. This detects corruption
and casual edits, not a forger who rewrites the manifest too; for that, keep the catalog
read-only to all but the publisher (or sign the manifests).
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import shutil
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from pydantic import ValidationError

from .io import InputError, file_sha256
from .report.run_report import RunReport

CATALOG_ENV = "SYNTHVAE_CATALOG"
DEFAULT_ROOT = Path(__file__).resolve().parents[1] / "data" / "catalog"
FORMAT = "synthvae-catalog"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
DATA_FILE = "data/synthetic.parquet"
MODEL_DIR = "model"
MODEL_FILES = ("synthesizer.json", "model.safetensors", "arrays.safetensors")
SCHEMA_FILE = "schema.yaml"
DATABASE_REPORT = "synthvae.database-report"
SCORE_KEYS = ("quality", "column_shapes", "column_pair_trends")
LATEST = "latest"
STAGING_PREFIX = ".staging-"
STALE_STAGING_SECONDS = 24 * 3600

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
_FILE_MODE, _DIR_MODE = 0o444, 0o555


class CatalogError(InputError):
    """A catalog problem, stated in one line (an InputError: the CLIs exit with code 2)."""


class NotFoundError(CatalogError):
    """No such dataset or version; the message lists what exists."""


class IntegrityError(CatalogError):
    """A published file differs from what its manifest recorded. `path` names the file."""

    def __init__(self, message: str, path: Path | None = None):
        super().__init__(message)
        self.path = path

    def __reduce__(self):  # picklable with its path, for Prefect and multiprocessing
        return type(self), (str(self), self.path)


class NotPublishableError(CatalogError):
    """The run folder may not (privacy gate failed) or cannot (data missing) be published."""


# ------------------------------------------------------------------------------ locations


def resolve_root(root: str | os.PathLike | None = None) -> Path:
    """`root`, else $SYNTHVAE_CATALOG, else data/catalog/ in the repository."""
    if root is not None and str(root) != "":
        return Path(root)
    env = os.environ.get(CATALOG_ENV)
    return Path(env) if env else DEFAULT_ROOT


def list_datasets(root: str | os.PathLike | None = None) -> list[str]:
    """Names of the datasets with at least one complete version, sorted."""
    base = resolve_root(root)
    if not base.is_dir():
        return []
    return sorted(
        entry.name
        for entry in base.iterdir()
        if entry.is_dir() and _NAME.match(entry.name) and _complete_versions(entry)
    )


def versions(dataset: str, root: str | os.PathLike | None = None) -> list[str]:
    """The complete versions of `dataset`, oldest first. NotFoundError if it has none."""
    check_name(dataset, "dataset")
    base = resolve_root(root)
    found = _complete_versions(base / dataset)
    if not found:
        known = list_datasets(base)
        where = f"in catalog {base}"
        raise NotFoundError(
            f"unknown dataset {dataset!r} {where}; "
            + (f"datasets: {', '.join(known)}" if known else "the catalog is empty")
            + f"; publish a run with `python -m flows.generate --publish {dataset}` "
              "(or schedule one with flows.deploy)"
        )
    return [str(n) for n in found]


def resolve_version(
    dataset: str, version: str | int = LATEST, root: str | os.PathLike | None = None
) -> str:
    """`version` as the name of an existing version of `dataset` ("latest": the highest)."""
    available = versions(dataset, root)
    if str(version) == LATEST:
        return available[-1]
    text = str(version).strip()
    text = text[1:] if text[:1] in ("v", "V") else text
    if text.isdigit() and str(int(text)) in available:
        return str(int(text))
    shown = available if len(available) <= 10 else ["…", *available[-10:]]
    raise NotFoundError(
        f"no version {version!r} of dataset {dataset!r}; versions: {', '.join(shown)} "
        f"(latest {available[-1]})"
    )


def version_dir(
    dataset: str, version: str | int = LATEST, root: str | os.PathLike | None = None
) -> Path:
    return resolve_root(root) / dataset / resolve_version(dataset, version, root)


# -------------------------------------------------------------------------------- reading


def load_manifest(
    dataset: str,
    version: str | int = LATEST,
    root: str | os.PathLike | None = None,
    *,
    verify: bool = True,
) -> dict[str, Any]:
    """The manifest of a version ("latest" resolved), with "path" (the version's folder)
    added. With `verify` (the default) every file is checked first: IntegrityError names the
    first file that is missing, added, resized or changed, or a manifest that was edited."""
    folder = version_dir(dataset, version, root)
    manifest_path = folder / MANIFEST
    if not manifest_path.is_file():
        raise IntegrityError(f"{manifest_path}: missing from the published version",
                             manifest_path)
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise IntegrityError(f"{manifest_path}: unreadable manifest ({err})",
                             manifest_path) from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise IntegrityError(f"{manifest_path}: not a {FORMAT} manifest", manifest_path)
    if manifest.get("format_version") != FORMAT_VERSION:
        raise IntegrityError(
            f"{manifest_path}: manifest format version {manifest.get('format_version')!r}; "
            f"this synthvae reads version {FORMAT_VERSION}",
            manifest_path,
        )
    if verify:
        _verify(folder, manifest_path, manifest, dataset)
    return {**manifest, "path": str(folder)}


def verify_version(
    dataset: str, version: str | int = LATEST, root: str | os.PathLike | None = None
) -> dict[str, Any]:
    """Check a version's files against its manifest; return the manifest."""
    return load_manifest(dataset, version, root, verify=True)


def _verify(folder: Path, manifest_path: Path, manifest: dict[str, Any], dataset: str) -> None:
    recorded = manifest.get("checksum")
    if recorded != _checksum(manifest):
        raise IntegrityError(
            f"{manifest_path}: manifest was modified after publishing (its checksum does "
            f"not match its contents)",
            manifest_path,
        )
    if manifest.get("dataset") != dataset or str(manifest.get("version")) != folder.name:
        raise IntegrityError(
            f"{manifest_path}: manifest is for {manifest.get('dataset')}/"
            f"{manifest.get('version')}, found in {dataset}/{folder.name}",
            manifest_path,
        )
    files = manifest.get("files") or {}
    for rel, expected in sorted(files.items()):
        path = folder / rel
        if not _inside(folder, path):
            raise IntegrityError(f"{manifest_path}: lists a file outside the version: {rel}",
                                 manifest_path)
        if not path.is_file():
            raise IntegrityError(f"{path}: missing from the published version", path)
        size = path.stat().st_size
        if size != expected.get("bytes"):
            raise IntegrityError(
                f"{path}: modified since publishing ({size} bytes, manifest says "
                f"{expected.get('bytes')})",
                path,
            )
        digest = file_sha256(path)
        if digest != expected.get("sha256"):
            raise IntegrityError(
                f"{path}: modified since publishing (sha256 {digest[:12]}…, manifest says "
                f"{str(expected.get('sha256'))[:12]}…)",
                path,
            )
    for path in sorted(p for p in folder.rglob("*") if not p.is_dir()):
        rel = path.relative_to(folder).as_posix()
        if rel != MANIFEST and rel not in files:
            raise IntegrityError(f"{path}: not part of the published version (added later)",
                                 path)


# ------------------------------------------------------------------------------ publishing


def publish(
    run_dir: str | os.PathLike, dataset: str, catalog_root: str | os.PathLike | None = None
) -> Path:
    """Publish a finished generate output folder as the next version of `dataset`; return the
    version's folder. NotPublishableError when the run's privacy gate was enforced and failed,
    or when its Parquet rows, model, report.json or report.html are missing."""
    check_name(dataset, "dataset")
    run = Path(run_dir)
    report_bytes, report = _read_report(run)
    sources = _sources(run, report)
    identity = _identity(run)

    dataset_dir, staging = _staging(dataset, catalog_root)
    try:
        _copy_sealed(sources, staging)
        if _identity(run) != identity or (staging / "report.json").read_bytes() != report_bytes:
            raise CatalogError(
                f"run folder {run} was replaced while it was being published; publish again"
            )
        data = _data_summary(staging / DATA_FILE)
        files = {rel: _file_entry(staging / rel) for rel in sorted(sources)}
        return _place(staging, dataset_dir, _manifest(dataset, run, report, files, data))
    except BaseException:
        _rmtree(staging)
        raise


def publish_database(
    run_dir: str | os.PathLike, dataset: str, catalog_root: str | os.PathLike | None = None
) -> Path:
    """Publish a finished `flows.generate --dataset` output folder (tables/<name>.parquet,
    model/, dataset.yaml, report.json, report.html) as the next version of `dataset`: one
    version holding every table, verified as a whole like any other. NotPublishableError
    when a part is missing."""
    check_name(dataset, "dataset")
    run = Path(run_dir)
    report_path = run / "report.json"
    if not report_path.is_file():
        raise NotPublishableError(f"{run}: no report.json; is it a finished database run?")
    report_bytes = report_path.read_bytes()
    report = json.loads(report_bytes)
    if report.get("format") != DATABASE_REPORT:
        raise NotPublishableError(f"{report_path}: not a database run's report")
    needed = [f"tables/{name}.parquet" for name in report["rows"]] + [
        "model/dataset.json", "dataset.yaml", "report.html"]
    missing = [rel for rel in needed if not (run / rel).is_file()]
    if missing:
        raise NotPublishableError(f"{run}: missing {missing}")
    sources = {p.relative_to(run).as_posix(): p for p in sorted(run.rglob("*"))
               if p.is_file() and not any(part.startswith(".") for part in p.relative_to(run).parts)}
    dataset_dir, staging = _staging(dataset, catalog_root)
    try:
        _copy_sealed(sources, staging)
        if (staging / "report.json").read_bytes() != report_bytes:
            raise CatalogError(f"run folder {run} changed while it was being published; "
                               f"publish again")
        files = {rel: _file_entry(staging / rel) for rel in sorted(sources)}
        model_files = {rel: entry for rel, entry in files.items() if rel.startswith("model/")}
        scores = report.get("scores") or {}
        base = {
            "format": FORMAT, "format_version": FORMAT_VERSION, "kind": "database",
            "dataset": dataset, "version": None,
            "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds").replace(
                "+00:00", "Z"),
            "source_run": str(run.resolve()), "input": {"path": report.get("dataset")},
            "schema": {"file": "dataset.yaml", "inferred": report.get("schema_inferred")},
            "tables": {name: {"file": f"tables/{name}.parquet", "rows": r["synthetic"]}
                       for name, r in report["rows"].items()},
            "model": {"id": hashlib.sha256("".join(
                f"{rel}:{entry['sha256']}\n" for rel, entry in sorted(model_files.items())
            ).encode()).hexdigest(), "dir": f"{MODEL_DIR}/",
                      "fit_seconds": (report.get("fit_seconds") or {}).get("total")},
            "seed": report.get("seed"), "scale": report.get("scale"),
            "rows": sum(r["synthetic"] for r in report["rows"].values()),
            "conditions": [],
            "scores": {"quality": scores.get("quality"),
                       "quality_parts": scores.get("quality_parts"),
                       "referential_integrity": scores.get("referential_integrity")},
            # no privacy gate for databases yet: reported as not scored, never as passed
            "privacy": {"gate": {"enforced": False, "passed": None, "failures": [],
                                 "thresholds": None}, "figures": {}},
            "software": None, "files": files,
        }
        return _place(staging, dataset_dir, base)
    except BaseException:
        _rmtree(staging)
        raise


def _staging(dataset: str, catalog_root: str | os.PathLike | None) -> tuple[Path, Path]:
    """The dataset's folder, and a fresh private staging folder inside it (stale ones swept)."""
    dataset_dir = resolve_root(catalog_root) / dataset
    dataset_dir.mkdir(parents=True, exist_ok=True)
    _sweep_stale_staging(dataset_dir)
    return dataset_dir, Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=dataset_dir))


def _copy_sealed(sources: dict[str, Path], staging: Path) -> None:
    for rel, source in sources.items():
        target = staging / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        _copy_file(source, target)
        _seal_file(target)


def _place(staging: Path, dataset_dir: Path, base: dict[str, Any]) -> Path:
    """Seal `staging` and rename it into place as the next free version, manifest written
    for that number; returns the version's folder."""
    for directory in sorted((p for p in staging.rglob("*") if p.is_dir()), reverse=True):
        _fsync_dir(directory)
        os.chmod(directory, _DIR_MODE)
    while True:
        version = _next_version(dataset_dir)
        final = dataset_dir / str(version)
        manifest = {**base, "version": str(version)}
        manifest["checksum"] = _checksum(manifest)
        manifest_path = staging / MANIFEST
        if manifest_path.exists():
            manifest_path.unlink()
        manifest_path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        _seal_file(manifest_path)
        os.chmod(staging, _DIR_MODE)
        if _rename_into_place(staging, final):
            break
        os.chmod(staging, 0o755)  # lost the race for this number: take the next one
    _fsync_dir(dataset_dir)
    return final


def _copy_file(source: Path, target: Path) -> None:
    shutil.copyfile(source, target)


def _rename_into_place(staging: Path, final: Path) -> bool:
    """Rename `staging` to `final` unless a version of that name exists; False if it does.

    rename(2) replaces an existing folder only when that folder is empty; this module never
    makes an empty version folder, and a non-empty one makes rename fail (ENOTEMPTY/EEXIST),
    so a concurrent publisher's version is never overwritten."""
    if os.path.lexists(final):
        return False
    try:
        os.rename(staging, final)
    except OSError as err:
        if err.errno in (errno.EEXIST, errno.ENOTEMPTY):
            return False
        raise
    return True


def _next_version(dataset_dir: Path) -> int:
    taken = [int(p.name) for p in dataset_dir.iterdir() if p.name.isdigit()]
    return max(taken, default=0) + 1


def _read_report(run: Path) -> tuple[bytes, dict[str, Any]]:
    if not run.is_dir():
        raise NotPublishableError(f"run folder not found: {run}")
    path = run / "report.json"
    try:
        raw = path.read_bytes()
        report = json.loads(raw)
    except FileNotFoundError:
        raise NotPublishableError(f"{run} has no report.json: not a finished generate output "
                                  f"folder") from None
    except (OSError, ValueError) as err:
        raise NotPublishableError(f"{path}: unreadable report ({err})") from None
    gate = report.get("privacy_gate") if isinstance(report, dict) else None
    if not isinstance(gate, dict) or "passed" not in gate:
        raise NotPublishableError(
            f"{path} has no privacy_gate verdict (a run from an older synthvae?): run "
            f"flows.generate again before publishing"
        )
    try:
        RunReport.model_validate(report)  # what the manifest reads is there, and typed
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(map(str, first["loc"]))
        raise NotPublishableError(
            f"{path} is not a report this synthvae writes ({err.error_count()} problems; "
            f"first: {where}: {first['msg']}): run flows.generate again before publishing"
        ) from None
    if gate.get("enforced") and not gate.get("passed"):
        names = ", ".join(f["name"] for f in gate.get("failures") or [] if isinstance(f, dict))
        raise NotPublishableError(
            f"{run} failed its enforced privacy gate ({names or 'see report.json'}): "
            f"not publishing it"
        )
    return raw, report


def _sources(run: Path, report: dict[str, Any]) -> dict[str, Path]:
    """Version path -> source file, once each is known to exist."""
    synthetic = (report.get("files") or {}).get("synthetic")
    if not synthetic:
        raise NotPublishableError(f"{run}/report.json lists no synthetic rows: nothing to publish")
    data = run / synthetic
    if not data.is_file():
        raise NotPublishableError(f"{run} lacks its synthetic rows ({synthetic}): nothing to "
                                  f"publish")
    if not synthetic.lower().endswith(".parquet"):
        raise NotPublishableError(
            f"{data}: the catalog holds Parquet; run flows.generate with --format parquet"
        )
    sources = {DATA_FILE: data}
    for name in MODEL_FILES:
        path = run / MODEL_DIR / name
        if not path.is_file():
            raise NotPublishableError(f"{run} lacks its model ({MODEL_DIR}/{name})")
        sources[f"{MODEL_DIR}/{name}"] = path
    for name in ("report.json", "report.html"):
        if not (run / name).is_file():
            raise NotPublishableError(f"{run} lacks {name}")
        sources[name] = run / name
    schema = _schema_source(run, report)
    if schema is not None:
        sources[SCHEMA_FILE] = schema
    return sources


def _schema_source(run: Path, report: dict[str, Any]) -> Path | None:
    info = report.get("schema") or {}
    candidates = []
    if info.get("path"):
        recorded = Path(info["path"])
        if info.get("inferred"):
            candidates.append(run / recorded.name)  # the draft travels with the run folder
        candidates.append(recorded)
    return next((p for p in candidates if p.is_file()), None)


def _manifest(
    dataset: str, run: Path, report: dict[str, Any], files: dict[str, Any], data: dict[str, Any]
) -> dict[str, Any]:
    gate = report["privacy_gate"]
    schema = dict(report.get("schema") or {})
    schema["file"] = SCHEMA_FILE if SCHEMA_FILE in files else None
    fit = report.get("fit") or {}
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "dataset": dataset,
        "version": None,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds").replace(
            "+00:00", "Z"
        ),
        "source_run": str(run.resolve()),
        "input": report.get("input"),
        "schema": schema,
        "model": {
            "id": model_id(files),
            "dir": f"{MODEL_DIR}/",
            "epochs_run": fit.get("epochs_run"),
            "fit_seconds": fit.get("seconds"),
            "train_rows": report.get("train_rows"),
            "holdout_rows": report.get("holdout_rows"),
        },
        "seed": report.get("seed"),
        "rows": data["rows"],
        "conditions": report.get("conditions") or [],
        "data": data,
        "scores": {**{key: report.get(key) for key in SCORE_KEYS},
                   "detection_auc": (report.get("detection") or {}).get("auc")},
        "privacy": {
            "gate": {
                "enforced": bool(gate.get("enforced")),
                "passed": bool(gate.get("passed")),
                "failures": gate.get("failures") or [],
                "thresholds": gate.get("thresholds"),
            },
            "figures": privacy_figures(report),
        },
        "software": report.get("versions"),
        "files": files,
    }


def model_id(files: dict[str, dict[str, Any]]) -> str:
    """sha256 over the model's three files' names and sha256s: equal ids, equal models."""
    lines = "".join(
        f"{name}:{files[f'{MODEL_DIR}/{name}']['sha256']}\n" for name in MODEL_FILES
    )
    return hashlib.sha256(lines.encode()).hexdigest()


def privacy_figures(report: dict[str, Any]) -> dict[str, Any]:
    """The privacy figures a reader checks first, from a generate report (None: not
    measured): DCR ratio (>= 1: synthetic rows no closer to training rows than unseen real
    rows are), exact copies, SDMetrics DCROverfittingProtection, membership-inference AUC
    (0.5 is chance) and the highest upper bound of any attack's risk."""
    basic = report.get("privacy") or {}
    full = report.get("privacy_report") or {}
    mia = full.get("membership_inference") or {}
    overfit = (full.get("sdmetrics") or {}).get("dcr_overfitting_protection") or {}
    uppers = [ci[1] for ci in _attack_cis(full.get("attacks") or {}) if ci]
    return {
        "dcr_ratio": basic.get("dcr_ratio"),
        "synthetic_copies": basic.get("synthetic_copies"),
        "holdout_copies": basic.get("holdout_copies"),
        "excess_copy_rate": (full.get("exact_copies") or {}).get("excess_copy_rate"),
        "dcr_overfitting_protection": overfit.get("score"),
        "membership_auc": mia.get("auc"),
        "membership_auc_ci_upper": (mia.get("auc_ci") or [None, None])[1],
        "attack_risk_ci_upper_max": max(uppers) if uppers else None,
    }


def _attack_cis(section: Any):
    if isinstance(section, dict):
        if "ci" in section and "skipped" not in section:
            yield section["ci"]
            return
        for value in section.values():
            yield from _attack_cis(value)


def _data_summary(path: Path) -> dict[str, Any]:
    try:
        meta = pq.read_metadata(path)
        schema = pq.read_schema(path)
    except Exception as err:  # pyarrow raises several types for a broken file
        raise NotPublishableError(f"{path}: not a readable Parquet file ({err})") from None
    return {
        "path": DATA_FILE,
        "format": "parquet",
        "rows": meta.num_rows,
        "columns": [{"name": f.name, "type": str(f.type)} for f in schema
                    if f.name != "__index_level_0__"],
    }


# -------------------------------------------------------------------------------- helpers


def check_name(name: Any, what: str = "dataset") -> None:
    """A dataset name: one safe path segment (no "..", "/" or leading dot), not "latest"."""
    if not isinstance(name, str) or not _NAME.match(name) or name in (LATEST,):
        raise CatalogError(
            f"invalid {what} name {name!r}: use letters, digits, '.', '_' and '-' (not "
            f"'{LATEST}'), starting with a letter or digit"
        )


def _complete_versions(dataset_dir: Path) -> list[int]:
    """Every numbered folder: each came whole from one rename, so one without its manifest
    was damaged later, and load_manifest says so rather than quietly skipping it."""
    if not dataset_dir.is_dir():
        return []
    return sorted(int(p.name) for p in dataset_dir.iterdir() if p.name.isdigit() and p.is_dir())


def _checksum(manifest: dict[str, Any]) -> str:
    body = {k: v for k, v in manifest.items() if k not in ("checksum", "path")}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()



def _file_entry(path: Path) -> dict[str, Any]:
    return {"sha256": file_sha256(path), "bytes": path.stat().st_size}


def _identity(run: Path) -> tuple[int, int]:
    info = run.stat()
    return info.st_dev, info.st_ino


def _inside(folder: Path, path: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True


def _seal_file(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())
    os.chmod(path, _FILE_MODE)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _rmtree(path: Path) -> None:
    """Remove a tree this module sealed read-only: open its folders, then delete."""
    if not path.exists():
        return
    for directory in [path, *(p for p in path.rglob("*") if p.is_dir())]:
        try:
            os.chmod(directory, 0o755)
        except OSError:
            pass
    shutil.rmtree(path, ignore_errors=True)


def _sweep_stale_staging(dataset_dir: Path) -> None:
    """Remove staging folders left by publishers that crashed more than a day ago."""
    cutoff = time.time() - STALE_STAGING_SECONDS
    for entry in dataset_dir.glob(f"{STAGING_PREFIX}*"):
        try:
            if entry.is_dir() and entry.stat().st_mtime < cutoff:
                _rmtree(entry)
        except OSError:
            pass
