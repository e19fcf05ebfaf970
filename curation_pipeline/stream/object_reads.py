"""A stream file's bytes, a chunk a request, without first asking the store for its size.

pyarrow's Python API opens an S3 file by its path alone, and opening asks S3
for the file's size (a HEAD) before the first read. A selection copying a
window of 1,440 small files to local disk then makes three requests a file:
the footer (read when the window opened), the size, and the bytes. Ranged
GETs through boto3 need no size: a first range starting at byte 0 returns the
object's length with its bytes. Copying those 1,440 files (1.4 GB) through a
20 ms proxy in front of moto took 11.5-13.2 s this way and 21.1-22.6 s
through pyarrow, in 1,442 requests rather than 2,882.

The client takes its credentials from the AWS chain, as the stream's pyarrow
filesystem does (not a client injected into the location: the two readers of
one window must see the same objects), with the location's endpoint, region
and limits.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from typing import Any

from curation_pipeline.errors import safe_cause
from curation_pipeline.location import Location, make_s3_client
from curation_pipeline.stream.errors import StreamStorageError

# Requests one reader serves at once: its connection pool (a copy runs up to
# 16 files at once; botocore's default pool of 10 would drop connections).
CONNECTIONS = 32
# The most of a request's body held at once: copies of 8 MB requests, 8 at
# once, then hold a piece each rather than a request's bytes (twice over, as
# a body read whole is joined).
PIECE_BYTES = 1 << 20
# The first wait before a body cut short is asked for again, doubling (botocore's base).
_FIRST_WAIT = 0.025


class ObjectReads:
    """Ranged reads of the objects of one S3 location (its client made on first use)."""

    def __init__(self, location: Location) -> None:
        self._location = location
        self._client: Any = None
        self._lock = threading.Lock()

    def chunks(self, path: str, chunk_bytes: int) -> Iterator[bytes]:
        """The bytes of the object at ``path`` (``bucket/key``), in order, ``chunk_bytes`` a request.

        Each request's body comes in pieces of at most :data:`PIECE_BYTES`, as
        it streams in: copies made many at once hold little. botocore retries
        a request until its answer starts (see
        :func:`~curation_pipeline.location.install_s3_retries`), not while its
        body streams: a body cut short is asked for again from its first
        missing byte, until the location's deadline passes without progress,
        after waits as botocore's (full jitter). The requests after the first
        ask for the version the first read (its ETag): an object replaced
        meanwhile is an error, not a mix of two.

        Raises StreamStorageError when a request fails past its retries (its
        message names the object and S3's status and code, nothing of the
        request) or the object changed while it was read.
        """
        from botocore.exceptions import BotoCoreError, IncompleteReadError, ReadTimeoutError, ResponseStreamingError

        bucket, _, key = path.partition("/")
        limits = self._location.limits
        offset, size, etag = 0, None, None
        attempt, progress = 0, time.monotonic()
        while size is None or offset < size:
            last = offset + chunk_bytes - 1 if size is None else min(offset + chunk_bytes, size) - 1
            response = self._get(bucket, key, offset, last, etag, path)
            length = _length(response, offset, path)
            if size is not None and length != size:
                raise StreamStorageError(f"cannot read s3://{path}: it changed while it was read")
            size, etag = length, response.get("ETag")
            start = offset
            try:
                for piece in response["Body"].iter_chunks(PIECE_BYTES):
                    offset += len(piece)
                    attempt, progress = 0, time.monotonic()
                    yield piece
                if offset == start:  # an answer of no bytes short of the end: asking again would loop
                    raise StreamStorageError(f"cannot read s3://{path}: it ended at byte {offset} of {size}")
            except (IncompleteReadError, ResponseStreamingError, ReadTimeoutError) as error:
                if time.monotonic() - progress >= limits.deadline:
                    raise StreamStorageError(f"cannot read s3://{path}: {_reason(error)}") from safe_cause(error)
                time.sleep(random.uniform(0, min(limits.max_backoff, _FIRST_WAIT * 2**attempt)))
                attempt += 1
            except BotoCoreError as error:
                raise StreamStorageError(f"cannot read s3://{path}: {_reason(error)}") from safe_cause(error)

    def _get(self, bucket: str, key: str, offset: int, last: int, etag: str | None, path: str) -> dict[str, Any]:
        """The answer to a GET of the object's bytes ``offset`` to ``last`` (fewer past its end), of version ``etag`` if given."""
        from botocore.exceptions import BotoCoreError, ClientError

        condition = {} if etag is None else {"IfMatch": etag}
        try:
            return self._s3().get_object(Bucket=bucket, Key=key, Range=f"bytes={offset}-{last}", **condition)
        except (BotoCoreError, ClientError) as error:
            if _status(error) == 412:
                raise StreamStorageError(f"cannot read s3://{path}: it changed while it was read") from None
            raise StreamStorageError(f"cannot read s3://{path}: {_reason(error)}") from safe_cause(error)

    def _s3(self) -> Any:
        with self._lock:  # one client for every thread: boto3's clients are thread-safe, their creation is not
            if self._client is None:
                where = self._location
                self._client = make_s3_client(
                    endpoint_url=where.endpoint_url, region_name=where.region, limits=where.limits, connections=CONNECTIONS
                )
            return self._client


def _status(error: Exception) -> int | None:
    """The HTTP status of a failed S3 request (None when no answer came)."""
    response = getattr(error, "response", None) or {}
    return response.get("ResponseMetadata", {}).get("HTTPStatusCode")


def _reason(error: Exception) -> str:
    """What failed, from the status and S3's code or the error's kind only: nothing of the request (its signature)."""
    response = getattr(error, "response", None) or {}
    parts = [str(_status(error) or ""), str(response.get("Error", {}).get("Code", ""))]
    return f"S3 GET failed ({' '.join(part for part in parts if part) or type(error).__name__})"


def _length(response: dict[str, Any], offset: int, path: str) -> int:
    """The whole object's length: from a ranged answer's ``Content-Range`` (``bytes first-last/length``), or the body's of a server that sent it all."""
    content_range = response.get("ContentRange") or ""
    _, _, length = content_range.rpartition("/")
    if length.isdigit():
        return int(length)
    if not content_range and offset == 0 and isinstance(response.get("ContentLength"), int):
        return response["ContentLength"]  # the range ignored: the whole object comes
    raise StreamStorageError(f"cannot read s3://{path}: the store sent no length (Content-Range {content_range!r})")
