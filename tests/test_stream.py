"""sample_stream: iter_sample's chunks drawn on several threads, checked, in order."""
import pandas as pd
import pyarrow
import pyarrow.parquet as pq
import pytest

from synthvae import Synthesizer
from synthvae.io import stored_schema, write_table_stream
from synthvae.schema import SchemaViolation, infer_schema
from synthvae.stream import sample_stream
from synthvae.synthesizer import SAMPLE_CHUNK
from test_synthesizer import ADULT, QUICK, generality_table


@pytest.fixture(scope="module")
def mixed() -> pd.DataFrame:
    return generality_table(pd.read_csv(ADULT).sample(1500, random_state=0).reset_index(drop=True))


@pytest.fixture(scope="module")
def model(mixed) -> Synthesizer:
    return Synthesizer(epochs=3, random_state=0, **QUICK).fit(mixed)


N = 2 * SAMPLE_CHUNK + 3_000  # three chunks, the last one short


@pytest.fixture(scope="module")
def one_process_rows(model) -> pd.DataFrame:
    return pd.concat(model.iter_sample(N, random_state=5), ignore_index=True)


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_any_number_of_threads_gives_the_rows_of_iter_sample(model, one_process_rows, threads):
    chunks = list(sample_stream(model, N, random_state=5, threads=threads))
    assert [len(c) for c in chunks] == [SAMPLE_CHUNK, SAMPLE_CHUNK, 3_000]
    pd.testing.assert_frame_equal(pd.concat(chunks, ignore_index=True), one_process_rows)


def test_a_stream_started_later_is_the_tail_of_the_whole(model, one_process_rows):
    tail = pd.concat(sample_stream(model, N - SAMPLE_CHUNK, random_state=5,
                                   start=SAMPLE_CHUNK, threads=2), ignore_index=True)
    pd.testing.assert_frame_equal(tail, one_process_rows.iloc[SAMPLE_CHUNK:].reset_index(drop=True))


def test_arrow_chunks_hold_the_same_rows(model, one_process_rows, mixed):
    tables = list(sample_stream(model, N, random_state=5, threads=2, arrow=True,
                                schema=infer_schema(mixed, "mixed")))
    assert all(isinstance(t, pyarrow.Table) for t in tables)
    back = pyarrow.concat_tables([t.cast(stored_schema(t.schema)) for t in tables]).to_pandas()
    assert list(back.columns) == list(mixed.columns)
    assert len(back) == N
    for name in ("age", "workclass", "row_id", "customer_id"):
        # Arrow gives string nulls back as None where the sampler has NaN: the same null
        ours, theirs = (s.astype(object).where(s.notna(), None)
                        for s in (back[name], one_process_rows[name]))
        pd.testing.assert_series_equal(ours, theirs)
    # string columns stay codes, Arrow dictionaries, all the way to the writer: as the
    # writer records them they must be from_pandas's own table of the strings
    assert model.encoder_.category_columns
    for i, table in enumerate(tables):
        rows = one_process_rows.iloc[i * SAMPLE_CHUNK:(i + 1) * SAMPLE_CHUNK]
        expected = pyarrow.Table.from_pandas(rows.reset_index(drop=True), preserve_index=False)
        assert table.cast(stored_schema(table.schema)).equals(expected, check_metadata=True)
        assert all(pyarrow.types.is_dictionary(table.schema.field(c).type)
                   for c in model.encoder_.category_columns)


def test_streamed_parquet_is_the_file_of_the_strings(model, one_process_rows, mixed, tmp_path):
    tables = sample_stream(model, N, random_state=5, threads=2, arrow=True,
                           schema=infer_schema(mixed, "mixed"))
    write_table_stream(tables, tmp_path / "stream.parquet", "parquet")
    pq.write_table(pyarrow.Table.from_pandas(one_process_rows, preserve_index=False),
                   tmp_path / "strings.parquet")
    streamed, strings = (pq.ParquetFile(tmp_path / name) for name in ("stream.parquet",
                                                                      "strings.parquet"))
    assert streamed.metadata.metadata == strings.metadata.metadata  # pandas + Arrow schema
    assert streamed.schema.equals(strings.schema)
    assert streamed.read().equals(strings.read(), check_metadata=True)
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "stream.parquet"),
                                  pd.read_parquet(tmp_path / "strings.parquet"))


def test_a_chunk_that_breaks_the_schema_is_named_by_its_rows_in_the_stream(model, mixed):
    schema = infer_schema(mixed, "mixed")
    schema.columns["age"].max = 30  # most drawn ages are older
    chunks = sample_stream(model, N, random_state=5, start=SAMPLE_CHUNK, schema=schema,
                           threads=2)
    with pytest.raises(SchemaViolation) as err:
        list(chunks)
    problem = next(p for p in err.value.problems if p["column"] == "age")
    rows = [e["row"] for e in problem["examples"]]
    assert rows and min(rows) >= SAMPLE_CHUNK  # counted from where the stream starts


@pytest.mark.parametrize("seed", [None, 1.5, True])
def test_the_seed_must_be_an_integer(model, seed):
    with pytest.raises(ValueError, match="random_state"):
        sample_stream(model, 10, random_state=seed)


def test_bad_arguments_are_refused_before_any_chunk_is_drawn(model):
    with pytest.raises(ValueError, match="start"):
        sample_stream(model, 10, random_state=0, start=7)
    with pytest.raises(ValueError, match="n must be"):
        sample_stream(model, -1, random_state=0)
