"""A version's tabular files (``.csv`` and ``.parquet``) as one table with one schema.

Files are told apart by extension. Their schemas are unified the way
:meth:`Dataset.read` concatenates them: columns in order of first appearance,
a column missing from a file is null there, and a null-typed column takes the
type the other files give it (pyarrow's ``promote_options="default"``). Files
whose types clash otherwise raise :class:`DataSchemaMismatchError` naming them.

pyarrow is imported by the functions that need it, so importing the store stays light.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, BinaryIO

from curation_pipeline.store.errors import DataSchemaMismatchError, NoTabularDataError, TabularFormatError

if TYPE_CHECKING:
    import pyarrow as pa

    from curation_pipeline.store.dataset import Dataset

#: Tabular files by extension: how they are read and written.
TABULAR_FORMATS = {".csv": "csv", ".parquet": "parquet"}
#: How schemas of several files become one (see the module docstring).
PROMOTE_OPTIONS = "default"
#: Rows per batch when a version is streamed.
STREAM_BATCH_ROWS = 10_000


def tabular_format(path: str) -> str | None:
    """``"csv"`` or ``"parquet"`` for a tabular file's path (by extension, any case), else None."""
    return TABULAR_FORMATS.get(os.path.splitext(path)[1].lower())


def check_tabular(path: str) -> str:
    """The tabular format of ``path``; :class:`TabularFormatError` naming it when it has none."""
    found = tabular_format(path)
    if found is None:
        raise TabularFormatError(
            f"{path!r} is not a tabular file name: tabular files end in {' or '.join(TABULAR_FORMATS)}"
        )
    return found


def write_table(table: pa.Table, path: str | os.PathLike[str], file_format: str) -> None:
    """Write ``table`` to the local ``path`` as CSV or Parquet."""
    if file_format == "csv":
        import pyarrow.csv as pacsv

        pacsv.write_csv(table, path)
    else:
        import pyarrow.parquet as pq

        pq.write_table(table, path)


def native_file(source: BinaryIO) -> pa.NativeFile:
    """``source``'s content as a file pyarrow reads itself, with no Python object behind it.

    pyarrow reads a Python file object through a C++ wrapper holding a
    reference to it, and each block it reads as Python bytes. Its CSV reader
    may drop the last reference to those on one of its pool threads after
    ``read_csv`` has returned; a pool thread taking the GIL while the
    interpreter exits is ended by Python inside a C++ destructor, and the
    process aborts ("terminate called without an active exception", exit
    code 134; apache/arrow#34314). A program reading a version's CSV just
    before it exits did so about once in 30 runs on a loaded machine. So a
    file on disk (a verified temporary copy) is opened by its name, and
    content in memory (a small object) is copied into Arrow's memory.
    """
    import pyarrow as pa

    name = getattr(source, "name", None)
    if isinstance(source, io.BufferedReader) and isinstance(name, (str, os.PathLike)):
        return pa.OSFile(os.fspath(name))
    sink = pa.BufferOutputStream()
    sink.write(source.read())
    return pa.BufferReader(sink.getvalue())


def read_table(source: BinaryIO, file_format: str, columns: list[str] | None = None) -> pa.Table:
    """Read one CSV or Parquet file (``columns``: only those)."""
    with native_file(source) as native:
        if file_format == "csv":
            import pyarrow.csv as pacsv

            table = pacsv.read_csv(native)
            return table if columns is None else table.select(columns)
        import pyarrow.parquet as pq

        return pq.read_table(native, columns=columns)


def concat(tables: Sequence[pa.Table], where: str) -> pa.Table:
    """The tables one after the other, schemas unified; ``where`` names them in errors."""
    import pyarrow as pa

    try:
        return pa.concat_tables(tables, promote_options=PROMOTE_OPTIONS)
    except (pa.ArrowTypeError, pa.ArrowInvalid) as error:
        raise DataSchemaMismatchError(f"{where}: the files' schemas cannot be unified: {error}") from None


def version_schema(dataset: Dataset, version_id: str | None = None) -> tuple[str, list[str], pa.Schema]:
    """``(version id, tabular paths, unified schema)`` of a version (HEAD by default).

    A Parquet file's schema comes from its footer; a CSV file is read to infer
    its types.

    Raises:
        NoTabularDataError: the version has no tabular file.
        DataSchemaMismatchError: two files give one column clashing types (names both files).
    """
    import pyarrow as pa

    resolved = dataset.resolve_version(version_id)
    paths = dataset.tabular_paths(resolved)
    where = f"dataset {dataset.name!r} version {resolved}"
    if not paths:
        raise NoTabularDataError(f"{where} has no tabular file (.csv or .parquet)")
    schemas = [_file_schema(dataset, resolved, path) for path in paths]
    try:
        schema = pa.unify_schemas(schemas, promote_options=PROMOTE_OPTIONS)
    except (pa.ArrowTypeError, pa.ArrowInvalid) as error:
        raise DataSchemaMismatchError(f"{where}: {_clash(paths, schemas) or error}") from None
    return resolved, paths, schema


def _file_schema(dataset: Dataset, version_id: str, path: str) -> pa.Schema:
    with dataset.open_file(path, version_id) as f:
        if check_tabular(path) == "parquet":
            import pyarrow.parquet as pq

            with native_file(f) as native:
                return pq.read_schema(native)
        return read_table(f, "csv").schema.remove_metadata()


def _clash(paths: Sequence[str], schemas: Sequence[pa.Schema]) -> str | None:
    """Words for the first column two files type differently (neither null)."""
    import pyarrow as pa

    seen: dict[str, tuple[str, pa.DataType]] = {}
    for path, schema in zip(paths, schemas):
        for field in schema:
            if pa.types.is_null(field.type):
                continue
            first = seen.setdefault(field.name, (path, field.type))
            if first[1] != field.type:
                return (
                    f"column {field.name!r} is {first[1]} in {first[0]!r} but {field.type} in {path!r}; "
                    "the files' schemas cannot be unified"
                )
    return None


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table`` with ``schema``'s columns in its order: missing ones null, the others cast."""
    import pyarrow as pa

    columns = [
        table.column(field.name).cast(field.type) if field.name in table.column_names else pa.nulls(len(table), field.type)
        for field in schema
    ]
    return pa.Table.from_arrays(columns, schema=schema)


def iter_tables(
    dataset: Dataset, version_id: str, paths: Sequence[str], schema: pa.Schema, batch_rows: int = STREAM_BATCH_ROWS
) -> Iterator[pa.Table]:
    """The rows of ``paths`` (files of ``version_id``) in batches, each conformed to ``schema``.

    Reads one batch at a time from the store: memory stays bounded by a batch
    (and, for S3, by what opening one verified file takes).
    """
    import pyarrow as pa

    for path in paths:
        with dataset.open_file(path, version_id) as f:
            if check_tabular(path) == "parquet":
                import pyarrow.parquet as pq

                with native_file(f) as native:
                    for batch in pq.ParquetFile(native).iter_batches(batch_size=batch_rows):
                        yield conform(pa.Table.from_batches([batch]), schema)
            else:
                # One CSV file's types are inferred over the whole file, as in version_schema.
                table = read_table(f, "csv")
                for batch in table.to_batches(max_chunksize=batch_rows):
                    yield conform(pa.Table.from_batches([batch]), schema)
