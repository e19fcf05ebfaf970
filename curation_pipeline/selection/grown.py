"""A window that grew after it was curated: the records it had, and the ones that arrived late.

Both parts are what the engine accepts (a ``pyarrow.Table``, a
``pyarrow.dataset.Dataset``, or a Parquet dataset with its filter apart,
:class:`~curation_pipeline.selection.window.FilteredParquet`; the old part
keeps that form for the engine's row-group reads). They are brought to one schema the way a
dataset over both parts' files would read them: a column one part lacks reads
as nulls there, and the columns keep the old part's order, late-only columns
after them. Columns present in both with different types cannot be read as
one window: :class:`SchemaMismatchError` names each of them.

A late row whose ``record_id`` the old part already holds is a redelivery (a
producer's retry), not a late record: it is counted in ``redelivered_rows``
and left out of the late part, so the record is neither counted twice in the
window's figures nor picked twice.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from curation_pipeline.fields import RECORD_ID
from curation_pipeline.selection.errors import SchemaMismatchError, SelectionError
from curation_pipeline.selection.filters import column_type
from curation_pipeline.selection.window import FilteredParquet

Data = pa.Table | ds.Dataset


@dataclass(frozen=True)
class GrownWindow:
    """The two parts of a grown window, on one schema.

    ``late`` holds only the late rows whose ``record_id`` is new to the
    window; ``late_rows`` counts every row passed as late, of which
    ``redelivered_rows`` repeated a record the old part holds. ``late_ids``
    are the distinct ids of ``late``.
    """

    old: Data
    late: Data
    schema: pa.Schema
    late_rows: int
    redelivered_rows: int
    late_ids: pa.Array
    old_source: Data | FilteredParquet | None = None

    @property
    def old_for_selection(self) -> Data | FilteredParquet:
        """The old part as the engine reads it fastest (its files and filter apart, when given so)."""
        return self.old if self.old_source is None else self.old_source


def as_dataset(data: Data | FilteredParquet) -> Data:
    """``data`` as a table or dataset: a :class:`FilteredParquet` becomes its filtered dataset."""
    if isinstance(data, (pa.Table, ds.Dataset)) or not isinstance(data, FilteredParquet):
        return data
    return data.dataset if data.filter is None else data.dataset.filter(data.filter)


def grow(old: Data | FilteredParquet, late: Data | FilteredParquet) -> GrownWindow:
    """The grown window of ``old`` (records curated before) and ``late`` (records that arrived since).

    Raises:
        SelectionError: either part is not a table or dataset.
        MissingFieldError: either part has no ``record_id`` column.
        SchemaMismatchError: a column has different types in the two parts.
    """
    source = old if isinstance(old, FilteredParquet) and not isinstance(old, (pa.Table, ds.Dataset)) else None
    old, late = as_dataset(old), as_dataset(late)
    for data, where in ((old, "old records"), (late, "late records")):
        if not isinstance(data, (pa.Table, ds.Dataset)):
            raise SelectionError(f"{where}: data must be a pyarrow Table or Dataset, got {type(data).__name__}")
        column_type(data.schema, RECORD_ID, where)
    schema = unified_schema(old.schema, late.schema)
    if source is not None and not old.schema.equals(schema, check_metadata=False):
        source = None  # the old part must be read on the grown schema: through its dataset
    old, late = conform(old, schema), conform(late, schema)
    ids = _ids(late)
    distinct = pc.unique(pc.drop_null(ids))
    again = _present(old, distinct)
    redelivered = 0
    if len(again):
        redelivered = int(pc.sum(pc.is_in(ids, value_set=again)).as_py())
        distinct = distinct.filter(pc.invert(pc.is_in(distinct, value_set=again)))
        late = late.filter(~pc.field(RECORD_ID).isin(again))
    return GrownWindow(old, late, schema, len(ids), redelivered, distinct, source)


def unified_schema(old: pa.Schema, late: pa.Schema) -> pa.Schema:
    """One schema for both parts: the old columns in order, then late-only ones."""
    late_types = {field.name: field.type for field in late}
    clashes = [
        f"{field.name!r} is {field.type} in the old records but {late_types[field.name]} in the late ones"
        for field in old
        if field.name in late_types
        and field.type != late_types[field.name]
        and not pa.types.is_null(field.type)
        and not pa.types.is_null(late_types[field.name])
    ]
    if clashes:
        raise SchemaMismatchError("the late records do not fit the window's columns: " + "; ".join(clashes))
    return pa.unify_schemas([old, late])


def conform(data: Data, schema: pa.Schema) -> Data:
    """``data`` read with ``schema``: missing columns as nulls, columns in its order."""
    if data.schema.equals(schema, check_metadata=False):
        return data
    if isinstance(data, ds.Dataset):
        return data.replace_schema(schema)  # keeps a filtered dataset's filter
    columns = [
        data.column(field.name).cast(field.type)
        if field.name in data.column_names
        else pa.nulls(data.num_rows, field.type)
        for field in schema
    ]
    return pa.Table.from_arrays(columns, schema=schema)


def _ids(data: Data) -> pa.Array:
    """Every row's ``record_id``."""
    column = data.column(RECORD_ID) if isinstance(data, pa.Table) else data.to_table(columns=[RECORD_ID]).column(0)
    return column.combine_chunks()


def _present(data: Data, ids: pa.Array) -> pa.Array:
    """Those of ``ids`` that ``data`` holds (a narrow read of ``record_id`` filtered by them)."""
    if len(ids) == 0:
        return ids
    wanted = pc.field(RECORD_ID).isin(ids)
    found = (
        data.filter(wanted).column(RECORD_ID)
        if isinstance(data, pa.Table)
        else data.to_table(columns=[RECORD_ID], filter=wanted).column(0)
    )
    return pc.unique(found.combine_chunks())
