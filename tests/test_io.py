import os
import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from synthvae.io import (
    InputError,
    atomic_dir,
    atomic_write_bytes,
    atomic_write_text,
    read_table,
    write_table,
)

ROOT = Path(__file__).resolve().parents[1]
ADULT = ROOT / "data" / "adult.csv.gz"


@pytest.fixture(scope="module")
def adult() -> pd.DataFrame:
    return read_table(ADULT)


def test_read_csv_gz_keeps_pandas_defaults(adult):
    assert adult.shape == (32561, 15)
    assert adult["age"].dtype == "int64"
    assert adult["workclass"].dtype == object
    assert adult["workclass"].isna().sum() == 1836  # empty cells are NaN, rows are kept


@pytest.mark.parametrize(("name", "format"), [("t.parquet", "parquet"), ("t.csv", "csv")])
def test_written_table_reads_back_identical(adult, tmp_path, name, format):
    sample = adult.head(500)
    path = write_table(sample, tmp_path / name, format)
    pd.testing.assert_frame_equal(read_table(path), sample)
    assert [p.name for p in tmp_path.iterdir()] == [name]  # no temporary files left behind


def test_csv_gz_is_written_gzipped(adult, tmp_path):
    path = write_table(adult.head(20), tmp_path / "t.csv.gz", "csv")
    assert gzip.open(path, "rt").readline().startswith("age,workclass")
    pd.testing.assert_frame_equal(read_table(path), adult.head(20))


def test_unknown_write_format_is_refused(adult, tmp_path):
    with pytest.raises(InputError, match="use one of: parquet, csv"):
        write_table(adult.head(5), tmp_path / "t.xlsx", "xlsx")


def test_missing_file_is_named(tmp_path):
    missing = tmp_path / "nope.csv"
    with pytest.raises(InputError, match=f"^input file not found: {missing}$"):
        read_table(missing)


def test_unknown_suffix_lists_supported_formats(tmp_path):
    path = tmp_path / "table.xlsx"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(InputError, match=r"expected one of \.csv, \.csv\.gz, \.parquet"):
        read_table(path)


def test_corrupt_parquet_is_a_one_line_input_error(tmp_path):
    path = tmp_path / "broken.parquet"
    path.write_bytes(b"PAR1 this is not really parquet")
    with pytest.raises(InputError, match="could not read Parquet") as caught:
        read_table(path)
    assert "\n" not in str(caught.value)


def test_corrupt_gzip_csv_is_a_one_line_input_error(tmp_path):
    path = tmp_path / "broken.csv.gz"
    path.write_bytes(ADULT.read_bytes()[:2000])  # truncated mid-stream
    with pytest.raises(InputError, match="could not read CSV") as caught:
        read_table(path)
    assert "\n" not in str(caught.value)


def test_ragged_csv_is_refused_not_truncated(tmp_path):
    path = tmp_path / "ragged.csv"
    path.write_text("a,b\n1,2\n3,4,5\n")
    with pytest.raises(InputError, match="could not read CSV.*ParserError"):
        read_table(path)


@pytest.mark.parametrize(
    ("content", "expected"), [("", "no columns"), ("a,b\n", "0 rows")]
)
def test_empty_csv_is_refused(tmp_path, content, expected):
    path = tmp_path / "empty.csv"
    path.write_text(content)
    with pytest.raises(InputError, match=f"input table is empty.*{expected}"):
        read_table(path)


def test_duplicate_column_names_are_refused_not_renamed(tmp_path):
    path = tmp_path / "dupes.csv"
    path.write_text("a,b,a\n1,2,3\n")
    with pytest.raises(InputError, match="duplicate column names: 'a'"):
        read_table(path)


def test_atomic_dir_replaces_existing_folder_on_success(tmp_path):
    final = tmp_path / "model"
    final.mkdir()
    (final / "old.txt").write_text("old")

    with atomic_dir(final) as work:
        assert work.parent == tmp_path and work.name.startswith(".model.tmp-")
        (work / "new.txt").write_text("new")
        assert (final / "old.txt").exists()  # the old version stays readable meanwhile

    assert sorted(p.name for p in final.iterdir()) == ["new.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["model"]


def test_atomic_dir_leaves_nothing_on_exception(tmp_path):
    final = tmp_path / "model"
    final.mkdir()
    (final / "old.txt").write_text("old")

    with pytest.raises(RuntimeError, match="training crashed"):
        with atomic_dir(final) as work:
            (work / "half.txt").write_text("half")
            raise RuntimeError("training crashed")

    assert [p.name for p in tmp_path.iterdir()] == ["model"]
    assert [p.name for p in final.iterdir()] == ["old.txt"]


def test_atomic_dir_creates_a_new_folder(tmp_path):
    with atomic_dir(tmp_path / "out" / "run1") as work:
        (work / "a.txt").write_text("a")
    assert (tmp_path / "out" / "run1" / "a.txt").read_text() == "a"
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["run1"]


def test_atomic_write_replaces_file_without_leftovers(tmp_path):
    path = tmp_path / "report.md"
    atomic_write_text(path, "first")
    atomic_write_bytes(path, b"second")
    assert path.read_bytes() == b"second"
    assert path.stat().st_mode & 0o777 == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["report.md"]


def test_atomic_dir_output_follows_the_umask_not_mkdtemp_0700(tmp_path):
    final = tmp_path / "out"
    with atomic_dir(final) as staging:
        (staging / "a.txt").write_text("x")
    mode = final.stat().st_mode & 0o777
    mask = os.umask(0)
    os.umask(mask)
    assert mode == 0o777 & ~mask


def test_write_table_stream_writes_one_table_chunk_by_chunk(tmp_path):
    from synthvae.io import read_table_head, write_table_stream
    chunks = [pd.DataFrame({"a": np.arange(i, i + 5), "b": list("vwxyz")}) for i in (0, 5, 10)]
    for name, fmt in (("t.parquet", "parquet"), ("t.csv", "csv"), ("t.csv.gz", "csv")):
        path, rows = write_table_stream(iter(chunks), tmp_path / name, fmt)
        assert rows == 15
        back = read_table(path)
        pd.testing.assert_frame_equal(back, pd.concat(chunks, ignore_index=True))
        pd.testing.assert_frame_equal(read_table_head(path, 7), back.head(7))


def test_dictionary_encoded_strings_are_written_as_the_file_of_the_strings(tmp_path):
    import pyarrow
    import pyarrow.parquet as pq
    from synthvae.io import write_table_stream
    from synthvae.stream import to_arrow
    frame = pd.DataFrame({
        "s": pd.Categorical(["a", "b", None, "a"]),  # strings, carried as codes
        "c": pd.Categorical(["u", "v", "u", "u"]),  # a real categorical: stays one
        "t": pd.date_range("2020", periods=4, tz="Europe/Paris"),
        "n": pd.array([1, None, 3, 4], dtype="Int64"), "b": [True, False, True, True],
        "id": ["x1", "x2", "x3", "x4"], "f": [0.5, np.nan, 1.5, 2.0]})
    strings = frame.assign(s=frame["s"].astype(object).where(frame["s"].notna(), None))
    write_table_stream([to_arrow(frame, ["s"])] * 3, tmp_path / "codes.parquet", "parquet")
    pq.write_table(pyarrow.Table.from_pandas(pd.concat([strings] * 3, ignore_index=True),
                                             preserve_index=False), tmp_path / "plain.parquet")
    codes, plain = (pq.ParquetFile(tmp_path / f"{name}.parquet") for name in ("codes", "plain"))
    assert codes.metadata.metadata == plain.metadata.metadata
    assert codes.read().equals(plain.read(), check_metadata=True)
    back = pd.read_parquet(tmp_path / "codes.parquet")
    assert back["s"].dtype == object and back["c"].dtype == "category"
    pd.testing.assert_frame_equal(back, pd.read_parquet(tmp_path / "plain.parquet"))


def test_write_table_stream_dictionary_encodes_only_repetitive_columns(tmp_path):
    import pyarrow.parquet as pq
    from synthvae.io import write_table_stream
    rows = np.arange(1000)
    chunk = pd.DataFrame({"unique": rows * 7919, "few": rows % 10, "text": (rows % 3).astype(str),
                          "empty": [None] * len(rows)})  # Arrow's null type: no distinct count
    write_table_stream([chunk, chunk], tmp_path / "t.parquet", "parquet")
    group = pq.ParquetFile(tmp_path / "t.parquet").metadata.row_group(1)
    encodings = {group.column(i).path_in_schema: group.column(i).encodings for i in range(3)}
    assert "RLE_DICTIONARY" not in encodings["unique"]
    assert "RLE_DICTIONARY" in encodings["few"] and "RLE_DICTIONARY" in encodings["text"]
    back = read_table(tmp_path / "t.parquet")
    assert back["empty"].isna().all()
    both = pd.concat([chunk, chunk], ignore_index=True)
    pd.testing.assert_frame_equal(back.drop(columns="empty"), both.drop(columns="empty"))


def test_write_table_stream_leaves_nothing_when_the_stream_fails(tmp_path):
    from synthvae.io import write_table_stream

    def failing():
        yield pd.DataFrame({"a": [1, 2]})
        raise RuntimeError("boom")
    target = tmp_path / "out.parquet"
    with pytest.raises(RuntimeError, match="boom"):
        write_table_stream(failing(), target, "parquet")
    assert list(tmp_path.iterdir()) == []


def test_write_table_stream_fails_early_when_the_disk_is_too_small(tmp_path, monkeypatch):
    import shutil
    from collections import namedtuple

    from synthvae.io import write_table_stream
    produced = []

    def chunks():
        for i in range(1000):
            produced.append(i)
            yield pd.DataFrame({"a": np.arange(1000) + i * 1000, "b": ["text"] * 1000})
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda _: usage(10**9, 10**9 - 50_000, 50_000))
    with pytest.raises(InputError, match="not enough disk space for 1,000,000 rows"):
        write_table_stream(chunks(), tmp_path / "big.parquet", "parquet", expected_rows=1_000_000)
    assert len(produced) == 1  # stopped after the first chunk
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------ ordered_map
def test_ordered_map_keeps_the_order_whatever_finishes_first():
    import random
    import time

    from synthvae.io import ordered_map

    def slow_square(i):
        time.sleep(random.Random(i).random() / 200)
        return i * i
    assert list(ordered_map(slow_square, range(40), workers=4)) == [i * i for i in range(40)]


def test_ordered_map_raises_an_error_at_its_place_in_the_order():
    from synthvae.io import ordered_map

    def fail_at_5(i):
        if i == 5:
            raise KeyError("five")
        return i
    got = []
    with pytest.raises(KeyError, match="five"):
        for x in ordered_map(fail_at_5, range(20), workers=3):
            got.append(x)
    assert got == [0, 1, 2, 3, 4]


def test_ordered_map_stops_early_and_runs_setup_once_per_thread():
    import threading

    from synthvae.io import ordered_map
    calls, setups, lock = [], [], threading.Lock()

    def record(i):
        with lock:
            calls.append(i)
        return i

    def setup():
        with lock:
            setups.append(threading.get_ident())
    for x in ordered_map(record, range(1000), workers=2, depth=2, setup=setup):
        if x == 3:
            break
    assert len(calls) <= 4 + 2 * 2  # the lookahead, not the whole range
    assert len(setups) == len(set(setups)) <= 2


IO_DATA = ROOT / "tests" / "data" / "io"


def test_leading_zero_codes_stay_strings_of_their_width():
    towns = read_table(IO_DATA / "new_england_zips.csv")
    assert towns["zip"].dtype == object
    assert towns["zip"].head(3).tolist() == ["04401", "04101", "04330"]
    assert towns.loc[towns["town"] == "Holtsville", "zip"].item() == "00501"
    assert towns["zip"].isna().sum() == 1  # an empty cell is still a null, not ""
    assert towns["population"].dtype == "float64"  # numbers with gaps stay pandas' floats


def test_leading_zero_codes_survive_a_csv_round_trip_and_a_head_read(tmp_path):
    from synthvae.io import read_table_head

    towns = read_table(IO_DATA / "new_england_zips.csv")
    path = write_table(towns, tmp_path / "towns.csv", "csv")
    pd.testing.assert_frame_equal(read_table(path), towns)
    assert read_table_head(path, 3)["zip"].tolist() == ["04401", "04101", "04330"]


def test_whole_numbers_beyond_2_53_with_gaps_are_read_exactly(tmp_path):
    path = tmp_path / "tweets.csv"
    path.write_text("reply_to,likes\n9007199254740993,1\n,2\n291945326338781185,3\n")
    table = read_table(path)
    assert table["reply_to"].dtype == "Int64"
    assert table["reply_to"].tolist()[::2] == [9007199254740993, 291945326338781185]
    assert table["reply_to"].isna().tolist() == [False, True, False]
    assert table["likes"].dtype == "int64"


def test_whole_numbers_beyond_int64_are_kept_as_exact_text(tmp_path):
    path = tmp_path / "hashes.csv"
    path.write_text("h,n\n18446744073709551615,1\n5,2\n")
    assert read_table(path)["h"].tolist() == ["18446744073709551615", "5"]


def test_semicolon_separated_cp1252_table_is_read_whole(caplog, tmp_path):
    path = tmp_path / "pets.csv"  # a path of its own: the encoding is told once per file
    path.write_bytes((IO_DATA / "seattlepets_cp1252_semicolon.csv").read_bytes())
    with caplog.at_level("WARNING", logger="synthvae.io"):
        pets = read_table(path)
        read_table(path)
    assert pets.columns.tolist() == ["license_issue_date", "license_number", "animal_name",
                                     "species", "primary_breed", "secondary_breed", "zip_code"]
    assert pets.shape == (126, 7)
    assert {"Jóna", "Benjamón", "Schrödie", "Zoë"} <= set(pets["animal_name"])
    assert "Retriever, Golden" in set(pets["primary_breed"])  # a comma inside a field is text
    assert "not UTF-8: read it as cp1252" in caplog.text and "nothing is lost" in caplog.text
    assert caplog.text.count("not UTF-8") == 1  # a run reads its input more than once


def test_same_table_reads_alike_as_utf8_commas_and_cp1252_semicolons(tmp_path):
    pets = read_table(IO_DATA / "seattlepets_cp1252_semicolon.csv")
    comma = write_table(pets, tmp_path / "pets.csv", "csv")
    pd.testing.assert_frame_equal(read_table(comma), pets)


@pytest.mark.parametrize("delimiter", ["\t", "|"])
def test_tab_and_pipe_separated_tables_are_sniffed(tmp_path, delimiter):
    path = tmp_path / "t.csv"
    path.write_text(delimiter.join(["a", "b", "c"]) + "\n"
                    + "\n".join(delimiter.join([str(i), "x y", "2.5"]) for i in range(5)) + "\n")
    table = read_table(path)
    assert table.columns.tolist() == ["a", "b", "c"]
    assert table["a"].dtype == "int64" and table["c"].dtype == "float64"


def test_commas_stay_the_delimiter_when_text_holds_semicolons(tmp_path):
    path = tmp_path / "notes.csv"
    path.write_text("note,n\n" + "".join(f"\"a; b; c\",{i}\n" for i in range(10)))
    table = read_table(path)
    assert table.columns.tolist() == ["note", "n"]
    assert table["note"].iloc[0] == "a; b; c"


def test_empty_header_name_is_refused_naming_its_position(tmp_path):
    path = tmp_path / "unnamed.csv"
    path.write_text("a,,c\n1,2,3\n")
    with pytest.raises(InputError, match=r"^input table .* has no name for column 2 of 3 "
                                         r"\(counting from 1\)"):
        read_table(path)


def test_a_leading_zero_past_the_first_chunk_of_text_still_keeps_the_column_text(
        tmp_path, monkeypatch):
    monkeypatch.setattr("synthvae.io._TEXT_CHUNK_ROWS", 2)  # the text is checked 2 rows a time
    path = tmp_path / "codes.csv"
    path.write_text("code,n\n98101,1\n98102,2\n98103,3\n,4\n00501,5\n")
    table = read_table(path)
    assert table["code"].tolist()[:3] + table["code"].tolist()[4:] == ["98101", "98102", "98103",
                                                                       "00501"]
    assert table["n"].dtype == "int64"
