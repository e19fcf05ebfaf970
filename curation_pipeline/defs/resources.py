"""The dataset store as a Dagster resource.

:class:`CurationStore` is configured where the definitions are wired
(``curation_pipeline/definitions.py``), from ``CURATION_STORE_URL`` and
optional S3 settings through :class:`dagster.EnvVar`, so the UI shows where
each value comes from and nothing is read at import time.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import quote

import dagster as dg
from pydantic import PrivateAttr

from curation_pipeline.environment import S3_ENDPOINT_ENVS, S3_REGION_ENVS, STORE_URL_ENV
from curation_pipeline.location import Location, resolve_location


class CurationStore(dg.ConfigurableResource):
    """Where curated datasets (and the production streams) live.

    Attributes:
        store_url: ``s3://bucket/prefix``, ``file:///path`` or a path; unset means
            ``$CURATION_STORE_URL``, else ``./.curation``.
        s3_endpoint_url: an S3-compatible endpoint (MinIO, LocalStack...), for s3:// URLs.
        s3_region: the bucket's region, for s3:// URLs.

    Unset S3 settings follow :func:`~curation_pipeline.location.resolve_location`,
    so the datasets and the streams are read from the same place.
    """

    store_url: str | None = None
    s3_endpoint_url: str | None = None
    s3_region: str | None = None

    _location: Location | None = PrivateAttr(default=None)

    def location(self) -> Location:
        """The store's :class:`~curation_pipeline.location.Location`, built once per resource.

        For s3:// URLs it carries one boto3 client, built by
        :func:`~curation_pipeline.location.make_s3_client` with the project's
        timeouts and retries (those of the CLI and the Python API), shared by
        every op that uses the resource.
        """
        if self._location is None:
            found = self._resolve()
            self._location = found.with_client(found.s3_client()) if found.is_s3 else found
        return self._location

    @property
    def url(self) -> str:
        """The store URL in effect (safe to show)."""
        return self._resolve().url

    @property
    def is_s3(self) -> bool:
        """True when the store is an S3 bucket."""
        return self._resolve().is_s3

    def s3_client(self) -> Any:
        """The boto3 S3 client of :meth:`location`."""
        return self.location().s3_client()

    def open(self) -> Any:
        """The :class:`~curation_pipeline.store.DatasetStore` at :meth:`location`."""
        from curation_pipeline.store import DatasetStore

        return DatasetStore.open(location=self.location())

    def _resolve(self) -> Location:
        if self._location is not None:
            return self._location
        return resolve_location(self.store_url, endpoint_url=self.s3_endpoint_url, region=self.s3_region)

    def version_uri(self, dataset: str, version_id: str) -> str:
        """Where a version's manifest can be looked at: an S3 console URL, an endpoint URL or a local path."""
        key = f"datasets/{dataset}/versions/{version_id}.json"
        location = self._resolve()
        if location.is_local:
            assert location.path is not None
            return os.path.join(location.path, *key.split("/"))
        object_key = f"{location.prefix}/{key}" if location.prefix else key
        if location.endpoint_url:
            return f"{location.endpoint_url.rstrip('/')}/{location.bucket}/{object_key}"
        region = f"?region={quote(location.region)}&" if location.region else "?"
        return f"https://s3.console.aws.amazon.com/s3/object/{location.bucket}{region}prefix={quote(object_key)}"


def store_resource_from_env(environ: dict[str, str] | None = None) -> CurationStore:
    """A :class:`CurationStore` wired to the environment through :class:`dagster.EnvVar`.

    An ``EnvVar`` is used only for variables that are set (Dagster refuses an
    unset one at run time); an unset ``CURATION_STORE_URL`` leaves the default
    ``./.curation``. Called when definitions load, never at import.
    """
    environ = os.environ if environ is None else environ

    def env(*names: str) -> dg.EnvVar | None:
        return next((dg.EnvVar(name) for name in names if environ.get(name)), None)

    return CurationStore(
        store_url=env(STORE_URL_ENV), s3_endpoint_url=env(*S3_ENDPOINT_ENVS), s3_region=env(*S3_REGION_ENVS)
    )
