"""A dataset version as a HuggingFace ``datasets`` dataset, with one schema across its files.

``datasets.load_dataset("parquet", data_files=...)`` over a version's files
fails with a CastError as soon as one window carries a column the first did
not. Here the version's tabular files are unified first
(:func:`curation_pipeline.store.tabular.version_schema`: missing columns are
null, null columns take the others' type), the HuggingFace ``Features`` are
derived from that schema, and every batch is conformed to it.

``datasets`` is an optional dependency: ``pip install 'curation_pipeline[hf]'``.
"""

from __future__ import annotations

import uuid
import weakref
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol

from curation_pipeline.gantry.exceptions import HuggingFaceNotInstalledError
from curation_pipeline.store import Version
from curation_pipeline.store.tabular import iter_tables, tabular_format, version_schema

if TYPE_CHECKING:
    import pyarrow as pa

INSTALL_HINT = "pip install 'curation_pipeline[hf]'"


class TabularSource(Protocol):
    """What loading reads: a :class:`~curation_pipeline.store.Dataset`, or a :class:`PulledVersion`."""

    @property
    def name(self) -> str: ...

    def resolve_version(self, version_id: str | None = None) -> str: ...

    def tabular_paths(self, version_id: str | None = None) -> list[str]: ...

    def open_file(self, path: str, version_id: str | None = None) -> Any: ...


class PulledVersion:
    """A version's files as pulled into a working-copy folder: read from disk, not from the store."""

    def __init__(self, name: str, folder: Path, version: Version) -> None:
        self.name = name
        self._folder = folder
        self._version = version

    def resolve_version(self, version_id: str | None = None) -> str:
        """The pulled version's id (the only one this source holds)."""
        return self._version.version_id

    def tabular_paths(self, version_id: str | None = None) -> list[str]:
        """The version's ``.csv`` and ``.parquet`` paths, sorted."""
        files: Mapping[str, Any] = self._version.files
        return sorted(path for path in files if tabular_format(path) is not None)

    def open_file(self, path: str, version_id: str | None = None) -> BinaryIO:
        """The pulled file at ``path`` (a file object, usable as a context manager)."""
        return open(self._folder / path, "rb")


def require_datasets() -> Any:
    """The ``datasets`` module, or :class:`HuggingFaceNotInstalledError` saying how to install it."""
    try:
        import datasets
    except ImportError as error:
        raise HuggingFaceNotInstalledError(
            f"loading a dataset for HuggingFace needs the 'datasets' package ({error}); install it with: {INSTALL_HINT}"
        ) from None
    return datasets


def features(schema: pa.Schema) -> Any:
    """The HuggingFace ``Features`` of an Arrow schema."""
    return require_datasets().Features.from_arrow_schema(schema)


def load(dataset: TabularSource, version_id: str | None = None, streaming: bool = False) -> Any:
    """A version (HEAD by default) as ``datasets.Dataset``, or ``datasets.IterableDataset`` when ``streaming``.

    ``dataset`` is a stored dataset (read straight from the store, nothing is
    pulled) or a :class:`PulledVersion`. In memory, the version's
    rows are read as :meth:`Dataset.read` reads them; streaming, they are
    read one batch at a time as the dataset is iterated.

    Raises:
        HuggingFaceNotInstalledError: ``datasets`` is not installed.
        NoTabularDataError: the version has no ``.csv`` or ``.parquet`` file.
        DataSchemaMismatchError: two files give one column clashing types.
        VersionNotFoundError: unknown version.
    """
    hf = require_datasets()
    resolved, paths, schema = version_schema(dataset, version_id)
    if streaming:
        source = _Source(dataset, resolved, schema)
        return hf.IterableDataset.from_generator(
            _rows, features=features(schema), gen_kwargs={"paths": list(paths), "source": source}
        )
    table = _conformed(dataset, resolved, paths, schema)
    return hf.Dataset(table, info=hf.DatasetInfo(features=features(schema)))


def _conformed(dataset: TabularSource, version_id: str, paths: Sequence[str], schema: pa.Schema) -> pa.Table:
    import pyarrow as pa

    tables = list(iter_tables(dataset, version_id, paths, schema))
    return pa.concat_tables(tables) if tables else schema.empty_table()


#: Live sources of streaming datasets, by token (see :class:`_Source`).
_SOURCES: weakref.WeakValueDictionary[str, _Source] = weakref.WeakValueDictionary()


class _Source:
    """What a streaming dataset reads: the dataset (its open store handle), the version, the schema.

    ``datasets`` pickles a generator's arguments to fingerprint them, and a
    store handle holds an S3 client, which does not pickle (nor should its
    credentials travel). So a source pickles as a token and unpickles, in this
    process, as the live source; the streaming dataset keeps it alive.
    """

    def __init__(self, dataset: TabularSource, version_id: str, schema: pa.Schema) -> None:
        self.dataset = dataset
        self.version_id = version_id
        self.schema = schema
        self.token = f"{dataset.name}@{version_id}:{uuid.uuid4().hex}"
        _SOURCES[self.token] = self

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (_live_source, (self.token,))


def _live_source(token: str) -> _Source:
    source = _SOURCES.get(token)
    if source is None:
        raise RuntimeError(
            f"streaming source {token} is not open in this process: iterate the streaming dataset in the process "
            "that loaded it (or load it in memory, streaming=False)"
        )
    return source


def _rows(paths: list[str], source: _Source) -> Iterator[dict[str, Any]]:
    # A module-level generator: `datasets` shards `paths` among its workers.
    for table in iter_tables(source.dataset, source.version_id, paths, source.schema):
        yield from table.to_pylist()
