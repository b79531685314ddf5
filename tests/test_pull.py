"""flows.pull and flows.catalog: QA files and listings from a published catalog.

Most tests call the commands' `main` in-process; two run them as a user does, in a fresh
process, for the real exit codes and timings.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from flows import catalog as catalog_cli
from flows import pull
from synthvae.catalog import load_manifest, publish
from synthvae.io import read_table
from test_catalog import RUN_ROWS, fitted, make_run  # noqa: F401  (a fixture)

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def root(fitted, tmp_path_factory) -> Path:  # noqa: F811
    """A catalog with adult v1 (seed 0, gate passed) and v2 (seed 1, unenforced gate failed),
    and census v1."""
    runs, root = tmp_path_factory.mktemp("runs"), tmp_path_factory.mktemp("catalog")
    publish(make_run(fitted, runs / "a1", seed=0), "adult", root)
    publish(make_run(fitted, runs / "a2", seed=1, passed=False, quality=0.7), "adult", root)
    publish(make_run(fitted, runs / "c1", seed=2, quality=0.9), "census", root)
    return root


def run_pull(root: Path, *args, capsys) -> tuple[int, str, str]:
    code = pull.main(["--catalog", str(root), *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


# --------------------------------------------------------------------------------- slices


def test_first_rows_of_the_latest_version(root, tmp_path, capsys):
    out = tmp_path / "qa.csv"
    code, printed, _ = run_pull(root, "--dataset", "adult", "--rows", 100, "--out", out,
                                capsys=capsys)
    assert code == 0
    published = read_table(root / "adult" / "2" / "data" / "synthetic.parquet")
    pulled = read_table(out)
    assert len(pulled) == 100
    pd.testing.assert_frame_equal(pulled, read_table(_as_csv(published.iloc[:100], tmp_path)))
    assert f"Wrote 100 rows to {out} (csv): first of adult v2's {RUN_ROWS} published rows" \
        in printed
    assert "privacy gate FAILED (not enforced)" in printed
    assert not list(tmp_path.glob(".qa.csv.tmp-*"))  # written atomically


def _as_csv(frame: pd.DataFrame, folder: Path) -> Path:
    path = folder / "expected.csv"
    frame.to_csv(path, index=False)
    return path


def test_a_random_slice_is_seeded_and_keeps_published_rows(root, tmp_path, capsys):
    args = ("--dataset", "adult", "--version", "1", "--rows", 50, "--pick", "random")
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        assert run_pull(root, *args, "--seed", seed, "--out", tmp_path / f"{name}.parquet",
                        capsys=capsys)[0] == 0
    a, b, c = (pd.read_parquet(tmp_path / f"{n}.parquet") for n in "abc")
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(c)
    published = pd.read_parquet(root / "adult" / "1" / "data")
    merged = a.merge(published.drop_duplicates(), how="left", indicator=True)
    assert (merged["_merge"] == "both").all()


def test_default_name_rows_and_format(root, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert run_pull(root, "--dataset", "census", capsys=capsys)[0] == 0
    assert len(pd.read_parquet(tmp_path / f"census-v1-{RUN_ROWS}.parquet")) == RUN_ROWS
    assert run_pull(root, "--dataset", "census", "--rows", 10, "--out", "x.csv.gz",
                    capsys=capsys)[0] == 0
    assert len(pd.read_csv(tmp_path / "x.csv.gz")) == 10


# ---------------------------------------------------------------------------- fresh rows


def test_fresh_rows_are_reproducible_with_the_seed(root, tmp_path, capsys):
    args = ("--dataset", "adult", "--version", "1", "--fresh", "--rows", 1000)
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        code, printed, _ = run_pull(root, *args, "--seed", seed, "--out",
                                    tmp_path / f"{name}.parquet", capsys=capsys)
        assert code == 0
    a, b, c = (pd.read_parquet(tmp_path / f"{n}.parquet") for n in "abc")
    assert len(a) == 1000  # more rows than the version published
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(c)
    model_id = load_manifest("adult", "1", root)["model"]["id"]
    assert f"drawn from adult v1's model (id {model_id[:12]}…, seed 6)" in printed


def test_where_draws_rows_meeting_every_condition(root, tmp_path, capsys):
    out = tmp_path / "rich.csv"
    code, printed, err = run_pull(root, "--dataset", "adult", "--rows", 200, "--where",
                                  "income=>50K", "--where", "age=30..40", "--out", out,
                                  capsys=capsys)
    assert code == 0, err
    rows = pd.read_csv(out)
    assert len(rows) == 200
    assert (rows["income"] == ">50K").all()
    assert rows["age"].between(30, 40).all()
    assert "where income=>50K and age=30..40" in printed


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("--dataset", "nope"), "unknown dataset 'nope' in catalog .*; datasets: adult, census"),
        (("--dataset", "adult", "--version", "9"),
         r"no version '9' of dataset 'adult'; versions: 1, 2 \(latest 2\)"),
        (("--dataset", "adult", "--rows", 5000),
         "adult v2 published 300 rows; ask for at most that many, or add --fresh"),
        (("--dataset", "adult", "--where", "colour=red"), "--where: .*colour"),
        (("--dataset", "adult", "--where", "income"), "--where: condition 'income' is not"),
        (("--dataset", "adult", "--out", "x.csv", "--format", "parquet"),
         "--format parquet does not match --out x.csv"),
    ],
    ids=["dataset", "version", "too-many", "where-column", "where-syntax", "format"],
)
def test_bad_input_is_one_line_and_exit_2(root, tmp_path, capsys, monkeypatch, args, words):
    monkeypatch.chdir(tmp_path)
    code, printed, err = run_pull(root, *args, capsys=capsys)
    assert code == 2 and printed == ""
    assert err.startswith("error: ") and err.count("\n") == 1
    assert re.search(words, err), err
    assert os.listdir(tmp_path) == []


def test_tampered_files_stop_the_pull_naming_the_file(fitted, tmp_path, capsys):  # noqa: F811
    root = tmp_path / "catalog"
    folder = publish(make_run(fitted, tmp_path / "run"), "adult", root)
    model = folder / "model" / "model.safetensors"
    os.chmod(model.parent, 0o755)
    os.chmod(model, 0o644)
    data = bytearray(model.read_bytes())
    data[-1] ^= 1
    model.write_bytes(bytes(data))
    for extra in ((), ("--fresh",)):
        code, printed, err = run_pull(root, "--dataset", "adult", *extra, "--out",
                                      tmp_path / "qa.csv", capsys=capsys)
        assert code == 2 and printed == ""
        assert f"error: {model}: modified since publishing" in err
    assert not (tmp_path / "qa.csv").exists()


# ------------------------------------------------------------------------ flows.catalog


def run_catalog(root: Path, *args, capsys) -> tuple[int, str, str]:
    code = catalog_cli.main(["--catalog", str(root), *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def test_catalog_list_and_show(root, capsys):
    code, printed, _ = run_catalog(root, "list", capsys=capsys)
    assert code == 0
    lines = printed.splitlines()
    assert lines[0] == f"catalog {root}: 2 datasets"
    assert lines[1].split()[:3] == ["dataset", "versions", "latest"]
    assert lines[2].split()[:3] == ["adult", "2", "2"]
    assert "0.700" in lines[2] and "FAILED (not enforced)" in lines[2] and lines[2].endswith("ok")
    assert lines[3].split()[:3] == ["census", "1", "1"] and "passed (not enforced)" in lines[3]

    code, printed, _ = run_catalog(root, "show", "adult", "--version", "1", capsys=capsys)
    assert code == 0
    assert printed.startswith("adult version 1, published ")
    for words in ("rows      300 in data/synthetic.parquet", "quality   0.800",
                  "gate passed (not enforced)", "DCR ratio 1.050",
                  "membership-inference AUC 0.510 (upper bound 0.530",
                  "highest attack-risk upper bound 0.050",
                  "verified against manifest.json", "versions  1, 2"):
        assert words in printed, words
    code, printed, _ = run_catalog(root, "show", "adult", capsys=capsys)
    assert "adult version 2 (latest)" in printed
    assert "gate FAILED (not enforced): membership_inference.auc_ci_upper = 0.700" in printed

    code, printed, _ = run_catalog(root, "show", "adult", "--json", capsys=capsys)
    assert json.loads(printed)["version"] == "2"
    code, printed, _ = run_catalog(root, "list", "--json", capsys=capsys)
    assert [r["dataset"] for r in json.loads(printed)] == ["adult", "census"]


def test_catalog_verify_and_errors(fitted, tmp_path, capsys):  # noqa: F811
    root = tmp_path / "catalog"
    publish(make_run(fitted, tmp_path / "run"), "adult", root)
    folder = publish(tmp_path / "run", "adult", root)
    assert run_catalog(root, "verify", capsys=capsys)[1].splitlines() == [
        "adult v1: ok", "adult v2: ok", "2 of 2 versions verified"]
    report = folder / "report.json"
    os.chmod(folder, 0o755)
    os.chmod(report, 0o644)
    report.write_text("{}")
    code, printed, _ = run_catalog(root, "verify", capsys=capsys)
    assert code == 2 and f"adult v2: FAILED: {report}: modified since publishing" in printed
    code, printed, _ = run_catalog(root, "list", capsys=capsys)
    assert code == 0 and "FAILED: " in printed
    code, _, err = run_catalog(root, "show", "adult", capsys=capsys)
    assert code == 2 and str(report) in err
    code, _, err = run_catalog(root, "show", "census", capsys=capsys)
    assert code == 2 and "unknown dataset 'census'" in err and "datasets: adult" in err


# ------------------------------------------------------------------- as a user runs them


def test_command_lines_in_a_fresh_process(root, tmp_path):
    env = {**os.environ, "SYNTHVAE_CATALOG": str(root), "OMP_NUM_THREADS": "1"}
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "flows.pull", "--dataset", "adult", "--fresh", "--rows", "5000",
         "--seed", "1", "--format", "csv", "--out", tmp_path / "qa.csv"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)
    seconds = time.perf_counter() - started
    assert result.returncode == 0, result.stderr
    assert len(pd.read_csv(tmp_path / "qa.csv")) == 5000
    assert seconds < 30, seconds  # seconds, not a Prefect server's start-up
    assert "prefect" not in result.stderr.lower()

    result = subprocess.run([sys.executable, "-m", "flows.pull", "--dataset", "adlt"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
                            check=False)
    assert result.returncode == 2
    assert result.stderr.startswith("error: unknown dataset 'adlt'")
    assert "datasets: adult, census" in result.stderr

    result = subprocess.run([sys.executable, "-m", "flows.catalog", "list"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0 and f"catalog {root}: 2 datasets" in result.stdout
