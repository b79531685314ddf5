"""Many rows, fast and in constant memory: `Synthesizer.iter_sample`'s chunks drawn on several
threads at once, each checked against a schema, handed on in order.

Each chunk is drawn from its own seed (`iter_sample(start=...)`), so the rows are the very rows
of `iter_sample(n, random_state)` whatever the number of threads. A chunk's work is mostly
PyTorch, the numba kernel, NumPy and Arrow, which release the GIL: on 2 cores, two chunks at
a time with one thread each ran about 1.3x faster than one chunk at a time on both cores,
because the checks and conversions, which run on one core, then overlap the model.
(`iter_sample` on its own also draws chunks side by side, from two full chunks on; here each
chunk is also checked and converted on the thread that drew it, whatever the number of rows.)
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pyarrow
import torch

from .io import ordered_map, usable_cores
from .schema import TableSchema, validate
from .synthesizer import SAMPLE_CHUNK, Synthesizer


def to_arrow(df: pd.DataFrame, strings: list[str]) -> pyarrow.Table:
    """`df` as an Arrow table in which `strings` (categoricals that stand for columns of
    strings) stay dictionary-encoded, with pandas metadata that calls them strings: what
    `synthvae.io.write_table_stream` writes as the very file it writes for the same rows
    decoded as Python strings, without making a string per value."""
    table = pyarrow.Table.from_pandas(df, preserve_index=False)
    strings = [c for c in strings if pyarrow.types.is_dictionary(table.schema.field(c).type)]
    if not strings:
        return table
    meta = json.loads(table.schema.metadata[b"pandas"])
    for column in meta["columns"]:
        if column["name"] in strings:
            column.update(pandas_type="unicode", numpy_type="object", metadata=None)
    return table.replace_schema_metadata({**table.schema.metadata,
                                          b"pandas": json.dumps(meta).encode()})


def sample_stream(synthesizer: Synthesizer, n: int, *, random_state: int,
                  conditions: dict[str, Any] | None = None, start: int = 0,
                  schema: TableSchema | None = None, arrow: bool = False,
                  threads: int | None = None) -> Iterator[pd.DataFrame | pyarrow.Table]:
    """Rows start ... start + n - 1 of `synthesizer.iter_sample(start + n, random_state,
    conditions)`, in chunks of up to SAMPLE_CHUNK rows, in order. Each chunk is checked
    against `schema` (a SchemaViolation names rows by their place in the whole stream) and,
    with `arrow`, converted to a pyarrow Table (see `to_arrow`: columns of strings stay
    dictionary-encoded, for `synthvae.io.write_table_stream`), on the thread that drew it.

    `threads` (default: the cores this process may use) is the total thread budget: up to
    that many chunks are drawn at once, each by a one-thread PyTorch, or fewer chunks with
    more threads each when there are fewer chunks than threads. The arguments are checked
    here, before any chunk is drawn."""
    if not isinstance(random_state, int) or isinstance(random_state, bool):
        raise ValueError(f"random_state must be an integer, got {random_state!r}")
    synthesizer.iter_sample(n, random_state=random_state, conditions=conditions, start=start)
    synthesizer.model_.start_kernel_threads()
    budget = max(1, threads or usable_cores())
    workers = max(1, min(budget, -(-n // SAMPLE_CHUNK)))
    per_worker = max(1, budget // workers)

    strings = synthesizer.encoder_.category_columns if arrow else []

    def chunk(first: int) -> pd.DataFrame | pyarrow.Table:
        rows = min(SAMPLE_CHUNK, start + n - first)
        # For Arrow, string columns stay class codes until Arrow makes them strings: making a
        # Python string per value held the GIL, which kept two threads near 1.2x one.
        drawn = next(synthesizer.iter_sample(rows, random_state=random_state,
                                             conditions=conditions, start=first,
                                             as_category=arrow))
        if schema is not None:
            validate(drawn.set_axis(range(first, first + rows)), schema,
                     what="synthetic sample", as_category=arrow)
        return to_arrow(drawn, strings) if arrow else drawn

    return ordered_map(chunk, range(start, start + n, SAMPLE_CHUNK), workers,
                       setup=lambda: torch.set_num_threads(per_worker))
