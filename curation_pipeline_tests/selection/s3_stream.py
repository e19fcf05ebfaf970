"""The stream of a few files the S3 selection tests read (fixture ``proxied_stream``, in conftest.py), and its requests."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import unquote

from curation_devtools.s3proxy import S3Proxy

# Three files on one day (records one second apart): two of one row group, the last of two (groups of 65,536).
FILE_ROWS = (8_000, 8_000, 70_000)
GROUPS = 4


def ranged_gets(proxy: S3Proxy, sizes: dict[str, int]) -> Iterator[tuple[str, int, int]]:
    """Each ranged GET of a file: its key, and the first and last byte asked."""
    for method, path, byte_range in proxy.ranged_requests:
        key = unquote(path.split("?")[0]).lstrip("/")
        if method == "GET" and key in sizes and byte_range is not None:
            first, _, last = byte_range.partition("=")[2].partition("-")
            yield key, int(first), int(last or sizes[key] - 1)
