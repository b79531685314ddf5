"""Reading and writing tables and output folders, with one-line errors a user can act on.

Every write here is atomic (temporary sibling + rename), so a crash or Ctrl-C never leaves a
half-written table or model folder where a later stage would pick it up.
"""

from __future__ import annotations

import base64
import csv
import gzip
import hashlib
import itertools
import json
import logging
import os
import secrets
import shutil
import socket
import tempfile
import threading
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow
import pyarrow.compute as pc
import pyarrow.parquet as pq

SUPPORTED_SUFFIXES = (".csv", ".csv.gz", ".parquet")
WRITE_FORMATS = ("parquet", "csv")

from .threads import cgroup_cpu_quota, usable_cores  # noqa: E402,F401  (their old home)

log = logging.getLogger("synthvae.io")


class InputError(ValueError):
    """A problem with the user's input, stated in one line (the CLI maps it to exit code 2)."""


def read_table(path: str | os.PathLike) -> pd.DataFrame:
    """Read a .csv, .csv.gz or .parquet file into a DataFrame, exactly as stored.

    CSV uses `pd.read_csv` defaults (empty cells become NaN, integer columns without gaps
    stay int64, text stays object) with the delimiter sniffed among , ; tab | and the text
    read as UTF-8, else cp1252, else latin-1 (said in a warning). Values whose form a number
    would lose stay as written: codes with leading zeros (04452) as strings, whole numbers
    beyond int64 as strings, and whole numbers beyond 2**53 with gaps as Int64. Nothing is
    dropped or renamed: duplicate or empty column names are an error rather than pandas'
    silent `name.1` and `Unnamed: 1`.
    """
    path = Path(path)
    suffix = _table_suffix(path)
    if not path.exists():
        raise InputError(f"input file not found: {path}")
    if not path.is_file():
        raise InputError(f"input path is not a file: {path}")

    if suffix == ".parquet":
        df = _read_parquet(path)
    else:
        df = _read_csv(path)

    duplicated = sorted({repr(c) for c in df.columns[df.columns.duplicated()]})
    if duplicated:
        raise InputError(f"input table {path} has duplicate column names: {', '.join(duplicated)}")
    if df.shape[1] == 0:
        raise InputError(f"input table is empty (no columns): {path}")
    if df.shape[0] == 0:
        raise InputError(f"input table is empty (header but 0 rows): {path}")
    return df


def write_table(df: pd.DataFrame, path: str | os.PathLike, format: str) -> Path:
    """Write `df` atomically as "parquet" (pyarrow) or "csv" (gzip if the name ends in .gz).

    The index is not written: tables here are plain rows, and read_table gives a fresh
    RangeIndex back. Returns the path written.
    """
    if format not in WRITE_FORMATS:
        raise InputError(
            f"unknown output format {format!r}; use one of: {', '.join(WRITE_FORMATS)}"
        )
    path = Path(path)
    if format == "parquet":
        _atomic_write(path, lambda tmp: df.to_parquet(tmp, engine="pyarrow", index=False))
    else:
        # The temporary name hides the .gz suffix from pandas' inference, so say it explicitly.
        compression = "gzip" if path.name.lower().endswith(".gz") else None
        _atomic_write(path, lambda tmp: df.to_csv(tmp, index=False, compression=compression))
    return path


def write_table_stream(chunks: Iterable[pd.DataFrame | pyarrow.Table], path: str | os.PathLike,
                       format: str, expected_rows: int | None = None) -> tuple[Path, int]:
    """Write a stream of DataFrames as one table, atomically, holding one chunk at a time:
    Parquet row groups through pyarrow's writer, or CSV appended chunk by chunk (the header
    once). Returns the path and the rows written.

    With `expected_rows`, the size of the first chunk on disk gives an estimate of the whole
    file; when the disk has less room than that (with a 20% margin), InputError is raised
    and the partial file removed, before the rest is written."""
    if format not in WRITE_FORMATS:
        raise InputError(
            f"unknown output format {format!r}; use one of: {', '.join(WRITE_FORMATS)}"
        )
    path = Path(path)
    rows = 0

    def write(tmp: Path) -> None:
        nonlocal rows
        writer = None
        compression = "gzip" if path.name.lower().endswith(".gz") else None
        try:
            for i, chunk in enumerate(chunks):
                if format == "parquet":
                    table = chunk if isinstance(chunk, pyarrow.Table) else \
                        pyarrow.Table.from_pandas(chunk, preserve_index=False)
                    if writer is None:
                        writer = _parquet_writer(tmp, table)
                    writer.write_table(table.cast(writer.schema))
                else:
                    if isinstance(chunk, pyarrow.Table):
                        chunk = chunk.to_pandas()
                    mode = "w" if i == 0 else "a"
                    chunk.to_csv(tmp, index=False, header=i == 0, mode=mode,
                                 compression=compression)
                rows += len(chunk)
                if i == 0 and expected_rows and expected_rows > rows:
                    _check_room(tmp, rows, expected_rows, path)
        finally:
            if writer is not None:
                writer.close()

    _atomic_write(path, write)
    return path, rows


def stored_schema(schema: pyarrow.Schema) -> pyarrow.Schema:
    """The schema a Parquet file records for tables of `schema`: a column of strings handed
    over dictionary-encoded (a dictionary field that the pandas metadata calls "unicode", as
    `synthvae.stream.to_arrow` makes them) is recorded as the plain strings it stands for."""
    pandas_meta = json.loads((schema.metadata or {}).get(b"pandas", b"{}"))
    strings = {c["name"] for c in pandas_meta.get("columns", [])
               if c.get("pandas_type") == "unicode"}
    return pyarrow.schema(
        [pyarrow.field(f.name, f.type.value_type, f.nullable, f.metadata)
         if pyarrow.types.is_dictionary(f.type) and f.name in strings else f for f in schema],
        metadata=schema.metadata)


def _parquet_writer(path: Path, first: pyarrow.Table) -> pq.ParquetWriter:
    """A writer for tables like `first`, recording `stored_schema(first.schema)`.

    Dictionary-encoded string columns go in as their codes: Parquet stores them as a
    dictionary anyway, and making the strings first only for the writer to hash them back
    into a dictionary cost about 0.2 us a row. pyarrow would record the dictionary type, so
    the schema it records is written here instead: the same bytes it writes for the
    strings (base64 of the serialised schema under "ARROW:schema"), so the file reads back
    as strings, for pyarrow, pandas or any Parquet reader.

    Columns whose first chunk is more than half distinct values (ids, most continuous
    values) are not dictionary-encoded: the dictionary would be as long as the column, which
    made the file larger and the write slower (Adult's fnlwgt)."""
    def repetitive(column: pyarrow.ChunkedArray) -> bool:
        try:
            return pc.count_distinct(column, mode="all").as_py() <= first.num_rows // 2
        except pyarrow.ArrowNotImplementedError:  # e.g. an all-null column: pyarrow's default
            return True

    dictionary = [f.name for f, column in zip(first.schema, first.columns)
                  if pyarrow.types.is_dictionary(f.type) or repetitive(column)]
    stored = stored_schema(first.schema)
    writer = pq.ParquetWriter(path, first.schema, store_schema=False, use_dictionary=dictionary)
    writer.add_key_value_metadata({**(stored.metadata or {}),
                                   b"ARROW:schema": base64.b64encode(stored.serialize())})
    return writer


def ordered_map(fn: Callable, items: Iterable, workers: int = 1, depth: int = 2,
                setup: Callable[[], object] | None = None) -> Iterator:
    """`fn(item)` for each item, computed on `workers` threads (each running `setup` first),
    yielded in the items' order, at most `workers * depth` ahead of the consumer.

    It pays where `fn` spends its time in code that releases the GIL (PyTorch, the numba
    kernel, NumPy, Arrow). An error in `fn` is raised at its place in the order; a consumer
    that stops early (an error, a `break`) cancels what has not started and waits for
    what has."""
    local = threading.local()

    def call(item):
        if setup is not None and not getattr(local, "ready", False):
            setup()
            local.ready = True
        return fn(item)

    pool = ThreadPoolExecutor(max(1, workers), thread_name_prefix="synthvae")
    pending: deque = deque()
    items = iter(items)
    try:
        for item in itertools.islice(items, max(1, workers) * max(1, depth)):
            pending.append(pool.submit(call, item))
        while pending:
            result = pending.popleft().result()
            for item in itertools.islice(items, 1):
                pending.append(pool.submit(call, item))
            yield result
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _check_room(partial: Path, rows: int, expected_rows: int, path: Path) -> None:
    needed = partial.stat().st_size / max(rows, 1) * (expected_rows - rows) * 1.2
    free = shutil.disk_usage(partial.parent).free
    if needed > free:
        raise InputError(f"not enough disk space for {expected_rows:,} rows at {path.parent}: "
                         f"about {needed / 2**30:.2f} GiB more needed (estimated from the "
                         f"first {rows:,} rows), {free / 2**30:.2f} GiB free")


def table_parts(path: str | os.PathLike) -> list[Path]:
    """The files a table is stored in: itself, or for a folder of parts written by sharded
    sampling (synthetic.parquet/part-00000.parquet, ...), its parts in order."""
    path = Path(path)
    if not path.is_dir():
        return [path]
    suffix = _table_suffix(path)
    return sorted(p for p in path.iterdir() if p.name.startswith("part-") and p.name.endswith(suffix))


def read_table_head(path: str | os.PathLike, n: int) -> pd.DataFrame:
    """The first `n` rows of a table without reading the rest (Parquet by row batches); a
    folder of parts is read part by part, in order."""
    path = Path(path)
    if path.is_dir():
        frames, have = [], 0
        for part in table_parts(path):
            frames.append(read_table_head(part, n - have))
            have += len(frames[-1])
            if have >= n:
                break
        if not frames:
            raise InputError(f"{path} holds no part files")
        return pd.concat(frames, ignore_index=True)
    if _table_suffix(path) == ".parquet":
        batches, have = [], 0
        for batch in pq.ParquetFile(path).iter_batches(batch_size=min(n, 65_536)):
            batches.append(batch)
            have += batch.num_rows
            if have >= n:
                break
        table = pyarrow.Table.from_batches(batches) if batches else pq.read_schema(path).empty_table()
        return table.to_pandas().head(n)
    return _read_csv(path, nrows=n)


def check_writable(path: str | os.PathLike) -> None:
    """Raises InputError, in one line, unless `path` (a file or folder to be written) can be
    created: its nearest existing parent must be a folder this process can write in."""
    path = Path(path).absolute()
    parent = path.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise InputError(f"cannot write {path}: {parent} is a file, not a folder")
    try:  # a real probe: permission bits say nothing for root or read-only mounts
        with tempfile.TemporaryFile(dir=parent):
            pass
    except OSError as err:
        raise InputError(f"cannot write {path}: {parent} is not writable "
                         f"({err.strerror or err})") from None


@contextmanager
def atomic_dir(final_dir: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary folder that becomes `final_dir` only if the block finishes.

    The temporary folder sits next to `final_dir` (same parent, hence same filesystem, so the
    final rename is atomic). On an exception it is removed and an existing `final_dir` is left
    untouched. An existing `final_dir` is renamed aside, the new one renamed in, then the old
    one deleted: readers see either the complete old or the complete new folder.
    The temporary folder's name carries this process's id and host, so that a later
    `atomic_dir` to the same `final_dir` can remove what a killed process left
    (`remove_stale_staging`).
    """
    final = Path(final_dir)
    if final.exists() and not final.is_dir():
        raise InputError(f"output path exists and is not a folder: {final}")
    final.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_staging(final)
    tmp = Path(tempfile.mkdtemp(prefix=_staging_prefix(final) + f"{os.getpid()}-{_HOST}-",
                                dir=final.parent))
    os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes it 0700; the output is the user's to share
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _swap_into_place(tmp, final)


_HOST = socket.gethostname().replace("-", "_")  # no "-": it separates the name's fields


def _staging_prefix(final: Path) -> str:
    return f".{final.name}.tmp-"


def remove_stale_staging(final_dir: str | os.PathLike) -> list[Path]:
    """Remove the temporary folders `atomic_dir(final_dir)` left behind in processes that no
    longer run (killed with SIGKILL, or a machine that lost power), and return them.

    Only folders named by this host whose process id is not running are removed: a folder of
    a live run, of another machine sharing the disk, or of an older naming is left alone."""
    final = Path(final_dir)
    removed = []
    prefix = _staging_prefix(final)
    try:
        siblings = [p for p in final.parent.iterdir() if p.name.startswith(prefix)]
    except OSError:  # no parent yet: nothing to remove
        return removed
    for folder in siblings:
        pid, _, rest = folder.name[len(prefix):].partition("-")
        host = rest.rpartition("-")[0]
        if (pid.isdigit() and host == _HOST and int(pid) != os.getpid()
                and not _running(int(pid)) and folder.is_dir()):
            shutil.rmtree(folder, ignore_errors=True)
            log.info("removed %s, left by process %s, which is no longer running", folder, pid)
            removed.append(folder)
    return removed


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: it exists, as another user
        return True
    return True


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | os.PathLike, text: str, encoding: str = "utf-8") -> Path:
    """Write `text` to `path` via a temporary sibling file and os.replace."""
    return _atomic_write(Path(path), lambda tmp: tmp.write_text(text, encoding=encoding))


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write `data` to `path` via a temporary sibling file and os.replace."""
    return _atomic_write(Path(path), lambda tmp: tmp.write_bytes(data))


def _table_suffix(path: Path) -> str:
    name = path.name.lower()
    # Longest first, so "x.csv.gz" is not taken for an unknown ".gz".
    for suffix in sorted(SUPPORTED_SUFFIXES, key=len, reverse=True):
        if name.endswith(suffix):
            return suffix
    raise InputError(
        f"unsupported table format for {path}: expected one of {', '.join(SUPPORTED_SUFFIXES)}"
    )


def _read_csv(path: Path, nrows: int | None = None) -> pd.DataFrame:
    delimiter = _sniff_delimiter(path)
    for encoding in _ENCODINGS:
        try:
            # pandas renames a repeated header "a,a" to "a,a.1" and an empty one to
            # "Unnamed: 1" without a word; read the raw header row first so both are refused.
            header = pd.read_csv(path, header=None, nrows=1, dtype=str, keep_default_na=False,
                                 sep=delimiter, encoding=encoding)
            _check_header(path, [str(v) for v in header.iloc[0].tolist()] if len(header) else [])
            df = pd.read_csv(path, sep=delimiter, encoding=encoding, nrows=nrows)
            df = _keep_forms(df, lambda columns, chunksize=None: pd.read_csv(
                path, sep=delimiter, encoding=encoding, nrows=nrows, usecols=columns, dtype=str,
                chunksize=chunksize))
        except InputError:
            raise
        except UnicodeDecodeError:
            continue  # the next encoding; latin-1, the last, decodes any byte
        except pd.errors.EmptyDataError:
            raise InputError(f"input table is empty (no columns): {path}") from None
        except (ValueError, OSError, EOFError, zlib.error) as err:
            # ParserError is a ValueError; a corrupt .gz raises BadGzipFile (OSError),
            # EOFError or zlib.error.
            raise InputError(f"could not read CSV {path}: {_one_line(err)}") from None
        if encoding != _ENCODINGS[0]:
            _say_encoding(path, encoding)
        return df
    raise AssertionError("latin-1 decodes any byte")


# UTF-8 first; then Windows-1252, the usual encoding of a spreadsheet's "CSV" on Windows,
# which leaves five bytes undefined; then latin-1, which defines all 256.
_ENCODINGS = ("utf-8", "cp1252", "latin-1")
_DELIMITERS = ",;\t|"
_SNIFF_BYTES = 64 * 1024
_TEXT_CHUNK_ROWS = 200_000
# Integers as float64 are exact up to 2**53; a column that needs more is kept as Int64.
_EXACT_FLOAT_INT = 2**53


_told_encodings: set[tuple[str, int, str]] = set()  # a run reads its input more than once


def _say_encoding(path: Path, encoding: str) -> None:
    stamp = (str(path.resolve()), path.stat().st_mtime_ns, encoding)
    if stamp not in _told_encodings:
        _told_encodings.add(stamp)
        log.warning("%s is not UTF-8: read it as %s, in which each of its bytes is one "
                    "character, so nothing is lost", path, encoding)


def _sniff_delimiter(path: Path) -> str:
    """The field delimiter among , ; tab | that the first lines use consistently (csv.Sniffer);
    a comma when they do not say. A sniffed delimiter must appear in the header line, so a
    one-column table whose text holds semicolons stays one column."""
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rb") as handle:
            head = handle.read(_SNIFF_BYTES)
    except (OSError, EOFError, zlib.error):
        return ","  # the read proper reports a corrupt file in its own words
    # Delimiters are ASCII, so how the rest decodes does not matter here.
    lines = head.decode("latin-1").splitlines()
    if len(head) == _SNIFF_BYTES and len(lines) > 1:
        lines = lines[:-1]  # cut short by the sample
    lines = lines[:50]
    if not lines:
        return ","
    try:
        delimiter = csv.Sniffer().sniff("\n".join(lines), delimiters=_DELIMITERS).delimiter
    except csv.Error:
        return ","
    return delimiter if delimiter in lines[0] else ","


def _check_header(path: Path, names: list[str]) -> None:
    unnamed = [i + 1 for i, name in enumerate(names) if not name.strip()]
    if unnamed:
        where = ", ".join(map(str, unnamed))
        raise InputError(f"input table {path} has no name for column {where} of {len(names)} "
                         f"(counting from 1): every column needs a name; write one in the "
                         f"header line")
    repeated = sorted({repr(n) for n in names if names.count(n) > 1})
    if repeated:
        raise InputError(f"input table {path} has duplicate column names: {', '.join(repeated)}")


def _keep_forms(df: pd.DataFrame, read_text: Callable[..., Any]) -> pd.DataFrame:
    """Columns pandas parsed as numbers whose text a number cannot keep, re-read as text:

    - whole numbers written with leading zeros (zip codes 04452, codes 007) stay strings, so
      they keep their width;
    - whole numbers beyond int64 (pandas gives uint64 or text) stay strings, exact;
    - whole numbers with gaps beyond 2**53, which float64 would round, become Int64.

    Only integer-looking columns are re-read (`read_text(columns, chunksize)` gives their
    raw text), a chunk at a time, as strings take several times the memory of the numbers;
    only columns that change are then read whole. A table without such columns keeps exactly
    what pandas' defaults give."""
    candidates = [c for c in df.columns if df[c].dtype.kind in "iu" or (
        df[c].dtype.kind == "f" and _whole(df[c].to_numpy()))]
    if not candidates:
        return df
    digits = dict.fromkeys(candidates, True)
    zeros = dict.fromkeys(candidates, False)
    for chunk in read_text(candidates, chunksize=_TEXT_CHUNK_ROWS):
        for column in candidates:
            if digits[column]:
                observed = chunk[column].dropna().str.strip()
                digits[column] = bool(observed.str.fullmatch(r"[+-]?\d+").all())
                zeros[column] |= bool(observed.str.match(r"[+-]?0\d").any())
    as_text = [c for c in candidates if digits[c] and (zeros[c] or df[c].dtype.kind == "u")]
    exact = [c for c in candidates if digits[c] and c not in as_text and df[c].dtype.kind == "f"
             and np.nanmax(np.abs(df[c].to_numpy())) >= _EXACT_FLOAT_INT]
    if not as_text + exact:
        return df
    text = read_text(as_text + exact)
    for column in as_text:
        df[column] = text[column]
    for column in exact:
        try:
            df[column] = text[column].str.strip().astype("Int64")
        except (OverflowError, TypeError, ValueError):  # beyond int64: exact as text
            df[column] = text[column]
    return df


def _whole(values: np.ndarray) -> bool:
    observed = values[~np.isnan(values)]
    return bool(len(observed)) and bool(np.all(np.isfinite(observed))) and \
        bool(np.all(np.mod(observed, 1) == 0))


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        df = pd.read_parquet(path, engine="pyarrow")
    except (pyarrow.ArrowException, ValueError, OSError) as err:
        raise InputError(f"could not read Parquet {path}: {_one_line(err)}") from None
    # pyarrow gives None for missing text where read_csv gives NaN; use NaN for both so a
    # table reads back the same whichever format it went through.
    for column in df.columns[df.dtypes == object]:
        df[column] = df[column].where(df[column].notna(), np.nan)
    return df


def _one_line(err: BaseException) -> str:
    message = " ".join(str(err).split())
    return f"{type(err).__name__}: {message}" if message else type(err).__name__


def _atomic_write(path: Path, write: Callable[[Path], object]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.tmp-", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        # mkstemp makes the file 0600; keep the old file's mode, else an ordinary 0644.
        mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
        os.chmod(tmp, mode)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def _swap_into_place(tmp: Path, final: Path) -> None:
    if not final.exists():
        try:
            os.rename(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return
    old = final.with_name(f".{final.name}.old-{secrets.token_hex(4)}")
    try:
        os.rename(final, old)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    try:
        os.rename(tmp, final)
    except BaseException:
        os.rename(old, final)  # put the previous version back before giving up
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    shutil.rmtree(old, ignore_errors=True)


def table_stem(path: Path) -> str:
    """The file name without its table suffix (adult.csv.gz -> adult)."""
    name = path.name
    for suffix in sorted(SUPPORTED_SUFFIXES, key=len, reverse=True):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 of a file's bytes, read a megabyte at a time."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
