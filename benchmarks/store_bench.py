"""Push and pull throughput of the dataset store, against plain copies of the same files.

A dataset of ``--total-mb`` MB in ``--files`` files of random (incompressible)
bytes is generated once into a cache folder under /tmp, then, per backend:

- push:       ``Dataset.commit`` of every file as the first version;
- pull:       ``Dataset.pull`` into an empty folder;
- plain:      the same bytes moved without the store, one file at a time:
              ``shutil.copyfile`` for the local backend (and copy + fsync, the
              durable equivalent), boto3 ``upload_file``/``download_file`` for
              S3 (ratio = ours / plain; the better of a run before and a run
              after ours); and the same plain transfers on as many threads as
              the store uses (``--max-workers``), shown in the note;
- re-push:    committing the same content again (target: 0 data bytes sent);
- 1 changed:  committing with one file replaced (target: that file only);
- pull 1:     pulling that version into the folder of the first pull.

Bytes sent are taken from ``CommitResult.bytes_uploaded`` and, independently,
counted where they arrive: request bodies of PUT/POST to object keys on the
moto server (a WSGI middleware), or bytes written to object keys by a counting
wrapper of the local backend. S3 runs against a moto server started in this
process on 127.0.0.1 (a free port) and stopped at the end.

Run:  .venv/bin/python benchmarks/store_bench.py [--total-mb 1024] [--files 200] [--quick] [--max-workers 8]
"""

from __future__ import annotations

import argparse
import cProfile
import logging
import os
import pstats
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server
from results_io import table as results_table
from results_io import write_results

from curation_pipeline.store import Dataset, DatasetStore, LocalBackend
from curation_pipeline.store.dataset import DEFAULT_MAX_WORKERS

CACHE_ROOT = Path(tempfile.gettempdir()) / "curation-store-bench"
REGION = "us-east-1"
CREDENTIALS = {"aws_access_key_id": "bench", "aws_secret_access_key": "bench"}
MB = 1_000_000
TITLE = "Dataset store: push and pull"


# -- data ------------------------------------------------------------------------------


def dataset_files(total_mb: int, count: int) -> list[Path]:
    """``count`` files of random bytes totalling ``total_mb`` MB, generated once and cached."""
    size = total_mb * MB // count
    folder = CACHE_ROOT / f"data-{total_mb}mb-{count}"
    files = [folder / f"part-{i:04d}.bin" for i in range(count)]
    if not all(f.is_file() and f.stat().st_size == size for f in files):
        print(f"generating {count} files of {size / MB:.1f} MB in {folder} ...", flush=True)
        folder.mkdir(parents=True, exist_ok=True)
        for f in files:
            f.write_bytes(os.urandom(size))
    for f in files:  # warm the page cache: every run then reads from memory
        with open(f, "rb") as src:
            while src.read(1 << 24):
                pass
    return files


# -- byte counters -----------------------------------------------------------------------


@dataclass
class Sent:
    """Bytes received by the storage side, split into object data and everything else."""

    data: int = 0
    other: int = 0

    def add(self, key: str, size: int) -> None:
        if "/objects/" in key:
            self.data += size
        else:
            self.other += size

    def snapshot(self) -> tuple[int, int]:
        return self.data, self.other


class CountingLocalBackend(LocalBackend):
    """A local backend that counts the bytes written to each key."""

    def __init__(self, root: Path, sent: Sent) -> None:
        super().__init__(root)
        self._sent = sent

    def put_bytes(self, key: str, data: bytes) -> None:
        self._sent.add(key, len(data))
        super().put_bytes(key, data)

    def put_file(self, key: str, src: Path) -> None:
        self._sent.add(key, src.stat().st_size)
        super().put_file(key, src)

    def put_if_absent(self, key: str, data: bytes) -> bool:
        written = super().put_if_absent(key, data)
        if written:
            self._sent.add(key, len(data))
        return written


class CountingWsgi:
    """WSGI middleware in front of moto: counts PUT/POST body bytes per key."""

    def __init__(self, app: Callable[..., Any], sent: Sent) -> None:
        self._app = app
        self._sent = sent
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if environ.get("REQUEST_METHOD") in ("PUT", "POST"):
            # aws-chunked uploads carry the payload size in this header; CONTENT_LENGTH includes framing.
            size = environ.get("HTTP_X_AMZ_DECODED_CONTENT_LENGTH") or environ.get("CONTENT_LENGTH") or 0
            with self._lock:
                self._sent.add(environ.get("PATH_INFO", ""), int(size))
        return self._app(environ, start_response)


@contextmanager
def moto_server(sent: Sent) -> Iterator[str]:
    """A moto S3 server on 127.0.0.1 and a free port; yields its endpoint URL."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    app = CountingWsgi(DomainDispatcherApplication(create_backend_app), sent)
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=MotoRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join()


# -- measurements --------------------------------------------------------------------------


@dataclass
class Row:
    backend: str
    operation: str
    seconds: float
    megabytes: float
    plain_seconds: float | None = None
    reported: int | None = None
    observed: int | None = None
    note: str = ""


def timed(function: Callable[[], Any], profile: Path | None = None) -> tuple[float, Any]:
    profiler = cProfile.Profile() if profile else None
    os.sync()  # start every measurement without dirty pages left by the previous one
    started = time.perf_counter()
    if profiler:
        result = profiler.runcall(function)
    else:
        result = function()
    elapsed = time.perf_counter() - started
    if profiler and profile:
        profiler.dump_stats(profile)
        pstats.Stats(str(profile)).sort_stats("cumulative").print_stats(18)
    return elapsed, result


def each(function: Callable[[Path], None], files: list[Path], workers: int) -> None:
    """``function(f)`` for every file, one at a time or on ``workers`` threads."""
    if workers <= 1:
        for f in files:
            function(f)
        return
    with ThreadPoolExecutor(workers) as pool:
        for _ in pool.map(function, files):
            pass


def bench_store(
    backend: str,
    store: DatasetStore,
    sent: Sent,
    files: list[Path],
    work: Path,
    plain_push: Callable[[str, int], None],
    plain_pull: Callable[[str, int], None],
    profile: bool,
    workers: int,
    durable: Callable[[str], None] | None = None,
) -> list[Row]:
    total = sum(f.stat().st_size for f in files) / MB
    dataset: Dataset = store.create_dataset("bench")
    mapping = {f.name: f for f in files}

    # Plain transfers run before and after ours (the better time counts), so neither side
    # gains from running first or last (page cache, the moto server's growing memory).
    plain_up_1, _ = timed(lambda: plain_push("a", 1))
    before = sent.snapshot()
    push_s, first = timed(lambda: dataset.commit(mapping, "bench"), work / f"{backend}-push.prof" if profile else None)
    push_sent = sent.data - before[0]
    plain_up = min(plain_up_1, timed(lambda: plain_push("b", 1))[0])
    plain_up_threads = timed(lambda: plain_push("p", workers))[0]
    plain_down_1, _ = timed(lambda: plain_pull("a", 1))
    pull_s, pulled = timed(
        lambda: dataset.pull(to=work / "pulled"), work / f"{backend}-pull.prof" if profile else None
    )
    plain_down = min(plain_down_1, timed(lambda: plain_pull("b", 1))[0])
    plain_down_threads = timed(lambda: plain_pull("p", workers))[0]
    push_note = f"plain on {workers} threads {plain_up_threads:.2f} s"
    pull_note = f"plain on {workers} threads {plain_down_threads:.2f} s"
    if durable is not None:
        durable_s = timed(lambda: durable("c"))[0]
        push_note += f"; copy+fsync {durable_s:.2f} s: ratio {push_s / durable_s:.2f}"
    assert pulled.bytes_downloaded == first.bytes_uploaded == push_sent, (pulled, first, push_sent)

    before = sent.snapshot()
    again_s, again = timed(lambda: dataset.commit(mapping, "bench again"))
    again_data, again_other = sent.data - before[0], sent.other - before[1]
    assert not again.created

    changed = work / "changed" / files[0].name
    changed.parent.mkdir(parents=True, exist_ok=True)
    changed.write_bytes(os.urandom(files[0].stat().st_size))
    before = sent.snapshot()
    one_s, one = timed(lambda: dataset.commit({**mapping, files[0].name: changed}, "one changed"))
    one_data, one_other = sent.data - before[0], sent.other - before[1]
    pull_one_s, pull_one = timed(lambda: dataset.pull(to=work / "pulled"))
    size = files[0].stat().st_size / MB
    return [
        Row(backend, "push", push_s, total, plain_up, first.bytes_uploaded, push_sent, push_note),
        Row(backend, "pull", pull_s, total, plain_down, pulled.bytes_downloaded, None,
            f"{len(pulled.downloaded)} files, each verified and fsynced; {pull_note}"),
        Row(backend, "re-push unchanged", again_s, total, None, again.bytes_uploaded, again_data,
            f"+{again_other} B manifest/refs"),
        Row(backend, "push, 1 file changed", one_s, total, None, one.bytes_uploaded, one_data,
            f"+{one_other} B manifest/refs; 1 file = {files[0].stat().st_size} B"),
        Row(backend, "pull, 1 file changed", pull_one_s, size, None, pull_one.bytes_downloaded, None,
            f"{len(pull_one.downloaded)} file(s) downloaded"),
    ]


def bench_local(files: list[Path], work: Path, profile: bool, workers: int) -> list[Row]:
    sent = Sent()
    store = DatasetStore(CountingLocalBackend(work / "store", sent), max_workers=workers)

    def plain_push(run: str, threads: int) -> None:
        (work / f"plain-up-{run}").mkdir()
        each(lambda f: shutil.copyfile(f, work / f"plain-up-{run}" / f.name), files, threads)

    def plain_pull(run: str, threads: int) -> None:
        (work / f"plain-down-{run}").mkdir()
        target = work / f"plain-down-{run}"
        each(lambda f: shutil.copyfile(work / "plain-up-a" / f.name, target / f.name), files, threads)

    def durable_push(run: str) -> None:
        (work / f"plain-up-{run}").mkdir()
        for f in files:
            target = work / f"plain-up-{run}" / f.name
            shutil.copyfile(f, target)
            with open(target, "rb") as copy:
                os.fsync(copy.fileno())

    return bench_store("local", store, sent, files, work, plain_push, plain_pull, profile, workers, durable_push)


def bench_s3(files: list[Path], work: Path, profile: bool, workers: int) -> list[Row]:
    sent = Sent()
    with moto_server(sent) as endpoint:
        client = boto3.client("s3", endpoint_url=endpoint, region_name=REGION, **CREDENTIALS)
        for bucket in ("store", "plain"):
            client.create_bucket(Bucket=bucket)
        store = DatasetStore.open(
            "s3://store/bench", endpoint_url=endpoint, region_name=REGION, max_workers=workers, **CREDENTIALS
        )

        def plain_push(run: str, threads: int) -> None:
            each(lambda f: client.upload_file(str(f), "plain", f"{run}/{f.name}"), files, threads)

        def plain_pull(run: str, threads: int) -> None:
            (work / f"plain-down-{run}").mkdir()
            each(
                lambda f: client.download_file("plain", f"a/{f.name}", str(work / f"plain-down-{run}" / f.name)),
                files,
                threads,
            )

        return bench_store("s3 (moto)", store, sent, files, work, plain_push, plain_pull, profile, workers)


# -- report ----------------------------------------------------------------------------------


def table(rows: list[Row]) -> str:
    header = ("backend", "operation", "seconds", "MB/s", "plain s", "ours/plain", "bytes sent (result)",
              "bytes sent (observed)", "note")
    lines = [header]
    for r in rows:
        lines.append((
            r.backend,
            r.operation,
            f"{r.seconds:.2f}",
            f"{r.megabytes / r.seconds:.0f}" if r.seconds else "-",
            f"{r.plain_seconds:.2f}" if r.plain_seconds is not None else "",
            f"{r.seconds / r.plain_seconds:.2f}" if r.plain_seconds else "",
            f"{r.reported:,}" if r.reported is not None else "",
            f"{r.observed:,}" if r.observed is not None else "",
            r.note,
        ))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    rendered = ["| " + " | ".join(c.ljust(w) for c, w in zip(line, widths)) + " |" for line in lines]
    rendered.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(rendered)


def results_file_table(rows: list[Row], total_mb: int, count: int) -> dict:
    """The rows as one table of the results file (numbers rounded as printed)."""
    return results_table(
        f"{total_mb:,} MB in {count} files of {total_mb / count:.2f} MB",
        ["backend", "operation", "seconds", "MB/s", "plain s", "ours / plain", "bytes sent (result)",
         "bytes sent (observed)", "note"],
        [
            [
                r.backend,
                r.operation,
                round(r.seconds, 2),
                round(r.megabytes / r.seconds) if r.seconds else None,
                round(r.plain_seconds, 2) if r.plain_seconds is not None else None,
                round(r.seconds / r.plain_seconds, 2) if r.plain_seconds else None,
                r.reported,
                r.observed,
                r.note,
            ]
            for r in rows
        ],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--total-mb", type=int, default=1024, help="dataset size in MB (10^6 bytes)")
    parser.add_argument("--files", type=int, default=200, help="number of files")
    parser.add_argument("--quick", action="store_true", help="64 MB in 20 files")
    parser.add_argument("--backends", default="local,s3", help="comma-separated: local, s3")
    parser.add_argument("--profile", action="store_true", help="print cProfile of our push and pull")
    parser.add_argument("--max-workers", type=int, default=DEFAULT_MAX_WORKERS,
                        help="files the store (and the threaded plain baseline) moves at once")
    args = parser.parse_args()
    total_mb, count = (64, 20) if args.quick else (args.total_mb, args.files)
    files = dataset_files(total_mb, count)
    print(f"dataset: {count} files, {total_mb} MB total, cache {files[0].parent}, "
          f"max_workers {args.max_workers}", flush=True)
    rows: list[Row] = []
    for backend in args.backends.split(","):
        with tempfile.TemporaryDirectory(prefix="store-bench-", dir=CACHE_ROOT) as work:
            bench = {"local": bench_local, "s3": bench_s3}[backend]
            rows += bench(files, Path(work), args.profile, args.max_workers)
        print(table(rows), flush=True)
    print()
    print(table(rows))
    parameters = {"total_mb": total_mb, "files": count, "backends": args.backends.split(","), "max_workers": args.max_workers}
    path = write_results(
        "store", title=TITLE, parameters=parameters, tables=[results_file_table(rows, total_mb, count)], quick=args.quick
    )
    print(f"results: {path}")


if __name__ == "__main__":
    main()
