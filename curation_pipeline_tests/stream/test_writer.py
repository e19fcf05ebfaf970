from __future__ import annotations

import re
import threading
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from curation_pipeline.names import InvalidNameError
from curation_pipeline.stream import (
    TIME_TYPE,
    InvalidApplicationNameError,
    InvalidRecordsError,
    StreamError,
    StreamStorageError,
    log_records,
    read_window,
)
from curation_pipeline.stream import writer as writer_module
from curation_pipeline.stream.filesystems import open_store
from curation_pipeline.stream.parquet_files import ROW_GROUP_SIZE
from curation_pipeline_tests.stream.conftest import stored_files

UTC = timezone.utc
DAY1 = datetime(2024, 3, 1, tzinfo=UTC)
EVERYTHING = (datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))


def records(n: int = 4, start: datetime = DAY1, step: timedelta = timedelta(hours=10)) -> list[dict]:
    return [
        {
            "record_id": f"r{i}",
            "__time": start + i * step,
            "inputs.text": f"text {i}",
            "outputs.label": "a" if i % 2 else "b",
            "feedback.label": None,
            "tags.env": "prod",
        }
        for i in range(n)
    ]


def read_all(application: str, store_url: str) -> pa.Table:
    return read_window(application, *EVERYTHING, store_url=store_url).to_table().sort_by("__time")


def test_round_trip_splits_by_utc_day(store_url):
    result = log_records("app", records(5), store_url)  # 0h, 10h, 20h, 30h, 40h -> 2 days

    assert result.application == "app"
    assert result.rows == 5
    assert len(result.files) == 2
    assert result.first_time == DAY1 and result.last_time == DAY1 + timedelta(hours=40)
    files = stored_files(store_url)
    assert [f.rsplit("/", 1)[0] for f in files] == ["streams/app/date=2024-03-01", "streams/app/date=2024-03-02"]
    assert all(re.fullmatch(r"part-[0-9a-f]{32}\.parquet", f.rsplit("/", 1)[1]) for f in files)
    table = read_all("app", store_url)
    assert table.column("record_id").to_pylist() == ["r0", "r1", "r2", "r3", "r4"]
    assert table.schema.field("__time").type == TIME_TYPE
    assert table.column_names[:2] == ["record_id", "__time"]


def test_each_file_is_sorted_by_time_with_statistics(local_store):
    shuffled = records(6)[::-1]
    log_records("app", shuffled, local_store)

    store = open_store(local_store)
    for name in stored_files(local_store):
        parquet = pq.ParquetFile(f"{store.root}/{name}")
        times = parquet.read().column("__time")
        assert times.to_pylist() == sorted(times.to_pylist())
        stats = parquet.metadata.row_group(0).column(1).statistics
        assert stats.has_min_max


def test_ids_and_times_are_written_plain_other_columns_with_dictionaries(local_store):
    log_records("app", records(6), local_store)

    store = open_store(local_store)
    for name in stored_files(local_store):
        group = pq.ParquetFile(f"{store.root}/{name}").metadata.row_group(0)
        encodings = {group.column(i).path_in_schema: group.column(i).encodings for i in range(group.num_columns)}
        for column, used in encodings.items():
            dictionary = "RLE_DICTIONARY" in used
            assert dictionary == (column not in ("record_id", "__time")), (column, used)


def test_accepts_dataframe_with_zoned_times_and_table(local_store):
    paris = pd.DataFrame(
        {"record_id": ["p1"], "__time": [pd.Timestamp("2024-03-01 01:30", tz="Europe/Paris")], "inputs.x": [1.5]}
    )
    table = pa.table({"record_id": ["t1"], "__time": pa.array([DAY1], pa.timestamp("s", tz="UTC"))})

    log_records("app", paris, local_store)
    log_records("app", table, local_store)

    result = read_all("app", local_store)
    assert result.column("__time").to_pylist() == [
        DAY1,
        datetime(2024, 3, 1, 0, 30, tzinfo=UTC),  # 01:30 in Paris, UTC+1 in March
    ]
    assert result.column("inputs.x").to_pylist() == [None, 1.5]


def test_naive_times_are_utc_and_iso_strings_parse(local_store):
    log_records(
        "app",
        [
            {"record_id": "naive", "__time": datetime(2024, 3, 1, 12)},
        ],
        local_store,
    )
    log_records(
        "app",
        [
            {"record_id": "z", "__time": "2024-03-01T13:00:00Z"},
            {"record_id": "offset", "__time": "2024-03-01T16:00:00+02:00"},
            {"record_id": "space", "__time": "2024-03-01 15:00:00.250"},
        ],
        local_store,
    )
    table = read_all("app", local_store)
    assert table.column("record_id").to_pylist() == ["naive", "z", "offset", "space"]
    assert table.column("__time").to_pylist()[3] == datetime(2024, 3, 1, 15, 0, 0, 250000, tzinfo=UTC)


def test_nanoseconds_are_truncated_to_microseconds(local_store):
    nanos = pa.array([1_709_251_200_123_456_789], pa.timestamp("ns"))
    log_records("app", pa.table({"record_id": ["n"], "__time": nanos}), local_store)

    assert read_all("app", local_store).column("__time")[0].as_py() == datetime(
        2024, 3, 1, 0, 0, 0, 123456, tzinfo=UTC
    )


def test_missing_ids_and_times_are_filled(local_store):
    before = datetime.now(UTC)
    result = log_records("app", [{"inputs.a": 1}, {"inputs.a": 2}], local_store)
    after = datetime.now(UTC)

    table = read_window("app", before - timedelta(seconds=1), after + timedelta(seconds=1), local_store).to_table()
    ids = table.column("record_id").to_pylist()
    assert result.rows == 2 and len(set(ids)) == 2
    assert all(re.fullmatch(r"[0-9a-f-]{36}", i) for i in ids)
    assert all(before <= t <= after for t in table.column("__time").to_pylist())


def test_null_ids_get_fresh_uuids(local_store):
    log_records("app", [{"record_id": "given", "__time": DAY1}, {"record_id": None, "__time": DAY1}], local_store)

    ids = read_all("app", local_store).column("record_id").to_pylist()
    assert "given" in ids and None not in ids and len(set(ids)) == 2


def _batch(**columns) -> pa.Table:
    base = {"record_id": ["a", "b"], "__time": pa.array([DAY1, DAY1], TIME_TYPE)}
    base.update(columns)
    return pa.table(base)


BAD_BATCHES = [
    pytest.param([{"record_id": "a", "__time": 1_709_251_200}], r"'__time' must hold timestamps .* got int64", id="int-time"),
    pytest.param([{"record_id": "a", "__time": True}], r"got bool", id="bool-time"),
    pytest.param(
        [{"record_id": "a", "__time": "2024-03-01"}, {"record_id": "b", "__time": "yesterday"}],
        r"'yesterday' at row 1 is not an ISO-8601",
        id="unparseable-time",
    ),
    pytest.param([{"record_id": "a", "__time": DAY1}, {"record_id": "b", "__time": None}], r"null '__time' at row\(s\) 1", id="null-time"),
    pytest.param(_batch(record_id=["a", "a"]), r"duplicate 'record_id' in batch: 'a' at rows 0, 1", id="duplicate-ids"),
    pytest.param(_batch(record_id=[1, 2]), r"'record_id' must hold strings, got int64", id="int-ids"),
    pytest.param(_batch(record_id=["a", ""]), r"empty 'record_id' at row\(s\) 1", id="empty-id"),
    pytest.param(_batch(**{"score": [1, 2]}), r"invalid column name\(s\) 'score'", id="unprefixed-column"),
    pytest.param(_batch(**{"inputs.": [1, 2]}), r"invalid column name\(s\) 'inputs.'", id="empty-name"),
    pytest.param(_batch(**{"input.x": [1, 2]}), r"invalid column name\(s\) 'input.x'", id="unknown-prefix"),
    pytest.param([{"record_id": "a", "__time": DAY1}, "not a dict"], r"row 1 is a str, expected a dict", id="non-dict-row"),
    pytest.param([{"inputs.a": 1}, {"inputs.a": "x"}], r"column 'inputs.a': values of mixed", id="mixed-types"),
    pytest.param(42, r"records must be a list of dicts, a pandas DataFrame or a pyarrow Table, got int", id="not-records"),
    pytest.param(
        pd.DataFrame([[DAY1, DAY1]], columns=["__time", "__time"]), r"duplicate column names: __time", id="duplicate-columns"
    ),
]


@pytest.mark.parametrize("batch, message", BAD_BATCHES)
def test_bad_batches_are_rejected_and_nothing_is_written(local_store, batch, message):
    with pytest.raises(InvalidRecordsError, match=message) as raised:
        log_records("app", batch, local_store)

    assert isinstance(raised.value, (StreamError, ValueError))
    assert stored_files(local_store) == []


@pytest.mark.parametrize("name", ["App\n", "", "a/b", "x" * 256, None])
def test_bad_application_name(local_store, name):
    with pytest.raises(InvalidApplicationNameError, match="invalid application name") as raised:
        log_records(name, records(1), local_store)

    assert isinstance(raised.value, InvalidNameError)
    assert stored_files(local_store) == []


def test_empty_batch_is_a_no_op(local_store):
    for empty in ([], pd.DataFrame({"record_id": pd.Series([], dtype=str)}), records(0)):
        result = log_records("app", empty, local_store)
        assert (result.rows, result.files, result.first_time, result.last_time) == (0, (), None, None)
    assert stored_files(local_store) == []


def test_empty_batch_still_checks_column_names(local_store):
    with pytest.raises(InvalidRecordsError, match="'bad'"):
        log_records("app", pd.DataFrame({"bad": []}), local_store)


def test_failed_upload_removes_the_days_already_written(local_store, monkeypatch):
    real_put = writer_module.put_file
    calls = []

    def put_then_fail(store, path, data):
        calls.append(path)
        if len(calls) == 2:
            raise StreamStorageError("disk full")
        real_put(store, path, data)

    monkeypatch.setattr(writer_module, "put_file", put_then_fail)
    with pytest.raises(StreamStorageError, match="disk full"):
        log_records("app", records(5), local_store)

    assert len(calls) == 2
    assert stored_files(local_store) == []


def test_missing_bucket_is_a_storage_error(aws_env):
    with pytest.raises(StreamStorageError, match="cannot write s3://no-such-bucket-"):
        log_records("app", records(1), "s3://no-such-bucket-for-stream-tests/x")


def test_concurrent_writers_never_clobber_each_other(store_url):
    def write(worker: int) -> None:
        batch = [{"record_id": f"w{worker}-{i}", "__time": DAY1 + timedelta(minutes=i)} for i in range(10)]
        log_records("app", batch, store_url)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(stored_files(store_url)) == 6
    assert read_all("app", store_url).num_rows == 60


def test_no_temp_files_are_left_behind(local_store):
    log_records("app", records(3), local_store)
    assert not [f for f in stored_files(local_store) if "/." in f or f.endswith(".tmp")]


def test_a_day_bigger_than_one_row_group(local_store):
    rows = ROW_GROUP_SIZE * 2 + 100
    micros = pa.array(range(rows), pa.int64())
    table = pa.table(
        {
            "record_id": pc.cast(micros, pa.string()),
            "__time": pc.cast(pc.add(micros, int(DAY1.timestamp()) * 1_000_000), pa.int64()).cast(TIME_TYPE),
            "inputs.i": micros,
        }
    )
    log_records("app", table, local_store)

    (name,) = stored_files(local_store)
    path = f"{open_store(local_store).root}/{name}"
    assert pq.ParquetFile(path).metadata.num_row_groups == 3
    start = DAY1 + timedelta(microseconds=ROW_GROUP_SIZE + 10)
    end = start + timedelta(microseconds=20)
    window = read_window("app", start, end, local_store)
    assert window.to_table().column("inputs.i").to_pylist() == list(range(ROW_GROUP_SIZE + 10, ROW_GROUP_SIZE + 30))
    # Statistics let the scan skip the groups outside the window.
    fragment = next(ds.dataset(path, format="parquet").get_fragments())
    in_window = (ds.field("__time") >= pa.scalar(start, TIME_TYPE)) & (ds.field("__time") < pa.scalar(end, TIME_TYPE))
    assert len(fragment.split_by_row_group(in_window)) == 1


def test_dates_before_1970_split_correctly(local_store):
    old = datetime(1969, 12, 31, 23, 59, tzinfo=UTC)
    result = log_records("app", [{"__time": old}, {"__time": old + timedelta(minutes=2)}], local_store)
    assert [f.rsplit("/", 2)[1] for f in result.files] == ["date=1969-12-31", "date=1970-01-01"]


def test_log_result_time_range_is_utc(local_store):
    result = log_records("app", [{"__time": datetime(2024, 3, 1, 9, tzinfo=ZoneInfo("Asia/Tokyo"))}], local_store)
    assert result.first_time == datetime(2024, 3, 1, 0, tzinfo=UTC)
    assert result.first_time.tzinfo is UTC
    assert date(2024, 3, 1).isoformat() in result.files[0]
