"""What checking a reused object costs: re-committing bytes already stored outside HEAD.

For each backend (a local folder; S3 on a moto server on 127.0.0.1) it commits
N files, commits a version without them, then commits the same files again:
every object exists but is not in HEAD, so dedup checks each one (local: a
full re-hash of the stored object; S3: a HEAD for the stored CRC32 plus a
CRC32 of the source) instead of trusting it. Prints seconds for the last
commit and for a plain sha256 pass over the sources (the hashing every
commit does anyway), so the check's cost reads as a fraction of it.

    python benchmarks/dedup_check_bench.py [--mb 256] [--files 8]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import socket
import tempfile
import time
from pathlib import Path

from curation_pipeline.store import DatasetStore


def _hash_all(files: dict[str, Path]) -> float:
    started = time.perf_counter()
    for path in files.values():
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
    return time.perf_counter() - started


def _recommit(store: DatasetStore, files: dict[str, Path]) -> tuple[float, int]:
    ds = store.create_dataset("bench")
    ds.commit(files, "v1")
    ds.commit({"other": b"x"}, "v2", delete=list(files))
    started = time.perf_counter()
    result = ds.commit(files, "v3")
    return time.perf_counter() - started, result.objects_uploaded


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=int, default=256, help="total size of the files")
    parser.add_argument("--files", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        files = {}
        for i in range(args.files):
            path = root / f"src{i}"
            path.write_bytes(os.urandom(args.mb * (1 << 20) // args.files))
            files[f"f{i}"] = path
        print(f"sha256 of the sources ({args.mb} MB): {_hash_all(files):.2f} s")
        seconds, uploaded = _recommit(DatasetStore.open(root / "store"), files)
        print(f"local re-commit (re-hash check): {seconds:.2f} s, {uploaded} uploaded")

        from moto.server import ThreadedMotoServer

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        server.start()
        try:
            os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
            os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
            endpoint = f"http://127.0.0.1:{port}"
            store = DatasetStore.open("s3://bench-bucket/root", endpoint_url=endpoint, region_name="us-east-1")
            store.backend.client.create_bucket(Bucket="bench-bucket")
            seconds, uploaded = _recommit(store, files)
            print(f"S3 (moto) re-commit (CRC32 check): {seconds:.2f} s, {uploaded} uploaded")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
