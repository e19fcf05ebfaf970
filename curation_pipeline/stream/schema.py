"""One schema over files from many writers.

Files may order columns differently, add columns, or store ``__time`` in
another unit or zone or naive. ``__time`` becomes a UTC timestamp, in
microseconds unless some file stores nanoseconds: Arrow casts when scanning
and refuses a lossy cast, so the finest unit wins rather than failing the read.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa

from curation_pipeline.stream.errors import CorruptStreamFileError
from curation_pipeline.stream.layout import RECORD_ID, TIME, TIME_TYPE
from curation_pipeline.stream.limits import DEFAULT_LIMITS

BASE_SCHEMA = pa.schema([(RECORD_ID, pa.string()), (TIME, TIME_TYPE)])


def unify_stream_schema(schemas: Sequence[tuple[str, pa.Schema]]) -> pa.Schema:
    """Merge ``(uri, schema)`` pairs into one, ``record_id`` and ``__time`` first.

    Raises CorruptStreamFileError naming the file whose ``__time`` is missing
    or not a timestamp, or that is wider than the record format allows (a
    foreign writer's file with 100,000 columns would make every read of its
    day hold them all), or when a column has irreconcilable types.
    """
    if not schemas:
        return BASE_SCHEMA
    time_type = TIME_TYPE
    normalised = []
    limit = DEFAULT_LIMITS.max_columns
    for uri, schema in schemas:
        if len(schema) > limit:
            raise CorruptStreamFileError(
                f"{uri}: {len(schema)} columns, over the limit of {limit} columns per record (max_columns)"
            )
        index = schema.get_field_index(TIME)
        if index < 0:
            raise CorruptStreamFileError(f"{uri}: no {TIME!r} column")
        kind = schema.field(index).type
        if not pa.types.is_timestamp(kind):
            raise CorruptStreamFileError(f"{uri}: {TIME!r} is {kind}, expected a timestamp")
        if kind.unit == "ns":
            time_type = pa.timestamp("ns", tz="UTC")
        # Zones and units are settled below; unify the rest of the schema.
        normalised.append(schema.set(index, pa.field(TIME, TIME_TYPE)).remove_metadata())
    try:
        merged = pa.unify_schemas([BASE_SCHEMA, *normalised], promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise CorruptStreamFileError(f"files disagree on column types: {exc}") from None
    merged = merged.set(merged.get_field_index(TIME), pa.field(TIME, time_type))
    return merged.remove_metadata()
