"""synthvae.catalog: publish run folders as immutable versions, list them, verify them.

The run folders are made with the library (a 2-epoch model on 500 Adult rows, a few seconds)
rather than flows.generate, whose temporary Prefect server alone costs 10-25 s; their
report.json holds the keys publish reads. tests/test_deploy.py publishes a real flow run.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import shutil
import threading
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from synthvae import Synthesizer, catalog
from synthvae.catalog import (
    CatalogError,
    IntegrityError,
    NotFoundError,
    NotPublishableError,
    list_datasets,
    load_manifest,
    publish,
    versions,
)
from synthvae.io import read_table, write_table

ROOT = Path(__file__).resolve().parents[1]
ADULT = ROOT / "data" / "adult.csv.gz"
ADULT_SCHEMA = ROOT / "schemas" / "adult.yaml"
TRAIN_ROWS = 500
RUN_ROWS = 300


# ------------------------------------------------------------------------- run folders


@pytest.fixture(scope="module")
def fitted() -> Synthesizer:
    table = read_table(ADULT).sample(TRAIN_ROWS, random_state=0).reset_index(drop=True)
    return Synthesizer(epochs=2, hidden_dim=32, latent_dim=8, prior_components=3,
                       random_state=0).fit(table)


def make_run(synthesizer: Synthesizer, output: Path, *, seed: int = 0, rows: int = RUN_ROWS,
             enforced: bool = False, passed: bool = True, quality: float = 0.8) -> Path:
    """A generate output folder, as flows.generate writes it, with made-up scores."""
    output.mkdir(parents=True)
    write_table(synthesizer.sample(rows, random_state=seed), output / "synthetic.parquet",
                "parquet")
    synthesizer.save(output / "model")
    failures = [] if passed else [{"name": "membership_inference.auc_ci_upper", "value": 0.7,
                                   "threshold": 0.6, "rule": "<=", "by": 0.1}]
    report = {
        "rows": rows, "seed": seed, "format": "parquet", "output": str(output),
        "files": {"synthetic": "synthetic.parquet", "report": "report.json",
                  "report_html": "report.html", "model": "model/"},
        "input": {"path": str(ADULT), "sha256": hashlib.sha256(ADULT.read_bytes()).hexdigest(),
                  "rows": TRAIN_ROWS},
        "schema": {"path": str(ADULT_SCHEMA), "inferred": False},
        "conditions": [], "rows_matching_conditions": None, "holdout_fraction": 0.2,
        "train_rows": 400, "holdout_rows": 100,
        "fit": {"epochs_run": 2, "epochs_max": 2, "max_seconds": None, "seconds": 1.5,
                "best_val_loss": 20.5, "dp": None, "column_kinds": synthesizer.column_kinds_},
        "quality": quality, "column_shapes": 0.85, "column_pair_trends": 0.75,
        "detection": {"auc": 0.55, "holdout_auc": 0.5, "rows": 400, "giveaways": [],
                      "seconds": 0.5},
        "rules": [], "columns": {}, "pairs_worst": [], "pairs_counted": 0, "pairs_total": 0,
        "not_available": {}, "subsampled": {},
        "privacy": {"dcr_synthetic_median": 1.0, "dcr_holdout_median": 0.95,
                    "dcr_ratio": 1.05, "synthetic_copies": 0, "holdout_copies": 1},
        "privacy_report": {
            "exact_copies": {"excess_copy_rate": 0.0},
            "sdmetrics": {"dcr_overfitting_protection": {"score": 0.95}},
            "membership_inference": {"auc": 0.51, "auc_ci": [0.49, 0.53]},
            "attacks": {"linkage": {"risk": 0.01, "ci": [0.0, 0.03]},
                        "inference": {"income": {"risk": 0.02, "ci": [0.0, 0.05]}},
                        "singling_out": {"skipped": "too few columns"}},
        },
        "privacy_gate": {"enforced": enforced, "passed": passed, "thresholds": {},
                         "failures": failures},
        "rows_scored": {"train": 400, "synthetic": rows}, "sharding": None,
        "timings": {"total": 3.0}, "versions": {"synthvae": "0.1.0"},
    }
    (output / "report.json").write_text(json.dumps(report, indent=2))
    (output / "report.html").write_text("<html><body>report</body></html>")
    return output


@pytest.fixture(scope="module")
def run_dir(fitted, tmp_path_factory) -> Path:
    return make_run(fitted, tmp_path_factory.mktemp("runs") / "run")


@pytest.fixture
def root(tmp_path) -> Path:
    return tmp_path / "catalog"


def writable(path: Path) -> Path:
    """Published files are read-only; a test that tampers with one opens it first."""
    os.chmod(path.parent, 0o755)
    os.chmod(path, 0o644)
    return path


# ----------------------------------------------------------------------------- publish


def test_publish_writes_a_complete_verified_version(run_dir, root):
    folder = publish(run_dir, "adult", root)
    assert folder == root / "adult" / "1"
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    assert files == ["data/synthetic.parquet", "manifest.json", "model/arrays.safetensors",
                     "model/model.safetensors", "model/synthesizer.json", "report.html",
                     "report.json", "schema.yaml"]
    manifest = load_manifest("adult", "latest", root)
    assert manifest["dataset"] == "adult" and manifest["version"] == "1"
    assert manifest["path"] == str(folder)
    assert manifest["created_at"].endswith("Z")
    assert manifest["rows"] == RUN_ROWS and manifest["seed"] == 0
    assert manifest["input"]["sha256"] == hashlib.sha256(ADULT.read_bytes()).hexdigest()
    assert manifest["schema"]["file"] == "schema.yaml"
    assert manifest["scores"] == {"quality": 0.8, "column_shapes": 0.85,
                                  "column_pair_trends": 0.75, "detection_auc": 0.55}
    assert manifest["privacy"]["gate"]["passed"] is True
    assert manifest["privacy"]["figures"] == {
        "dcr_ratio": 1.05, "synthetic_copies": 0, "holdout_copies": 1, "excess_copy_rate": 0.0,
        "dcr_overfitting_protection": 0.95, "membership_auc": 0.51,
        "membership_auc_ci_upper": 0.53, "attack_risk_ci_upper_max": 0.05}
    for rel, entry in manifest["files"].items():
        assert entry["sha256"] == hashlib.sha256((folder / rel).read_bytes()).hexdigest()
    assert manifest["model"]["id"] == catalog.model_id(manifest["files"])
    assert [c["name"] for c in manifest["data"]["columns"]] == list(
        pd.read_parquet(run_dir / "synthetic.parquet").columns)
    # immutable: read-only files, and nothing left behind but the version
    assert all((p.stat().st_mode & 0o222) == 0 for p in folder.rglob("*") if p.is_file())
    assert sorted(p.name for p in (root / "adult").iterdir()) == ["1"]
    # the model loads from the catalog and draws rows
    assert len(Synthesizer.load(folder / "model").sample(5, random_state=0)) == 5


def test_versions_increase_and_latest_resolves(fitted, run_dir, root, tmp_path):
    other = make_run(fitted, tmp_path / "run2", seed=1, quality=0.9)
    publish(run_dir, "adult", root)
    publish(other, "adult", root)
    publish(run_dir, "census", root)
    assert versions("adult", root) == ["1", "2"]
    assert list_datasets(root) == ["adult", "census"]
    assert load_manifest("adult", root=root)["version"] == "2"
    assert load_manifest("adult", root=root)["scores"]["quality"] == 0.9
    assert load_manifest("adult", "1", root)["seed"] == 0
    assert load_manifest("adult", 1, root)["version"] == "1"
    assert load_manifest("adult", "v2", root)["seed"] == 1


def test_root_comes_from_the_environment(run_dir, root, monkeypatch):
    monkeypatch.setenv("SYNTHVAE_CATALOG", str(root))
    assert publish(run_dir, "adult") == root / "adult" / "1"
    assert versions("adult") == ["1"]
    monkeypatch.delenv("SYNTHVAE_CATALOG")
    assert catalog.resolve_root() == ROOT / "data" / "catalog"


def test_published_parquet_is_queryable_by_pandas_pyarrow_and_duckdb(run_dir, root):
    import duckdb
    publish(run_dir, "adult", root)
    publish(run_dir, "adult", root)
    data = root / "adult" / "1" / "data"
    assert len(pd.read_parquet(data / "synthetic.parquet")) == RUN_ROWS
    assert pq.read_table(data).num_rows == RUN_ROWS  # a folder of Parquet files, as a dataset
    assert duckdb.sql(f"select count(*) from '{data}/*.parquet'").fetchall()[0][0] == RUN_ROWS
    across = duckdb.sql(
        f"select count(*), count(distinct filename) from read_parquet("
        f"'{root}/adult/*/data/*.parquet', filename=true)").fetchall()[0]
    assert across == (2 * RUN_ROWS, 2)
    mean_age = duckdb.sql(f"select avg(age) from '{data}/*.parquet'").fetchall()[0][0]
    assert mean_age == pytest.approx(pd.read_parquet(data)["age"].mean())


# ------------------------------------------------------------------------------ refusals


def test_refuses_a_run_that_failed_its_enforced_privacy_gate(fitted, root, tmp_path):
    run = make_run(fitted, tmp_path / "leaky", enforced=True, passed=False)
    with pytest.raises(NotPublishableError, match="failed its enforced privacy gate "
                       r"\(membership_inference.auc_ci_upper\)"):
        publish(run, "adult", root)
    assert not (root / "adult").exists() or not any((root / "adult").iterdir())


def test_publishes_an_unenforced_gate_failure_and_records_it(fitted, root, tmp_path):
    run = make_run(fitted, tmp_path / "unenforced", enforced=False, passed=False)
    publish(run, "adult", root)
    gate = load_manifest("adult", root=root)["privacy"]["gate"]
    assert gate["enforced"] is False and gate["passed"] is False
    assert gate["failures"][0]["name"] == "membership_inference.auc_ci_upper"


@pytest.mark.parametrize(
    ("damage", "words"),
    [
        (lambda run: (run / "synthetic.parquet").unlink(), "lacks its synthetic rows"),
        (lambda run: (run / "model" / "model.safetensors").unlink(),
         r"lacks its model \(model/model.safetensors\)"),
        (lambda run: (run / "report.html").unlink(), "lacks report.html"),
        (lambda run: (run / "report.json").unlink(), "has no report.json"),
        (lambda run: (run / "synthetic.parquet").write_text("not parquet"),
         "not a readable Parquet file"),
        (lambda run: _edit_report(run, lambda r: r.pop("privacy_gate")),
         "has no privacy_gate verdict"),
        (lambda run: _edit_report(run, lambda r: r["files"].update(synthetic="synthetic.csv")),
         "lacks its synthetic rows"),
        (lambda run: _edit_report(run, lambda r: r["fit"].pop("epochs_run")),
         "not a report this synthvae writes .* first: fit.epochs_run: Field required"),
        (lambda run: shutil.rmtree(run), "run folder not found"),
    ],
    ids=["no-data", "no-model", "no-html", "no-report", "bad-parquet", "old-report", "csv",
         "not-a-report", "no-run"],
)
def test_refuses_a_run_missing_what_a_version_holds(run_dir, root, tmp_path, damage, words):
    run = tmp_path / "run"
    shutil.copytree(run_dir, run)
    damage(run)
    with pytest.raises(NotPublishableError, match=words):
        publish(run, "adult", root)
    leftovers = os.listdir(root / "adult") if (root / "adult").exists() else []
    assert leftovers == []  # no version, no staging folder


def _edit_report(run: Path, edit) -> None:
    report = json.loads((run / "report.json").read_text())
    edit(report)
    (run / "report.json").write_text(json.dumps(report))


@pytest.mark.parametrize("name", ["../escape", "a/b", "", ".hidden", "latest", "x" * 101])
def test_refuses_unsafe_dataset_names(run_dir, root, name):
    with pytest.raises(CatalogError, match="invalid dataset name"):
        publish(run_dir, name, root)


# ------------------------------------------------------------------------------- lookups


def test_unknown_dataset_and_version_list_what_exists(run_dir, root):
    with pytest.raises(NotFoundError,
                       match="the catalog is empty; publish a run with .*--publish adult"):
        load_manifest("adult", root=root)
    publish(run_dir, "adult", root)
    publish(run_dir, "adult", root)
    with pytest.raises(NotFoundError, match="unknown dataset 'census' .*datasets: adult"):
        versions("census", root)
    with pytest.raises(NotFoundError, match=r"no version '7' of dataset 'adult'; versions: "
                       r"1, 2 \(latest 2\)"):
        load_manifest("adult", "7", root)
    with pytest.raises(NotFoundError, match="no version 'newest'"):
        load_manifest("adult", "newest", root)


# ----------------------------------------------------------------------------- integrity


@pytest.mark.parametrize(
    ("target", "tamper", "words"),
    [
        ("data/synthetic.parquet", lambda p: p.write_bytes(p.read_bytes()[:-9] + b"X" * 9),
         "modified since publishing"),
        ("model/model.safetensors",
         lambda p: p.write_bytes(p.read_bytes()[:100] + b"\0" + p.read_bytes()[101:]),
         r"modified since publishing \(sha256"),
        ("model/synthesizer.json", lambda p: p.unlink(), "missing from the published version"),
        ("report.json", lambda p: p.write_text(p.read_text().replace("0.8", "0.99")),
         "modified since publishing"),
        ("manifest.json",
         lambda p: p.write_text(p.read_text().replace('"quality": 0.8', '"quality": 0.99')),
         "manifest was modified after publishing"),
        ("manifest.json", lambda p: p.write_text("{not json"), "unreadable manifest"),
        ("manifest.json", lambda p: p.unlink(), "missing from the published version"),
        ("data/extra.parquet", lambda p: shutil.copy(p.parent / "synthetic.parquet", p),
         "not part of the published version"),
    ],
    ids=["data", "model-bytes", "model-missing", "report", "manifest", "manifest-garbage",
         "manifest-missing", "added-file"],
)
def test_tampered_versions_fail_naming_the_file(run_dir, root, target, tamper, words):
    folder = publish(run_dir, "adult", root)
    path = folder / target
    os.chmod(path.parent, 0o755)
    if path.exists():
        writable(path)
    tamper(path)
    with pytest.raises(IntegrityError, match=words) as caught:
        load_manifest("adult", "latest", root)
    assert str(path) in str(caught.value)
    assert caught.value.path == path
    if target != "manifest.json":  # unverified, the damage goes unnoticed
        assert load_manifest("adult", "latest", root, verify=False)["version"] == "1"


def test_a_version_moved_to_another_number_is_caught(run_dir, root):
    publish(run_dir, "adult", root)
    os.chmod(root / "adult" / "1", 0o755)
    os.rename(root / "adult" / "1", root / "adult" / "5")
    with pytest.raises(IntegrityError, match="manifest is for adult/1, found in adult/5"):
        load_manifest("adult", "5", root)


# ---------------------------------------------------------------------------- atomicity


def test_a_crash_mid_publish_leaves_no_version_and_no_staging(run_dir, root, monkeypatch):
    real_copy, copies = catalog._copy_file, []

    def failing_copy(source, target):
        copies.append(target)
        if len(copies) == 3:
            raise OSError(28, "No space left on device")
        return real_copy(source, target)

    monkeypatch.setattr(catalog, "_copy_file", failing_copy)
    with pytest.raises(OSError, match="No space left"):
        publish(run_dir, "adult", root)
    monkeypatch.undo()
    assert os.listdir(root / "adult") == []
    assert publish(run_dir, "adult", root).name == "1"


def test_a_run_folder_replaced_while_publishing_is_refused(run_dir, root, tmp_path, monkeypatch):
    run = tmp_path / "run"
    shutil.copytree(run_dir, run)
    real_copy = catalog._copy_file

    def copy_then_swap(source, target):
        real_copy(source, target)
        if not (tmp_path / "old").exists():  # as atomic_dir swaps a rerun's folder in
            os.rename(run, tmp_path / "old")
            shutil.copytree(tmp_path / "old", run)

    monkeypatch.setattr(catalog, "_copy_file", copy_then_swap)
    with pytest.raises(CatalogError, match="was replaced while it was being published"):
        publish(run, "adult", root)
    assert os.listdir(root / "adult") == []


def test_two_publishers_racing_for_one_number_both_land(fitted, root, tmp_path, monkeypatch):
    """Both publishers pick the same next number (a barrier holds each until the other has
    picked): one rename wins, the other finds the number taken and takes the next."""
    runs = [make_run(fitted, tmp_path / f"run{i}", seed=i) for i in range(2)]
    barrier = threading.Barrier(2, timeout=30)
    real_next = catalog._next_version
    first_pick = threading.local()

    def next_version(dataset_dir):
        number = real_next(dataset_dir)
        if not getattr(first_pick, "done", False):
            first_pick.done = True
            barrier.wait()
        return number

    monkeypatch.setattr(catalog, "_next_version", next_version)
    results, errors = [], []

    def worker(run):
        try:
            results.append(publish(run, "adult", root))
        except BaseException as err:  # noqa: BLE001
            errors.append(err)

    threads = [threading.Thread(target=worker, args=(run,)) for run in runs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert sorted(p.name for p in results) == ["1", "2"]
    seeds = {load_manifest("adult", v, root)["seed"] for v in ("1", "2")}
    assert seeds == {0, 1}  # neither overwrote the other
    assert sorted(os.listdir(root / "adult")) == ["1", "2"]


def _publish_in_process(run, root, barrier, queue):
    barrier.wait()
    try:
        queue.put(str(publish(run, "adult", root)))
    except BaseException as err:  # noqa: BLE001
        queue.put(f"error: {err!r}")


def test_concurrent_processes_publish_distinct_complete_versions(fitted, root, tmp_path):
    runs = [make_run(fitted, tmp_path / f"run{i}", seed=i) for i in range(4)]
    context = multiprocessing.get_context("fork")
    barrier, queue = context.Barrier(len(runs)), context.Queue()
    processes = [context.Process(target=_publish_in_process, args=(run, root, barrier, queue))
                 for run in runs]
    for process in processes:
        process.start()
    results = sorted(queue.get(timeout=60) for _ in processes)
    for process in processes:
        process.join(30)
    assert [Path(r).name for r in results] == ["1", "2", "3", "4"], results
    assert sorted(load_manifest("adult", v, root)["seed"] for v in "1234") == [0, 1, 2, 3]
    assert sorted(os.listdir(root / "adult")) == ["1", "2", "3", "4"]
