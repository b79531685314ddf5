"""concat_chunks (one DataFrame from a stream, a chunk at a time) and small_pages."""
import threading
import warnings

import numpy as np
import pandas as pd
import pytest

from synthvae import Synthesizer
from synthvae.memory import concat_chunks, hugepage_advice, small_pages
from synthvae.synthesizer import SAMPLE_CHUNK
from test_synthesizer import ADULT, QUICK, generality_table


@pytest.fixture(scope="module")
def mixed() -> pd.DataFrame:
    """Adult with a column of every dtype a sample can hold, nulls included."""
    df = pd.read_csv(ADULT).head(3000)
    df["when"] = pd.date_range("2024-03-30", periods=len(df), freq="37min", tz="Europe/Paris")
    df["visits"] = pd.array(np.where(df.index % 7 == 0, None, df.index % 11), dtype="Int64")
    df["flag"] = df["sex"] == "Female"
    df["race"] = df["race"].astype("category")
    df["empty"] = pd.Series([None] * len(df), dtype=object)
    return df


def chunks_of(df: pd.DataFrame, sizes: list[int]) -> list[pd.DataFrame]:
    edges = np.cumsum([0, *sizes])
    return [df.iloc[a:b] for a, b in zip(edges, edges[1:])]


@pytest.mark.parametrize("sizes", [[3000], [1000, 1000, 1000], [1024, 1976], [1, 2998, 1]])
def test_same_frame_as_pandas_concat(mixed, sizes):
    expected = pd.concat(chunks_of(mixed, sizes), ignore_index=True)
    got = concat_chunks(iter(chunks_of(mixed, sizes)), len(mixed))
    pd.testing.assert_frame_equal(got, expected, check_exact=True, check_column_type=True,
                                  check_index_type=True)
    assert list(got.dtypes) == list(mixed.dtypes)


def test_labels_that_are_not_strings_or_repeat(mixed):
    df = mixed.iloc[:, :4].copy()
    df.columns = [3, "a", 3, (1, 2)]
    got = concat_chunks(iter(chunks_of(df, [1500, 1500])), len(df))
    pd.testing.assert_frame_equal(got, df.reset_index(drop=True), check_column_type=True)


def test_a_wide_frame_takes_new_columns_without_a_warning():
    wide = pd.DataFrame(np.arange(2 * 150, dtype=float).reshape(2, 150))
    got = concat_chunks(iter([wide, wide]), 4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # pandas' PerformanceWarning past 100 blocks
        got["new"] = 1.0
    assert got.shape == (4, 151)


def test_wrong_row_counts_and_changed_dtypes_raise(mixed):
    two = chunks_of(mixed, [1500, 1500])
    with pytest.raises(ValueError, match="3,000 rows, not 3,001"):
        concat_chunks(iter(two), 3001)
    with pytest.raises(ValueError, match="more than 2,999 rows"):
        concat_chunks(iter(two), 2999)
    later = two[1].astype({"age": float})
    with pytest.raises(TypeError):  # never cast silently
        concat_chunks(iter([two[0], later]), 3000)


def test_sample_is_its_stream_joined():
    table = generality_table(pd.read_csv(ADULT).head(1500))
    model = Synthesizer(epochs=2, random_state=0, **QUICK).fit(table)
    n = SAMPLE_CHUNK + 5_000  # two chunks: sample joins them itself
    expected = pd.concat(model.iter_sample(n, random_state=3), ignore_index=True)
    before = hugepage_advice()
    got = model.sample(n, random_state=3)
    pd.testing.assert_frame_equal(got, expected, check_exact=True, check_column_type=True,
                                  check_index_type=True)
    assert hugepage_advice() == before


def test_small_pages_turns_the_advice_off_and_puts_it_back():
    if hugepage_advice() is None:
        pytest.skip("this numpy has no switch for its page advice")
    before = hugepage_advice()
    with small_pages():
        assert hugepage_advice() is False
        with small_pages():
            assert hugepage_advice() is False
        assert hugepage_advice() is False  # the outer block still holds it
    assert hugepage_advice() == before


def test_small_pages_from_threads_leaves_the_advice_as_found():
    if hugepage_advice() is None:
        pytest.skip("this numpy has no switch for its page advice")
    before = hugepage_advice()
    inside = threading.Barrier(4)

    def work():
        with small_pages():
            inside.wait(timeout=10)  # all four inside at once, then out in any order
            np.ones(3_000_000)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert hugepage_advice() == before
