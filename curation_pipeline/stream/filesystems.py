"""Turn a store URL into a pyarrow filesystem, and storage failures into StreamStorageError.

Supported URLs: a plain local path, ``file:///path`` and ``s3://bucket/prefix``.
S3 follows the usual AWS settings (credentials chain, ``AWS_REGION`` /
``AWS_DEFAULT_REGION``) plus ``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL``,
which pyarrow does not read by itself; that is what points it at MinIO or moto.
Everything is read when a store is opened, never at import time.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import pyarrow as pa
import pyarrow.fs as pafs

from curation_pipeline.config import resolve_store_url
from curation_pipeline.stream.errors import (
    InvalidStoreUrlError,
    StreamError,
    StreamStorageError,
)


@dataclass(frozen=True)
class Store:
    """An opened store: the filesystem, the root path inside it, and the URL it came from."""

    filesystem: pafs.FileSystem
    root: str
    url: str

    @property
    def is_local(self) -> bool:
        return isinstance(self.filesystem, pafs.LocalFileSystem)

    def uri(self, path: str) -> str:
        """A human-readable address for ``path`` (for messages and results)."""
        return path if self.is_local else f"s3://{path}"


def open_store(store_url: str | None = None) -> Store:
    """Resolve ``store_url`` (see :func:`resolve_store_url`) into a :class:`Store`."""
    url = resolve_store_url(store_url)
    parts = urlsplit(url)
    if parts.scheme == "s3":
        root = (parts.netloc + parts.path).rstrip("/")
        if not parts.netloc:
            raise InvalidStoreUrlError(f"store URL {url!r} names no bucket")
        with storage_errors(f"cannot open S3 store {url!r}"):
            return Store(s3_filesystem(os.environ), root, url)
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise InvalidStoreUrlError(f"store URL {url!r}: file URLs must be local (file:///path)")
        return _local_store(unquote(parts.path), url)
    # One-letter "schemes" are Windows drive letters, i.e. plain paths.
    if parts.scheme and len(parts.scheme) > 1:
        raise InvalidStoreUrlError(
            f"store URL {url!r}: unsupported scheme {parts.scheme!r} (use a path, file:// or s3://)"
        )
    return _local_store(url, url)


def _local_store(path: str, url: str) -> Store:
    root = os.path.abspath(os.path.expanduser(path)).replace(os.sep, "/").rstrip("/")
    return Store(pafs.LocalFileSystem(), root or "/", url)


def s3_filesystem(env: Mapping[str, str]) -> pafs.S3FileSystem:
    """An S3 filesystem configured from AWS environment settings in ``env``."""
    options: dict[str, object] = {}
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
    endpoint = env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL")
    if endpoint:
        parts = urlsplit(endpoint if "://" in endpoint else f"https://{endpoint}")
        options["endpoint_override"] = parts.netloc + parts.path.rstrip("/")
        options["scheme"] = parts.scheme
        # Custom endpoints (MinIO, moto) rarely care about regions; avoid a lookup.
        region = region or "us-east-1"
    if region:
        options["region"] = region
    return pafs.S3FileSystem(**options)


@contextmanager
def storage_errors(action: str, error: type[StreamStorageError] = StreamStorageError) -> Iterator[None]:
    """Re-raise I/O and Arrow failures inside the block as ``error("<action>: <cause>")``."""
    try:
        yield
    except StreamError:
        raise
    except (OSError, pa.ArrowException) as exc:
        raise error(f"{action}: {exc}") from exc
