"""Hostile records are refused before anything is written: width, value sizes, nesting, binary.

Each refusal is an InvalidRecordsError naming the limit, the record and the
field; the store stays untouched.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone

import pandas as pd
import pyarrow as pa
import pytest

from curation_pipeline.stream import InvalidRecordsError, RecordLimits, log_records, read_window
from curation_pipeline_tests.stream.conftest import stored_files

DAY1 = datetime(2024, 3, 1, tzinfo=timezone.utc)
EVERYTHING = (datetime(2000, 1, 1, tzinfo=timezone.utc), datetime(2100, 1, 1, tzinfo=timezone.utc))
MIB = 1 << 20


def row(i: int = 0, **values) -> dict:
    return {"record_id": f"r{i}", "__time": DAY1, **values}


def nested(depth: int) -> object:
    value: object = 1
    for _ in range(depth):
        value = {"x": value}
    return value


HOSTILE = [
    pytest.param(
        [row(0, **{f"inputs.c{i}": i for i in range(100_000)})],
        r"record 0 \(record_id 'r0'\) has 100002 columns, over the limit of 1000 columns per record "
        r"\(max_columns; first field over it: 'inputs.c998'\)",
        id="100k-columns-in-one-record",
    ),
    pytest.param(
        [row(i, **{f"inputs.c{i}-{j}": j for j in range(100)}) for i in range(20)],
        r"the batch has 1002 columns, over the limit of 1000 columns per record \(max_columns\): "
        r"record 9 \(record_id 'r9'\) adds field 'inputs.c9-98', column 1001",
        id="wide-union-over-records",
    ),
    pytest.param(
        pa.table({"record_id": ["a"], "__time": [DAY1], **{f"inputs.c{i}": [i] for i in range(1_000)}}),
        r"every record of the batch has 1002 columns, over the limit of 1000 .* first field over it: 'inputs.c998'",
        id="wide-table",
    ),
    pytest.param(
        pd.DataFrame({"__time": [DAY1], **{f"inputs.c{i}": [i] for i in range(1_500)}}),
        r"every record of the batch has 1501 columns, over the limit of 1000",
        id="wide-dataframe",
    ),
    pytest.param(
        [row(0), row(1, **{"inputs.text": "x" * (MIB + 1)})],
        r"record 1 \(record_id 'r1'\), field 'inputs.text': a value of 1,048,577 bytes, over the limit of "
        r"1,048,576 bytes per value \(max_value_bytes\)",
        id="big-string",
    ),
    pytest.param(
        [row(0, **{"inputs.text": "é" * (MIB // 2 + 1)})],
        r"record 0 .*'inputs.text': a value of 1,048,578 bytes",
        id="big-string-in-utf8-bytes",
    ),
    pytest.param(
        pa.table({"record_id": ["a", "b", "c"], "__time": [DAY1] * 3, "inputs.t": ["", "", "y" * (MIB + 5)]}),
        r"record 2 \(record_id 'c'\), field 'inputs.t': a value of 1,048,581 bytes",
        id="big-string-in-a-table",
    ),
    pytest.param(
        [row(0, **{"inputs.meta": {"a": 1}})],
        r"record 0 \(record_id 'r0'\), field 'inputs.meta': nested value \(dict\) refused; the stream is flat "
        r"\(declare nested values with allow_nested=True\)",
        id="dict-value",
    ),
    pytest.param([row(3, **{"inputs.tokens": [1, 2]})], r"record 0 \(record_id 'r3'\), field 'inputs.tokens': nested value \(list\)", id="list-value"),
    pytest.param(
        pd.DataFrame({"__time": [DAY1], "inputs.meta": [{"a": 1}]}),
        r"record 0, field 'inputs.meta': nested value \(dict\) refused",
        id="dict-in-a-dataframe",
    ),
    pytest.param(
        pa.table({"record_id": ["a"], "__time": [DAY1], "inputs.s": [{"a": 1}]}),
        r"field 'inputs.s': nested column type .*struct.* refused",
        id="struct-column",
    ),
    pytest.param([row(0, **{"inputs.blob": b"\x00\x01"})], r"field 'inputs.blob': binary value refused; .*allow_binary=True", id="bytes-value"),
    pytest.param(
        pa.table({"record_id": ["a"], "__time": [DAY1], "inputs.b": pa.array([b"x"], pa.binary())}),
        r"field 'inputs.b': binary column type 'binary' refused",
        id="binary-column",
    ),
    pytest.param(
        [row(0, **{"inputs.deep": nested(100_000)})],
        r"field 'inputs.deep': nested value \(dict\) refused",
        id="100k-deep-dict",
    ),
    pytest.param([row(0, **{"inputs." + "n" * 5000: 1, **{f"inputs.{i}": i for i in range(1000)}})], r"first field over it: 'inputs.997'", id="long-names-cut"),
]


@pytest.mark.parametrize("batch, message", HOSTILE)
def test_hostile_records_are_refused_naming_the_limit_record_and_field(local_store, batch, message):
    started = time.perf_counter()
    with pytest.raises(InvalidRecordsError, match=message) as raised:
        log_records("app", batch, local_store)
    assert time.perf_counter() - started < 5.0
    assert len(str(raised.value)) < 600  # a hostile name or value is not echoed whole
    assert stored_files(local_store) == []


def test_declared_nested_values_are_stored_up_to_the_depth_limit(local_store):
    log_records("app", [row(0, **{"inputs.meta": {"a": [1, 2], "b": "x"}})], local_store, allow_nested=True)
    meta = read_window("app", *EVERYTHING, store_url=local_store).to_table().column("inputs.meta").to_pylist()
    assert meta == [{"a": [1, 2], "b": "x"}]

    with pytest.raises(InvalidRecordsError, match=r"field 'inputs.deep': nested deeper than the limit of 8 levels \(max_depth\)"):
        log_records("app", [row(1, **{"inputs.deep": nested(9)})], local_store, allow_nested=True)
    started = time.perf_counter()
    with pytest.raises(InvalidRecordsError, match="max_depth"):
        log_records("app", [row(1, **{"inputs.deep": nested(100_000)})], local_store, allow_nested=True)
    assert time.perf_counter() - started < 5.0  # no recursion, no RecursionError
    deep_type = pa.int64()
    for _ in range(9):
        deep_type = pa.list_(deep_type)
    with pytest.raises(InvalidRecordsError, match=r"nested 9 levels deep, over the limit of 8 levels"):
        log_records("app", pa.table({"__time": [DAY1], "inputs.l": pa.array([None], deep_type)}), local_store, allow_nested=True)
    with pytest.raises(InvalidRecordsError, match=r"record 0 .*'inputs.meta': a value of 1,048,577 bytes"):
        log_records("app", [row(2, **{"inputs.meta": {"t": ["z" * (MIB + 1)]}})], local_store, allow_nested=True)
    with pytest.raises(InvalidRecordsError, match=r"record 1 \(record_id 'b'\), field 'inputs.s': a value of 1,048,577"):
        log_records(
            "app",
            pa.table({"record_id": ["a", "b"], "__time": [DAY1] * 2, "inputs.s": [["x"], ["", "z" * (MIB + 1)]]}),
            local_store,
            allow_nested=True,
        )


def test_declared_binary_values_are_stored_up_to_the_size_limit(local_store):
    log_records("app", [row(0, **{"inputs.blob": b"\x00\x01"})], local_store, allow_binary=True)
    table = read_window("app", *EVERYTHING, store_url=local_store).to_table()
    assert table.column("inputs.blob").to_pylist() == [b"\x00\x01"]
    with pytest.raises(InvalidRecordsError, match=r"'inputs.blob': a value of 1,048,577 bytes"):
        log_records("app", [row(1, **{"inputs.blob": b"x" * (MIB + 1)})], local_store, allow_binary=True)


def test_limits_can_be_set_per_call(local_store):
    tight = RecordLimits(max_columns=3, max_value_bytes=4, max_depth=1)
    with pytest.raises(InvalidRecordsError, match="over the limit of 3 columns"):
        log_records("app", [row(0, **{"inputs.a": 1, "inputs.b": 2})], local_store, limits=tight)
    with pytest.raises(InvalidRecordsError, match="over the limit of 4 bytes"):
        log_records("app", [row(0, **{"inputs.a": "hello"})], local_store, limits=tight)
    log_records("app", [{"__time": DAY1, "inputs.a": "hey"}], local_store, limits=tight)
    assert len(stored_files(local_store)) == 1


def test_a_foreign_file_wider_than_the_format_is_refused_by_readers(store_url):
    from curation_pipeline.stream import CorruptStreamFileError
    from curation_pipeline_tests.stream.test_reader import put_foreign_file

    log_records("app", [row(0)], store_url)
    wide = pa.table({"record_id": ["w"], "__time": [DAY1], **{f"inputs.c{i}": [i] for i in range(1_000)}})
    put_foreign_file(store_url, "app", "2024-03-01", "wide.parquet", wide)
    with pytest.raises(CorruptStreamFileError, match=r"wide.parquet: 1002 columns, over the limit of 1000 columns per record"):
        read_window("app", *EVERYTHING, store_url=store_url)
