"""pyarrow reads a version's tabular files natively: its threads never hold a Python file of ours.

A Python file handed to pyarrow's readers is read, and its last reference
dropped, on pyarrow's pool threads; one doing so while the interpreter exits
aborts the process (see :func:`~curation_pipeline.store.tabular.native_file`).
The files here record which threads call them: only the caller's may.
"""

from __future__ import annotations

import io
import threading
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from curation_pipeline.store.tabular import native_file, read_table

TABLE = pa.table({"text": [f"review {i}" for i in range(5_000)], "label": list(range(5_000))})


class _Callers:
    """Records the thread of each call to the file's reading methods."""

    threads: set[int]

    def _seen(self) -> None:
        self.threads.add(threading.get_ident())

    def read(self, *args):  # type: ignore[no-untyped-def]
        self._seen()
        return super().read(*args)  # type: ignore[misc]

    def readinto(self, *args):  # type: ignore[no-untyped-def]
        self._seen()
        return super().readinto(*args)  # type: ignore[misc]

    def seek(self, *args):  # type: ignore[no-untyped-def]
        self._seen()
        return super().seek(*args)  # type: ignore[misc]

    def tell(self, *args):  # type: ignore[no-untyped-def]
        self._seen()
        return super().tell(*args)  # type: ignore[misc]


class _InMemory(_Callers, io.BytesIO):
    """A small object's content, as the store hands it over."""

    def __init__(self, content: bytes) -> None:
        super().__init__(content)
        self.threads = set()


class _OnDisk(_Callers, io.BufferedReader):
    """A verified temporary copy, as the store hands a large object over."""

    def __init__(self, path: Path) -> None:
        super().__init__(io.FileIO(path, "rb"))
        self.threads = set()


def _written(tmp_path: Path, file_format: str) -> Path:
    path = tmp_path / f"labels.{file_format}"
    if file_format == "csv":
        pacsv.write_csv(TABLE, path)
    else:
        pq.write_table(TABLE, path, row_group_size=1_000)
    return path


@pytest.mark.parametrize("file_format", ["csv", "parquet"])
@pytest.mark.parametrize("where", ["memory", "disk"])
def test_only_the_calling_thread_touches_the_python_file(tmp_path: Path, file_format: str, where: str) -> None:
    path = _written(tmp_path, file_format)
    source = _InMemory(path.read_bytes()) if where == "memory" else _OnDisk(path)
    with source:
        table = read_table(source, file_format)
    assert table.equals(TABLE)
    assert source.threads <= {threading.get_ident()}


def test_a_file_on_disk_is_opened_by_name_and_content_in_memory_copied(tmp_path: Path) -> None:
    path = _written(tmp_path, "parquet")
    with _OnDisk(path) as on_disk, native_file(on_disk) as native:
        assert isinstance(native, pa.OSFile)  # pyarrow reads the file itself: no Python object behind it
        assert pq.read_table(native).equals(TABLE)
    with _InMemory(path.read_bytes()) as in_memory, native_file(in_memory) as native:
        assert isinstance(native, pa.BufferReader)
        assert pq.read_table(native).equals(TABLE)
