"""Winners' full records through DuckDB's Parquet reader, one query per local file.

pyarrow decodes a row group's column chunks whole, so fetching a few winners
from each row group of a window costs a full decode of the window. DuckDB's
reader, asked for rows by ``file_row_number``, skips what it can and
materialises only those rows: on the benchmark's 100M-row day, ``k=10,000``
winners cost 37-58% less CPU than whole-group reads (docs/decisions.md,
"Late materialisation"). The choosing stays the engine's; DuckDB only reads
the rows it is told, and the result is cast back to the data's schema, so the
same rows come out on every machine and either reader.

Used for files :meth:`ParquetSource.direct` reads on a local filesystem, and
for temporary local copies of remote files (:func:`local_copy`, :func:`take_copied`), with
column types DuckDB returns exactly; everything else keeps pyarrow's read.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
from collections.abc import Iterable, Iterator, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.fs as pafs

from curation_pipeline.selection.errors import SelectionError

try:
    import duckdb
except ImportError:  # an install without it keeps pyarrow's whole-group reads
    duckdb = None

_ROW = "file_row_number"
# The column naming each row's file in a query over several files, and the
# column of the rows asked (positions in the order asked).
_FILE = "__curation_file"
_ASKED = "__curation_asked"
# One connection per thread (a connection is not shared between threads),
# single-threaded: the engine's pool already runs files in parallel.
_CONFIG = {"threads": 1, "memory_limit": "256MB"}
_local = threading.local()


class LateFetchUnavailable(SelectionError):
    """DuckDB could not read the rows (e.g. out of its memory limit): the caller reads them with pyarrow.

    Caught inside the selection layer, which then reads the file with pyarrow.
    """


def available() -> bool:
    """Whether DuckDB can be used here."""
    return duckdb is not None


def suitable(filesystem: pafs.FileSystem, path: str, schema: pa.Schema) -> bool:
    """Whether ``path`` can be read through DuckDB with values identical to pyarrow's.

    Local files only (DuckDB's S3 reader is an extension this package does not
    install); no glob characters in the path (DuckDB would expand them); flat
    columns of types DuckDB hands back unchanged or castable without loss
    (nanosecond timestamps, such as the INT96 of Spark and Hive files, come
    back as microseconds: not those); column names DuckDB binds as pyarrow
    does (none named ``file_row_number``, none differing from another only by
    case, DuckDB's names being case-insensitive).
    """
    if not isinstance(filesystem, pafs.LocalFileSystem) or any(char in path for char in "*?[{"):
        return False
    return readable(schema)


def readable(schema: pa.Schema) -> bool:
    """Whether DuckDB returns every column of ``schema`` with values identical to pyarrow's (see :func:`suitable`)."""
    if duckdb is None:
        return False
    lowered = [name.lower() for name in schema.names]
    if {_ROW, _FILE, _ASKED} & set(lowered) or len(set(lowered)) != len(lowered):
        return False
    return all(_exact(field.type) for field in schema)


def _exact(type_: pa.DataType) -> bool:
    return (
        pa.types.is_string(type_)
        or pa.types.is_large_string(type_)
        or pa.types.is_integer(type_)
        or pa.types.is_floating(type_)
        or pa.types.is_boolean(type_)
        or (pa.types.is_timestamp(type_) and type_.unit != "ns")
        or pa.types.is_date32(type_)
    )


def _new_connection():
    """A connection as every query here expects it: single-threaded, in UTC, Parquet loaded (prefetching on)."""
    connection = duckdb.connect(config=_CONFIG)
    connection.execute("SET TimeZone = 'UTC'")
    # The setting belongs to the Parquet extension (built in), which must
    # be loaded before it can be set.
    connection.execute("LOAD parquet")
    return connection


def _connection(prefetch: bool):
    """This thread's connection, its Parquet prefetching set as asked."""
    connection = getattr(_local, "connection", None)
    if connection is None:
        connection = _local.connection = _new_connection()
        _local.prefetch = True  # DuckDB's default
    if _local.prefetch != prefetch:
        connection.execute(f"SET disable_parquet_prefetching = {str(not prefetch).lower()}")
        _local.prefetch = prefetch
    return connection


def take_file(path: str, rows: np.ndarray, schema: pa.Schema, *, prefetch: bool = True, columns: Sequence[str] | None = None) -> pa.Table:
    """The rows at file row numbers ``rows`` (any order, distinct) of the Parquet file at ``path``, in that order.

    ``prefetch=False`` for files of large row groups: DuckDB's prefetching
    reads a row group's column chunks whole before decoding, so a foreign
    writer's 128 MB group costs its size in memory per query (one query of
    100 rows measured 228 MB peak with it, 112 MB without, and 0.20 against
    0.12 s); on small groups it saves about 5% of the CPU. ``columns``:
    those alone (fields of ``schema``), in that order; every column if None.
    """
    return _take_file(_connection(prefetch), path, rows, schema, columns)


def _take_file(connection, path: str, rows: np.ndarray, schema: pa.Schema, columns: Sequence[str] | None = None) -> pa.Table:
    """:func:`take_file` on ``connection``."""
    quoted = path.replace("'", "''")
    selected = "*"  # with the row number (file_row_number=true)
    if columns is not None:
        schema = pa.schema([schema.field(name) for name in columns])
        selected = ", ".join(['"' + name.replace('"', '""') + '"' for name in columns] + [_ROW])
    # The rows as one list parameter: a literal IN list of a thousand numbers
    # becomes a join over every row of the file and costs about 40% more
    # (1,000 rows of a 1M-row file: 98 against 69 ms; 10,000 rows: 240 against 79 ms).
    query = (
        f"SELECT {selected} FROM read_parquet('{quoted}', {_ROW}=true, hive_partitioning=false, union_by_name=false) "
        f"WHERE {_ROW} = ANY($rows)"
    )
    table = _arrow(connection, query, {"rows": rows.astype(np.int64).tolist()})
    found = table.column(_ROW).to_numpy()
    if found.size != rows.size:
        raise SelectionError("the data changed while it was read: a picked row is gone")
    # DuckDB returns rows in file order; put them in the order asked.
    order = np.argsort(found, kind="stable")
    return _conformed(table, [_ROW], order[np.searchsorted(found, rows, sorter=order)], schema)


@contextlib.contextmanager
def local_copy(chunks: Iterable[pa.Buffer | bytes]) -> Iterator[str]:
    """The path of a temporary local copy of a remote file (its bytes: ``chunks``, in order), removed after the block.

    DuckDB reads local files only here (its S3 reader is an extension this
    package does not install). The bytes are written as :func:`write_copy`
    writes them. A temporary file that cannot be written (no temporary
    folder, a full disk) raises :class:`LateFetchUnavailable`; errors of
    reading ``chunks`` pass through.
    """
    try:
        handle, path = tempfile.mkstemp(prefix="curation-fetch-", suffix=".parquet")
    except OSError as error:
        raise LateFetchUnavailable(f"no temporary file to copy a remote file to: {error}") from error
    try:
        write_copy(chunks, path, handle=handle)
        yield path
    finally:
        os.remove(path)


def write_copy(chunks: Iterable[pa.Buffer | bytes], path: str, *, handle: int | None = None) -> None:
    """Write a remote file's bytes (``chunks``, in order, a request each) to the local file ``path`` (``handle``: its open descriptor).

    A request's bytes are held at a time. A file that cannot be written
    raises :class:`LateFetchUnavailable`; errors of reading ``chunks`` pass through.
    """
    try:
        out = os.fdopen(handle, "wb") if handle is not None else open(path, "wb")  # noqa: SIM115 (closed below)
    except OSError as error:
        raise LateFetchUnavailable(f"cannot copy a remote file to {path}: {error}") from error
    try:
        for data in chunks:
            try:
                out.write(data)
            except OSError as error:
                raise LateFetchUnavailable(f"cannot copy a remote file to {path}: {error}") from error
    except BaseException:
        with contextlib.suppress(OSError):
            out.close()  # the error above is the one to tell, not a full disk's on closing
        raise
    try:
        out.close()  # writes what is buffered: a full disk may say so only here
    except OSError as error:
        raise LateFetchUnavailable(f"cannot copy a remote file to {path}: {error}") from error


def take_copied(path: str, rows: np.ndarray, schema: pa.Schema) -> pa.Table:
    """:func:`take_file` of a copy made by :func:`local_copy`, on a connection lent for the query.

    The winners then cost DuckDB's sparse read rather than pyarrow's decode
    of every row group holding one: 7 rows of a 69,000-row file in 7-9
    against 16-20 ms of CPU, 100 rows of a 1M-row file in 72-99 against
    314-388 ms (two threads). The copies are made on the remote store's many
    threads, each mostly waiting on its requests; the queries run at most
    one a CPU at once.
    """
    with _LENT.lent() as connection:
        return _take_file(connection, path, rows, schema)


class _Lent:
    """At most ``size`` connections, each lent to one thread at a time.

    The copies of remote files run on the remote store's many threads (each
    mostly waiting on its requests); their queries take a connection from
    these, one a CPU. A connection a thread, as for local files, would keep
    a DuckDB instance's memory for each of those threads.
    """

    def __init__(self, size: int) -> None:
        self._slots = threading.BoundedSemaphore(size)
        self._lock = threading.Lock()
        self._free: list = []

    @contextlib.contextmanager
    def lent(self) -> Iterator:
        with self._slots:
            with self._lock:
                connection = self._free.pop() if self._free else None
            if connection is None:
                connection = _new_connection()
            try:
                yield connection
            finally:
                with self._lock:
                    self._free.append(connection)


_LENT = _Lent(max(2, min(8, os.cpu_count() or 2)))


def _arrow(connection, query: str, params: dict, tables: dict[str, pa.Table] | None = None) -> pa.Table:
    """``query``'s result as an Arrow table, ``tables`` registered by name meanwhile.

    A DuckDB error (out of memory, an unreadable file) is :class:`LateFetchUnavailable`.
    """
    registered = []
    try:
        for name, table in (tables or {}).items():
            connection.register(name, table)
            registered.append(name)
        relation = connection.sql(query, params=params)
        # to_arrow_table in recent DuckDB; fetch_arrow_table in older releases (deprecated in 2.0).
        return relation.to_arrow_table() if hasattr(relation, "to_arrow_table") else relation.fetch_arrow_table()
    except duckdb.Error as error:  # pyarrow reads the file then, or says what is wrong
        raise LateFetchUnavailable(str(error)) from error
    finally:
        for name in registered:
            connection.unregister(name)


def _conformed(table: pa.Table, added: list[str], positions: np.ndarray, schema: pa.Schema) -> pa.Table:
    """``table`` without the query's ``added`` columns, its rows at ``positions``, in ``schema``."""
    try:
        return table.drop_columns(added).select(schema.names).take(pa.array(positions)).cast(schema)
    except (KeyError, pa.ArrowException) as error:  # a column DuckDB named or typed otherwise
        raise LateFetchUnavailable(str(error)) from error


def take_files(asked: Sequence[tuple[str, np.ndarray]], schema: pa.Schema) -> list[pa.Table]:
    """For each ``(path, rows)`` of ``asked`` (distinct paths; distinct file row numbers each), those rows in that order.

    One query over every file: small files (one a minute) cost a query each
    about as much as reading them, and pyarrow opens and decodes each whole;
    one query for a day's winners in 1,440 files of 7,000 rows took 1.1 s
    against pyarrow's 2.5 s (10,000 winners), 0.30 against 0.55 s (100).
    The rows asked join the files' rows on ``(file, file_row_number)``.
    """
    paths = [path for path, _ in asked]
    sizes = [rows.size for _, rows in asked]
    wanted = pa.table(
        {
            _FILE: pa.array(np.repeat(np.array(paths, dtype=object), sizes), pa.string()),
            _ROW: pa.array(np.concatenate([rows for _, rows in asked] or [np.empty(0, np.int64)]).astype(np.int64)),
            _ASKED: pa.array(np.arange(sum(sizes), dtype=np.int64)),
        }
    )
    query = (
        f"SELECT p.*, w.{_ASKED} FROM read_parquet($paths, filename='{_FILE}', {_ROW}=true, "
        f"hive_partitioning=false, union_by_name=false) p "
        f"JOIN wanted w ON p.{_FILE} = w.{_FILE} AND p.{_ROW} = w.{_ROW}"
    )
    table = _arrow(_connection(True), query, {"paths": paths}, {"wanted": wanted})
    if table.num_rows != wanted.num_rows:
        raise SelectionError("the data changed while it was read: a picked row is gone")
    order = np.argsort(table.column(_ASKED).to_numpy(), kind="stable")
    table = _conformed(table, [_ROW, _FILE, _ASKED], order, schema)
    starts = np.cumsum([0, *sizes])
    return [table.slice(int(start), int(end - start)) for start, end in zip(starts[:-1], starts[1:])]

