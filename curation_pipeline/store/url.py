"""The backend of a store location: a local folder or an S3 bucket.

Where the store is (URL, endpoint, region) is decided by
:mod:`curation_pipeline.location`; this module only picks the backend for it.
"""

from __future__ import annotations

import os
from typing import Any

from curation_pipeline.location import Location, make_s3_client, resolve_location
from curation_pipeline.store.backends.base import ObjectBackend
from curation_pipeline.store.backends.local import LocalBackend
from curation_pipeline.store.backends.s3 import S3Backend
from curation_pipeline.store.errors import InvalidStoreUrlError

#: Options that shape the :class:`Location` itself; the others are S3 credentials.
_LOCATION_OPTIONS = ("endpoint_url", "region_name", "client")


def open_backend(
    url: str | os.PathLike[str] | None = None,
    *,
    location: Location | None = None,
    deadline: float | None = None,
    **backend_options: Any,
) -> ObjectBackend:
    """Return the backend for ``location``, else for ``url``.

    Args:
        url: ``s3://bucket/prefix``, ``file:///path`` or a plain path; None
            means ``$CURATION_STORE_URL``, else ``./.curation``, read now (see
            :func:`~curation_pipeline.location.resolve_location`).
        location: an already resolved location (then ``url`` and the options
            must not be given).
        deadline: seconds one S3 request keeps being retried before it
            fails (default ``$CURATION_S3_DEADLINE``, else 60; see
            :class:`~curation_pipeline.location.S3Limits`); it shapes the
            clients built here, not an injected ``client``.
        backend_options: for S3: ``client`` (a boto3 client), ``endpoint_url``
            and ``region_name`` (winning over the environment), and
            credentials (``aws_access_key_id``, ``aws_secret_access_key``,
            ``aws_session_token``, ``profile_name``); none are accepted for a
            local folder.

    Raises:
        InvalidStoreUrlError: unsupported scheme, missing bucket, credentials
            in the URL, or options a local store does not take.
    """
    if location is not None:
        if url is not None or backend_options:
            raise TypeError("pass a location, or a url and options, not both")
        location = resolve_location(location, deadline=deadline)
    else:
        location = resolve_location(
            url,
            endpoint_url=backend_options.get("endpoint_url"),
            region=backend_options.get("region_name"),
            client=backend_options.get("client"),
            deadline=deadline,
        )
    if location.is_local:
        if backend_options:
            raise InvalidStoreUrlError(f"a local store takes no options (got {sorted(backend_options)})")
        assert location.path is not None
        return LocalBackend(location.path)
    assert location.bucket is not None
    credentials = {k: v for k, v in backend_options.items() if k not in _LOCATION_OPTIONS}
    if credentials and location.client is None:
        client = make_s3_client(
            endpoint_url=location.endpoint_url, region_name=location.region, limits=location.limits, **credentials
        )
    else:
        client = location.s3_client()
    return S3Backend(location.bucket, location.prefix, client=client)
