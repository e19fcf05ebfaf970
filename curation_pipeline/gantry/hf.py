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

import keyword
import re
import uuid
import weakref
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from curation_pipeline.gantry.exceptions import HuggingFaceNotInstalledError
from curation_pipeline.store.tabular import iter_tables, version_schema

if TYPE_CHECKING:
    import pyarrow as pa

INSTALL_HINT = "pip install 'curation_pipeline[hf]'"


class TabularSource(Protocol):
    """What loading reads: a :class:`~curation_pipeline.store.Dataset` (any object with these calls)."""

    @property
    def name(self) -> str: ...

    def resolve_version(self, version_id: str | None = None) -> str: ...

    def tabular_paths(self, version_id: str | None = None) -> list[str]: ...

    def open_file(self, path: str, version_id: str | None = None) -> Any: ...


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


def dataset_name(name: str, hf_dataset_name: str | None = None) -> str:
    """The HuggingFace dataset name: ``hf_dataset_name``, else ``name`` cleaned as Gantry cleans it.

    Gantry's rule: a Python identifier that is not a keyword; the default keeps
    ``name``'s letters, digits and underscores, from its first letter or underscore.

    Raises:
        ValueError: ``hf_dataset_name`` is given and is not such an identifier.
    """
    if hf_dataset_name is not None:
        if not hf_dataset_name.isidentifier() or keyword.iskeyword(hf_dataset_name):
            raise ValueError(
                f"hf_dataset_name={hf_dataset_name!r} is not a valid Python identifier; "
                "give one such as 'reviews_to_label'"
            )
        return hf_dataset_name
    cleaned = re.sub("^[^a-zA-Z_]+", "", re.sub("[^0-9a-zA-Z_]", "", name))
    return cleaned if cleaned and not keyword.iskeyword(cleaned) else "dataset"


def load(
    dataset: TabularSource,
    version_id: str | None = None,
    streaming: bool = False,
    name: str | None = None,
) -> Any:
    """A version (HEAD by default) as ``datasets.Dataset``, or ``datasets.IterableDataset`` when ``streaming``.

    ``dataset`` is a stored dataset, read straight from the store (nothing is
    pulled); ``name`` becomes the result's ``info.dataset_name``. In memory, the version's
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
        iterable = hf.IterableDataset.from_generator(
            _rows,
            features=features(schema),
            gen_kwargs={"paths": list(paths), "source": source},
        )
        iterable.info.dataset_name = name
        return iterable
    table = _conformed(dataset, resolved, paths, schema)
    return hf.Dataset(table, info=hf.DatasetInfo(features=features(schema), dataset_name=name))


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
