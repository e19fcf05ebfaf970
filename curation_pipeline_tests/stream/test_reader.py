from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curation_pipeline.stream import (
    TIME_TYPE,
    CorruptStreamFileError,
    InvalidApplicationNameError,
    InvalidWindowError,
    list_applications,
    log_records,
    read_window,
    stream_stats,
)
from curation_pipeline.stream.filesystems import open_store

UTC = timezone.utc
T0 = datetime(2024, 3, 1, 12, tzinfo=UTC)
US = timedelta(microseconds=1)


def ids(dataset) -> list[str]:
    return sorted(dataset.to_table(columns=["record_id"]).column("record_id").to_pylist())


def put_foreign_file(store_url: str, application: str, day: str, name: str, table: pa.Table, **options) -> str:
    """A file as another writer (e.g. a Firehose delivery) would leave it."""
    store = open_store(store_url)
    folder = f"{store.root}/streams/{application}/date={day}"
    store.filesystem.create_dir(folder, recursive=True)
    path = f"{folder}/{name}"
    pq.write_table(table, path, filesystem=store.filesystem, **options)
    return path


def test_start_is_included_and_end_excluded(store_url):
    end = T0 + timedelta(hours=1)
    log_records(
        "app",
        [
            {"record_id": "before", "__time": T0 - US},
            {"record_id": "start", "__time": T0},
            {"record_id": "last", "__time": end - US},
            {"record_id": "end", "__time": end},
        ],
        store_url,
    )

    assert ids(read_window("app", T0, end, store_url)) == ["last", "start"]


def test_window_spanning_midnight_and_inside_one_day(store_url):
    times = {f"h{h}": datetime(2024, 3, 1, tzinfo=UTC) + timedelta(hours=h) for h in range(0, 72, 6)}
    log_records("app", [{"record_id": k, "__time": v} for k, v in times.items()], store_url)

    across = read_window("app", datetime(2024, 3, 1, 23, tzinfo=UTC), datetime(2024, 3, 3, 1, tzinfo=UTC), store_url)
    inside = read_window("app", datetime(2024, 3, 2, 5, tzinfo=UTC), datetime(2024, 3, 2, 13, tzinfo=UTC), store_url)

    assert ids(across) == sorted(f"h{h}" for h in range(24, 49, 6))
    assert ids(inside) == ["h30", "h36"]


def test_long_window_over_many_days(local_store):
    log_records("app", [{"record_id": "old", "__time": datetime(2001, 1, 1)}, {"record_id": "new", "__time": T0}], local_store)

    assert ids(read_window("app", datetime(2000, 1, 1), datetime(2100, 1, 1), local_store)) == ["new", "old"]


def test_naive_and_zoned_window_bounds(local_store):
    log_records("app", [{"record_id": "noon", "__time": T0}], local_store)

    assert ids(read_window("app", datetime(2024, 3, 1, 12), datetime(2024, 3, 1, 12, 1), local_store)) == ["noon"]
    tokyo = ZoneInfo("Asia/Tokyo")  # noon UTC is 21:00 in Tokyo
    assert ids(read_window("app", datetime(2024, 3, 1, 21, tzinfo=tokyo), datetime(2024, 3, 1, 22, tzinfo=tokyo), local_store)) == ["noon"]
    assert ids(read_window("app", datetime(2024, 3, 1, 12, tzinfo=tokyo), datetime(2024, 3, 1, 13, tzinfo=tokyo), local_store)) == []


def test_bad_windows(local_store):
    with pytest.raises(InvalidWindowError, match="before start"):
        read_window("app", T0, T0 - US, local_store)
    with pytest.raises(InvalidWindowError, match="start must be a datetime, got str"):
        read_window("app", "2024-03-01", T0, local_store)
    with pytest.raises(InvalidApplicationNameError):
        read_window("Bad/App", T0, T0, local_store)


def test_empty_window_and_unknown_application(store_url):
    log_records("app", [{"record_id": "a", "__time": T0}], store_url)

    for dataset in (read_window("app", T0, T0, store_url), read_window("nobody", T0, T0 + timedelta(days=3), store_url)):
        table = dataset.to_table()
        assert table.num_rows == 0
        assert table.schema.field("record_id").type == pa.string()
        assert table.schema.field("__time").type == TIME_TYPE


def test_result_is_a_lazy_filtered_dataset(local_store):
    log_records("app", [{"record_id": str(i), "__time": T0 + i * US, "inputs.x": i} for i in range(10)], local_store)

    dataset = read_window("app", T0 + 2 * US, T0 + 5 * US, local_store)
    assert dataset.count_rows() == 3
    assert dataset.to_table(columns=["inputs.x"]).column(0).to_pylist() == [2, 3, 4]


def test_files_from_a_foreign_writer_are_unified(store_url):
    log_records("app", [{"record_id": "ours", "__time": T0, "inputs.text": "hi", "outputs.score": 1}], store_url)
    put_foreign_file(
        store_url, "app", "2024-03-01", "firehose-1.parquet",
        pa.table(
            {
                "outputs.score": pa.array([2.5]),  # other column order, int vs double
                "tags.region": ["eu"],  # a column we never wrote
                "__time": pa.array([int((T0.timestamp() + 1) * 1e9) + 789], pa.timestamp("ns")),  # naive ns
                "record_id": pa.array(["theirs"], pa.large_string()),
            }
        ),
    )
    put_foreign_file(
        store_url, "app", "2024-03-01", "firehose-2.parquet",
        pa.table(
            {
                "record_id": ["zoned"],
                "__time": pa.array([T0 + timedelta(seconds=2)], pa.timestamp("ms", tz="America/New_York")),
            }
        ),
    )

    table = read_window("app", T0, T0 + timedelta(minutes=1), store_url).to_table().sort_by("__time")

    assert table.column_names[:2] == ["record_id", "__time"]
    assert set(table.column_names) == {"record_id", "__time", "inputs.text", "outputs.score", "tags.region"}
    assert table.column("record_id").to_pylist() == ["ours", "theirs", "zoned"]
    assert table.column("outputs.score").to_pylist() == [1.0, 2.5, None]
    assert table.column("tags.region").to_pylist() == [None, "eu", None]
    # A nanosecond file makes the whole window nanoseconds, in UTC, rather than a lossy cast.
    assert table.schema.field("__time").type == pa.timestamp("ns", tz="UTC")
    assert table.column("__time")[1].value == int((T0.timestamp() + 1) * 1e9) + 789
    assert table.column("__time")[2].as_py() == T0 + timedelta(seconds=2)


def test_microsecond_files_keep_microseconds(local_store):
    put_foreign_file(
        local_store, "app", "2024-03-01", "a.parquet",
        pa.table({"record_id": ["s"], "__time": pa.array([T0], pa.timestamp("s"))}),
    )
    dataset = read_window("app", T0, T0 + US, local_store)
    assert dataset.schema.field("__time").type == TIME_TYPE
    assert ids(dataset) == ["s"]


def test_folders_outside_the_window_are_never_opened(store_url):
    log_records("app", [{"record_id": "good", "__time": T0}], store_url)
    store = open_store(store_url)
    for day in ("2024-02-29", "2024-03-02"):
        folder = f"{store.root}/streams/app/date={day}"
        store.filesystem.create_dir(folder, recursive=True)
        with store.filesystem.open_output_stream(f"{folder}/corrupt.parquet") as out:
            out.write(b"not parquet at all")

    assert ids(read_window("app", datetime(2024, 3, 1), datetime(2024, 3, 2), store_url)) == ["good"]
    with pytest.raises(CorruptStreamFileError, match=r"date=2024-03-02/corrupt\.parquet"):
        read_window("app", datetime(2024, 3, 1), datetime(2024, 3, 3), store_url)


def test_hidden_and_non_parquet_files_are_ignored(local_store):
    log_records("app", [{"record_id": "good", "__time": T0}], local_store)
    folder = f"{open_store(local_store).root}/streams/app/date=2024-03-01"
    for name in (".part-x.parquet.tmp", "_SUCCESS", "notes.txt", "_tmp.parquet"):
        with open(f"{folder}/{name}", "w") as handle:
            handle.write("junk")

    assert ids(read_window("app", T0, T0 + US, local_store)) == ["good"]
    assert stream_stats("app", local_store).files == 1


def test_file_without_time_or_with_clashing_types(local_store):
    put_foreign_file(local_store, "app", "2024-03-01", "no-time.parquet", pa.table({"record_id": ["x"]}))
    with pytest.raises(CorruptStreamFileError, match=r"no-time\.parquet: no '__time' column"):
        read_window("app", T0, T0 + US, local_store)

    put_foreign_file(local_store, "other", "2024-03-01", "a.parquet", pa.table({"__time": pa.array([T0]), "inputs.x": [1]}))
    put_foreign_file(local_store, "other", "2024-03-01", "b.parquet", pa.table({"__time": pa.array([T0]), "inputs.x": ["1"]}))
    with pytest.raises(CorruptStreamFileError, match="inputs.x"):
        read_window("other", T0, T0 + US, local_store)


def test_stream_stats(store_url):
    log_records("app", [{"__time": T0}, {"__time": T0 + timedelta(days=1)}], store_url)
    log_records("app", [{"__time": T0 + timedelta(days=1, hours=3)}], store_url)

    stats = stream_stats("app", store_url)

    assert (stats.application, stats.files, stats.rows) == ("app", 3, 3)
    assert (stats.first_date, stats.last_date) == (date(2024, 3, 1), date(2024, 3, 2))
    assert stats.latest_time == T0 + timedelta(days=1, hours=3)
    assert stats.to_dict()["latest_time"] == "2024-03-02T15:00:00+00:00"


def test_stream_stats_without_statistics_or_data(local_store):
    put_foreign_file(
        local_store, "app", "2024-03-01", "plain.parquet",
        pa.table({"record_id": ["a", "b"], "__time": pa.array([T0, T0 - US], pa.timestamp("ns"))}),
        write_statistics=False,
    )
    assert stream_stats("app", local_store).latest_time == T0

    empty = stream_stats("nobody", local_store)
    assert (empty.files, empty.rows, empty.first_date, empty.latest_time) == (0, 0, None, None)


def test_list_applications(store_url):
    assert list_applications(store_url) == []
    log_records("zeta", [{"__time": T0}], store_url)
    log_records("alpha", [{"__time": T0}], store_url)
    store = open_store(store_url)
    store.filesystem.create_dir(f"{store.root}/streams/Not A Name/x", recursive=True)

    assert list_applications(store_url) == ["alpha", "zeta"]
