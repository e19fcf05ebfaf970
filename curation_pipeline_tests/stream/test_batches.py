"""A batch of log_records is visible whole or not at all, whenever its writer dies.

Crash injection at every step of a multi-day batch (local and S3): the
process "dies" there (no clean-up runs), a reader sees none of the batch, and
the producer's retry makes it appear exactly once. A real process killed while
writing batches in a loop, with a reader checking every batch whole.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest

from curation_pipeline.stream import StreamNotFoundError, log_records, read_window, stream_stats
from curation_pipeline.stream import writer as writer_module
from curation_pipeline_tests.stream.conftest import stored_files

UTC = timezone.utc
DAY1 = datetime(2024, 3, 1, tzinfo=UTC)
EVERYTHING = (datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))
DAYS = 5
KILLS = 2  # real processes killed per backend (each costs an interpreter start)


class Killed(BaseException):
    """The process died here: nothing after it runs, no clean-up either."""


def batch(tag: str, days: int = DAYS, per_day: int = 3) -> list[dict]:
    return [
        {"record_id": f"{tag}-{d}-{i}", "__time": DAY1 + timedelta(days=d, hours=i), "inputs.x": i}
        for d in range(days)
        for i in range(per_day)
    ]


def visible_ids(store_url: str) -> list[str]:
    return sorted(read_window("app", *EVERYTHING, store_url=store_url).to_table().column("record_id").to_pylist())


def kill_at(monkeypatch, step: int) -> None:
    """Die at write step ``step`` (0: the marker, 1..DAYS: the day files, DAYS+1: publishing)."""
    real_put, real_publish = writer_module.put_file, getattr(writer_module, "publish_batch", None)
    steps = iter(range(10**6))

    def put(store, path, data):
        if next(steps) == step:
            raise Killed
        real_put(store, path, data)

    def publish(store, marker):
        if next(steps) == step:
            raise Killed
        real_publish(store, marker)

    monkeypatch.setattr(writer_module, "put_file", put)
    monkeypatch.setattr(writer_module, "publish_batch", publish, raising=False)
    # A killed process runs no clean-up.
    monkeypatch.setattr(writer_module, "delete_quietly", lambda store, paths: None)


@pytest.mark.parametrize("step", range(DAYS + 2))
def test_a_batch_killed_at_any_step_is_invisible_and_its_retry_lands_once(store_url, monkeypatch, step):
    log_records("app", batch("before", days=1), store_url)  # the stream exists
    with pytest.MonkeyPatch.context() as patch:
        kill_at(patch, step)
        with pytest.raises(Killed):
            log_records("app", batch("b"), store_url)

    assert visible_ids(store_url) == sorted(r["record_id"] for r in batch("before", days=1))
    assert stream_stats("app", store_url).rows == 3
    log_records("app", batch("b"), store_url)  # the producer retries
    assert visible_ids(store_url) == sorted(r["record_id"] for r in [*batch("before", days=1), *batch("b")])


def test_a_published_batch_leaves_only_its_day_files(store_url):
    log_records("app", batch("b"), store_url)
    files = stored_files(store_url)
    assert len(files) == DAYS and all(f.startswith("streams/app/date=") for f in files)
    assert len({f.rsplit("/", 1)[1] for f in files}) == 1  # one batch id names every day's file


@pytest.mark.parametrize("window_days", [5, 30])
def test_a_file_written_after_its_folder_was_listed_is_found(local_store, monkeypatch, window_days):
    """A batch published while a reader lists its folders is still read whole.

    5 days: the reader lists each day's folder; 30: it lists the application's
    folder first, before the batch's new day folders exist.
    """
    from curation_pipeline.stream import batches

    log_records("app", batch("before", days=1), local_store)
    real_list = batches.list_dir
    landed = threading.Event()
    lock = threading.Lock()

    def list_then_write(store, folder):
        # The batch lands just before the last day's folder (of those chosen) is listed.
        with lock:
            if not landed.is_set() and folder.endswith(("date=2024-03-01", "date=2024-03-05")):
                if folder.endswith("2024-03-05") or window_days == 30:
                    log_records("app", batch("b"), local_store)
                    landed.set()
        return real_list(store, folder)

    monkeypatch.setattr(batches, "list_dir", list_then_write)
    window = read_window("app", DAY1, DAY1 + timedelta(days=window_days), store_url=local_store)
    assert landed.is_set()
    assert window.count_rows() == 3 + DAYS * 3


def test_a_real_process_killed_mid_stream_never_shows_part_of_a_batch(store_url, tmp_path):
    """A child logs 4-day batches in a loop; the parent reads meanwhile, then SIGKILLs it."""
    log_records("app", batch("before", days=1), store_url)
    script = textwrap.dedent(
        f"""
        import sys
        run = sys.argv[1]
        from datetime import datetime, timedelta, timezone
        from curation_pipeline.stream import log_records
        start = datetime(2024, 3, 1, tzinfo=timezone.utc)
        for n in range(10**6):
            rows = [{{"record_id": f"k{{run}}.{{n}}-{{d}}-{{i}}", "__time": start + timedelta(days=d, minutes=i)}}
                    for d in range(4) for i in range(200)]
            log_records("app", rows, {store_url!r})
            print(n, flush=True)
        """
    )
    kills, reads, batches_seen = 0, 0, 0
    for run in range(KILLS):
        child = subprocess.Popen([sys.executable, "-c", script, str(run)], stdout=subprocess.PIPE, env=os.environ.copy())
        assert child.stdout is not None
        child.stdout.readline()  # one batch landed: the child is writing
        deadline = time.monotonic() + 0.5
        while time.monotonic() < deadline:
            batches_seen = _check_whole_batches(store_url)
            reads += 1
        child.send_signal(signal.SIGKILL)
        child.wait()
        kills += 1
        batches_seen = _check_whole_batches(store_url)
    print(f"figures: kills={kills} reads={reads} whole batches seen={batches_seen}")
    assert kills == KILLS and reads >= KILLS and batches_seen >= KILLS


def _check_whole_batches(store_url: str) -> int:
    counts: dict[str, int] = {}
    for value in visible_ids(store_url):
        if value.startswith("k"):
            key = value.split("-")[0]
            counts[key] = counts.get(key, 0) + 1
    partial = {key: n for key, n in counts.items() if n != 4 * 200}
    assert not partial, f"batches partly visible: {partial}"
    return len(counts)


def test_a_missing_bucket_is_an_error_not_an_empty_stream(aws_env):
    url = "s3://no-such-bucket-for-stream-reads/prefix"
    with pytest.raises(StreamNotFoundError, match="bucket 'no-such-bucket-for-stream-reads' does not exist"):
        read_window("app", *EVERYTHING, store_url=url)
    with pytest.raises(StreamNotFoundError, match="bucket 'no-such-bucket-for-stream-reads'"):
        stream_stats("app", url)


def test_a_missing_prefix_is_an_error_not_an_empty_stream(store_url):
    log_records("app", batch("b", days=1), store_url)
    wrong = f"{store_url}-typo"
    if store_url.startswith("s3://"):
        wrong = f"{store_url}/typo"
    with pytest.raises(StreamNotFoundError, match="no stream at .*typo"):
        read_window("app", *EVERYTHING, store_url=wrong)
    with pytest.raises(StreamNotFoundError, match="typo"):
        stream_stats("app", wrong)
    # Inside an existing stream, an application or a window without data reads as empty.
    assert read_window("other", *EVERYTHING, store_url=store_url).count_rows() == 0
    assert read_window("app", DAY1 - timedelta(days=9), DAY1 - timedelta(days=8), store_url=store_url).count_rows() == 0
    assert stream_stats("other", store_url).rows == 0


def test_a_publication_whose_reply_is_lost_leaves_the_batch_whole(local_store, monkeypatch):
    """The marker's removal landed but the writer saw an error: the batch stays, whole, not half-deleted."""
    from curation_pipeline.stream import StreamStorageError

    log_records("app", batch("before", days=1), local_store)
    real_publish = writer_module.publish_batch

    def landed_then_failed(store, marker):
        real_publish(store, marker)
        raise StreamStorageError("connection reset after the delete")

    monkeypatch.setattr(writer_module, "publish_batch", landed_then_failed)
    with pytest.raises(StreamStorageError, match="connection reset"):
        log_records("app", batch("b"), local_store)
    assert len(visible_ids(local_store)) == 3 + DAYS * 3
