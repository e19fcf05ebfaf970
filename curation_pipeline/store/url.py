"""Store URLs: ``s3://bucket/prefix``, ``file:///path`` or a plain path."""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import unquote, urlsplit

from curation_pipeline.config import resolve_store_url
from curation_pipeline.store.backends.base import ObjectBackend
from curation_pipeline.store.backends.local import LocalBackend
from curation_pipeline.store.backends.s3 import S3Backend
from curation_pipeline.store.errors import InvalidStoreUrlError


def open_backend(url: str | os.PathLike[str] | None = None, **backend_options: Any) -> ObjectBackend:
    """Return the backend for ``url``.

    Args:
        url: ``s3://bucket/prefix``, ``file:///path`` or a plain path; None
            means :func:`~curation_pipeline.config.resolve_store_url` (the
            ``CURATION_STORE_URL`` environment variable, else ``./.curation``),
            read now, at call time.
        backend_options: passed to :class:`S3Backend` (``client``,
            ``endpoint_url``, ``region_name``, credentials); none are accepted
            for a local folder.

    Raises:
        InvalidStoreUrlError: unsupported scheme, missing bucket, credentials
            in the URL, or options a local store does not take.
    """
    text = os.fspath(url) if url is not None else resolve_store_url()
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme == "s3":
        return _s3_backend(parts, backend_options)
    if scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise InvalidStoreUrlError("file:// store URLs must name a local path (file:///path)")
        return _local_backend(unquote(parts.path), backend_options)
    if scheme and len(scheme) > 1:  # one letter is a Windows drive, not a scheme
        raise InvalidStoreUrlError(
            f"unsupported store URL scheme {scheme!r}: use s3://bucket/prefix, file:///path or a path"
        )
    return _local_backend(text, backend_options)


def _s3_backend(parts: Any, options: dict[str, Any]) -> S3Backend:
    if "@" in parts.netloc:
        # Never echo the URL: it holds credentials.
        raise InvalidStoreUrlError("store URLs must not embed credentials; use the usual AWS settings")
    if not parts.netloc:
        raise InvalidStoreUrlError("s3:// store URL has no bucket (expected s3://bucket/prefix)")
    if parts.query or parts.fragment:
        raise InvalidStoreUrlError("s3:// store URLs take no query or fragment")
    return S3Backend(parts.netloc, unquote(parts.path).strip("/"), **options)


def _local_backend(path: str, options: dict[str, Any]) -> LocalBackend:
    if options:
        raise InvalidStoreUrlError(f"a local store takes no options (got {sorted(options)})")
    if not path:
        raise InvalidStoreUrlError("empty store path")
    return LocalBackend(path)
