"""Sharded sampling on a local Dask cluster: the same rows as one process, in parts."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from flows.shards import shard_plan
from synthvae import Synthesizer
from synthvae.io import InputError, read_table, read_table_head, table_parts
from synthvae.synthesizer import SAMPLE_CHUNK

ROOT = Path(__file__).resolve().parents[1]


def test_shard_plan_covers_every_row_once_on_the_chunk_grid():
    plan = shard_plan(3 * SAMPLE_CHUNK + 10, 2 * SAMPLE_CHUNK)
    assert plan == [(0, 0, 2 * SAMPLE_CHUNK), (1, 2 * SAMPLE_CHUNK, SAMPLE_CHUNK + 10)]
    assert shard_plan(5, 2 * SAMPLE_CHUNK) == [(0, 0, 5)]


@pytest.mark.parametrize("shard_rows", [0, 1000, SAMPLE_CHUNK + 1])
def test_shard_rows_off_the_chunk_grid_are_refused(shard_rows):
    with pytest.raises(InputError, match="multiple of 65,536"):
        shard_plan(10, shard_rows)


@pytest.fixture(scope="module")
def small_model(tmp_path_factory) -> Path:
    table = read_table(ROOT / "data" / "adult.csv.gz").head(2_000)
    path = tmp_path_factory.mktemp("model") / "model"
    Synthesizer(epochs=2, random_state=0).fit(table).save(path)
    return path


def test_two_dask_workers_write_the_rows_one_process_writes(run_cli, small_model, tmp_path):
    rows = 2 * SAMPLE_CHUNK + 4_000  # three shards of one chunk: both workers get work
    common = ["--model", small_model, "--rows", rows, "--seed", 5]
    single = run_cli("flows.generate", *common, "--output", tmp_path / "single")
    assert single.returncode == 0, single.stderr[-3000:]
    sharded = run_cli("flows.generate", *common, "--workers", 2, "--shard-rows", SAMPLE_CHUNK,
                      "--output", tmp_path / "sharded")
    assert sharded.returncode == 0, sharded.stderr[-3000:]
    assert "sharded: 3 parts" in sharded.stdout

    parts = table_parts(tmp_path / "sharded" / "synthetic.parquet")
    assert [p.name for p in parts] == [f"part-0000{i}.parquet" for i in range(3)]
    assert [len(pd.read_parquet(p)) for p in parts] == [SAMPLE_CHUNK, SAMPLE_CHUNK, 4_000]
    whole = pd.read_parquet(tmp_path / "single" / "synthetic.parquet")
    pd.testing.assert_frame_equal(
        pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True), whole)
    report = json.loads((tmp_path / "sharded" / "report.json").read_text())
    assert report["sharding"]["shards"] == 3 and 1 <= report["sharding"]["workers"] <= 2
    assert report["rows_scored"]["synthetic"] == rows  # scored on the parts, read as one table
    # the parts folder reads as one table, in order
    pd.testing.assert_frame_equal(
        read_table_head(tmp_path / "sharded" / "synthetic.parquet", SAMPLE_CHUNK + 5),
        whole.head(SAMPLE_CHUNK + 5))


@pytest.mark.parametrize("args, words", [
    (["--workers", "0"], "must be a positive integer"),
    (["--workers", "2", "--dask-address", "tcp://127.0.0.1:8786"], "give one of them"),
    (["--dask-address", "127.0.0.1:8786"], "must look like tcp://HOST:PORT"),
    (["--dask-address", "tcp://127.0.0.1:8786"], "needs a Prefect server"),
    (["--workers", "2", "--shard-rows", "1000"], "multiple of 65,536"),
    (["--workers", "2", "--publish", "adult"], "--publish needs the rows as one file"),
])
def test_bad_sharding_options_fail_with_a_clear_error(run_cli, small_model, tmp_path, args, words):
    result = run_cli("flows.generate", "--model", small_model, "--rows", 10, *args,
                     "--output", tmp_path / "out")
    assert result.returncode == 2, result.stderr[-2000:]
    assert words in result.stderr
    assert not (tmp_path / "out").exists()
