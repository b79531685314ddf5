"""Memory for large outputs: one DataFrame from a stream of chunks, in small pages.

`concat_chunks` copies each chunk into the result as it arrives and lets it go, so building
n rows needs the result plus one chunk, not the chunks plus their concatenation (2M sampled
flights: 1,091 MiB above the model instead of 1,800 MiB).

numpy advises the kernel to back every array over 4 MB with 2 MB pages. Where the kernel
compacts memory to find them when the pages are first touched (`defrag` set to `madvise`,
a common default), filling hundreds of MB of new memory stalls: on the CI machine a fresh
400 MB array took 0.72 s in 2 MB pages against 0.20 s in 4 KB pages, and one DataFrame of
1M sampled flights took 11% longer than ten of 100k (whose memory is reused). An output
written once, front to back, gains nothing from large pages, so `sample` builds its result
with the advice off. The switch is numpy's own (what `NUMPY_MADVISE_HUGEPAGE=0` sets at
import); where a numpy lacks it, nothing changes.

The gain depends on the machine's memory: where 2 MB pages come free without compaction, the
advice is faster (another machine of the same kind, assembling 1M sampled flights: 0.15-0.17 s
with it, 0.26-0.36 s without). It stays off because the stall it avoids (3.6x) is the larger.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterator

import numpy as np
import pandas as pd

try:
    from numpy._core.multiarray import _set_madvise_hugepage
except ImportError:  # numpy < 2
    try:
        from numpy.core.multiarray import _set_madvise_hugepage
    except ImportError:
        _set_madvise_hugepage = None

_lock = threading.Lock()
_holders = 0
_saved = True


@contextmanager
def small_pages() -> Iterator[None]:
    """Within the block, numpy's new arrays are not advised into 2 MB pages.

    The switch is process-wide, so overlapping blocks (threads) share it: the first to enter
    turns it off, the last to leave puts back what it found."""
    global _holders, _saved
    if _set_madvise_hugepage is None:
        yield
        return
    with _lock:
        if _holders == 0:
            _saved = bool(_set_madvise_hugepage(False))
        _holders += 1
    try:
        yield
    finally:
        with _lock:
            _holders -= 1
            if _holders == 0:
                _set_madvise_hugepage(_saved)


def hugepage_advice() -> bool | None:
    """Whether numpy advises 2 MB pages for large arrays now (None: it cannot say)."""
    if _set_madvise_hugepage is None:
        return None
    with _lock:
        current = bool(_set_madvise_hugepage(False))
        _set_madvise_hugepage(current)
    return current


def concat_chunks(chunks: Iterator[pd.DataFrame], n: int) -> pd.DataFrame:
    """`pd.concat(list(chunks), ignore_index=True)` for chunks of n rows in all, with the same
    columns and dtypes, holding one chunk at a time.

    Numpy columns are filled in place, one array each. Other dtypes (timezones, nullable
    integers, categoricals) are concatenated per column at the end; they are a table's few.
    Each column is its own pandas block: joining them would copy them all. Past 100 blocks
    pandas warns on every column a user adds, so wider tables are joined after all."""
    chunks = iter(chunks)
    chunk = next(chunks)
    columns = chunk.columns
    parts = [np.empty(n, dtype) if isinstance(dtype, np.dtype) else [] for dtype in chunk.dtypes]
    pos = 0
    while chunk is not None:
        m = len(chunk)
        if pos + m > n:
            raise ValueError(f"the chunks hold more than {n:,} rows")
        for j, into in enumerate(parts):
            if isinstance(into, list):
                into.append(chunk.iloc[:, j])
            else:  # casting="no": a chunk of another dtype is a decoder's bug, not a cast
                np.copyto(into[pos:pos + m], chunk.iloc[:, j].to_numpy(), casting="no")
        pos += m
        chunk = next(chunks, None)  # the last one is let go before the next is drawn
    if pos != n:
        raise ValueError(f"the chunks hold {pos:,} rows, not {n:,}")
    arrays = {j: into if isinstance(into, np.ndarray) else pd.concat(into, ignore_index=True)
              for j, into in enumerate(parts)}
    frame = pd.DataFrame(arrays, index=pd.RangeIndex(n), copy=len(parts) > 100)
    frame.columns = columns
    return frame
