"""The compact-protocol reader and writer used for Parquet footers and page indexes."""

from __future__ import annotations

import io

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curation_pipeline.selection import thrift_compact as tc

EDGE_INTEGERS = [0, 1, -1, 63, -64, 64, 2**31 - 1, -(2**31), 2**62, 2**63 - 1, -(2**63)]


@pytest.mark.parametrize("value", EDGE_INTEGERS)
def test_integers_round_trip(value: int) -> None:
    out = bytearray()
    tc.write_int(out, value)
    assert tc.read_int(bytes(out), 0) == (value, len(out))


def _sample_struct() -> bytes:
    out = bytearray()
    outer = tc.StructWriter(out)
    outer.int_field(1, tc.I32, -7)
    outer.raw_field(3, tc.BINARY, b"\x05hello")
    outer.int_field(40, tc.I64, 2**40)  # a jump of more than 15: long-form field id
    outer.list_field(41, tc.I64, 20)  # 15 elements or more: long-form list size
    for number in range(20):
        tc.write_int(out, number * 1000)
    inner = outer.struct_field(42)
    inner.int_field(1, tc.I16, 3)
    inner.end()
    outer.raw_field(43, tc.BOOL_TRUE, b"")
    outer.int_field(44, tc.I32, 9)
    outer.end()
    return bytes(out)


def test_walker_reads_what_the_writer_wrote() -> None:
    data = _sample_struct()
    walker = tc.FieldWalker(data, 0)
    seen = {}
    for field_id, type_ in walker:
        if field_id == 3:
            start, end = walker.raw()
            seen[3] = data[start:end]
        elif field_id == 41:
            size, element = walker.list_header()
            values = []
            for _ in range(size):
                value, walker.pos = tc.read_int(data, walker.pos)
                values.append(value)
            seen[41] = (element, values)
        elif field_id == 42:
            inner = walker.enter()
            seen[42] = [(f, inner.read_int()) for f, _ in inner]
            walker.pos = inner.pos
        elif field_id == 43:
            seen[43] = type_
        else:
            seen[field_id] = walker.read_int()
    assert walker.pos == len(data)
    assert seen == {
        1: -7,
        3: b"\x05hello",
        40: 2**40,
        41: (tc.I64, [n * 1000 for n in range(20)]),
        42: [(1, 3)],
        43: tc.BOOL_TRUE,
        44: 9,
    }


def test_skipping_lands_after_the_struct() -> None:
    data = _sample_struct() + b"tail"
    assert tc.skip_struct(data, 0) == len(data) - 4
    assert tc.skip_value(data, 0, tc.STRUCT) == len(data) - 4


def test_skip_walks_a_real_parquet_footer_exactly() -> None:
    table = pa.table({"a": list(range(1000)), "b": [str(i % 7) for i in range(1000)], "c": [None, 1.5] * 500})
    sink = io.BytesIO()
    pq.write_table(table, sink, row_group_size=300, write_page_index=True, max_rows_per_page=64)
    raw = sink.getvalue()
    length = int.from_bytes(raw[-8:-4], "little")
    footer = raw[-8 - length : -8]
    assert tc.skip_struct(footer, 0) == len(footer)


@pytest.mark.parametrize("cut", [1, 5, 12, 20])
def test_truncated_bytes_raise_a_thrift_error(cut: int) -> None:
    data = _sample_struct()
    with pytest.raises(tc.ThriftError):
        tc.skip_struct(data[:cut], 0)


def test_unknown_types_are_refused() -> None:
    with pytest.raises(tc.ThriftError, match="unknown compact type"):
        tc.skip_value(b"\x00", 0, 14)


def test_walker_refuses_a_field_of_another_type() -> None:
    out = bytearray()
    writer = tc.StructWriter(out)
    writer.raw_field(1, tc.BINARY, b"\x01x")
    writer.end()
    walker = tc.FieldWalker(bytes(out), 0)
    next(walker)
    with pytest.raises(tc.ThriftError, match="expected an integer"):
        walker.read_int()
