"""The dataset store as a Dagster resource.

:class:`CurationStore` is configured where the definitions are wired
(``curation_pipeline/definitions.py``), from ``CURATION_STORE_URL`` and
optional S3 settings through :class:`dagster.EnvVar`, so the UI shows where
each value comes from and nothing is read at import time.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import quote, urlsplit

import dagster as dg

from curation_pipeline.config import STORE_URL_ENV, resolve_store_url

#: Environment variables naming the S3 endpoint and region, first set wins (the stream reader
#: and boto3 read the AWS ones too, so one setting serves both).
S3_ENDPOINT_ENVS = ("CURATION_S3_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")
S3_REGION_ENVS = ("CURATION_S3_REGION", "AWS_REGION", "AWS_DEFAULT_REGION")


class CurationStore(dg.ConfigurableResource):
    """Where curated datasets (and the production streams) live.

    Attributes:
        store_url: ``s3://bucket/prefix``, ``file:///path`` or a path; unset means
            :func:`~curation_pipeline.config.resolve_store_url` (``./.curation`` by default).
        s3_endpoint_url: an S3-compatible endpoint (MinIO, LocalStack...), for s3:// URLs.
        s3_region: the bucket's region, for s3:// URLs.
    """

    store_url: str | None = None
    s3_endpoint_url: str | None = None
    s3_region: str | None = None

    @property
    def url(self) -> str:
        """The store URL in effect."""
        return resolve_store_url(self.store_url)

    @property
    def is_s3(self) -> bool:
        """True when the store is an S3 bucket."""
        return urlsplit(self.url).scheme.lower() == "s3"

    def s3_client(self) -> Any:
        """A boto3 S3 client built by dagster-aws's :class:`S3Resource` from this resource's settings."""
        from dagster_aws.s3 import S3Resource

        return S3Resource(endpoint_url=self.s3_endpoint_url, region_name=self.s3_region).get_client()

    def open(self) -> Any:
        """The :class:`~curation_pipeline.store.DatasetStore` at :attr:`url`."""
        from curation_pipeline.store import DatasetStore

        if self.is_s3:
            return DatasetStore.open(self.url, client=self.s3_client())
        return DatasetStore.open(self.url)

    def version_uri(self, dataset: str, version_id: str) -> str:
        """Where a version's manifest can be looked at: an S3 console URL, an endpoint URL or a local path."""
        key = f"datasets/{dataset}/versions/{version_id}.json"
        parts = urlsplit(self.url)
        if parts.scheme.lower() == "s3":
            prefix = parts.path.strip("/")
            object_key = f"{prefix}/{key}" if prefix else key
            if self.s3_endpoint_url:
                return f"{self.s3_endpoint_url.rstrip('/')}/{parts.netloc}/{object_key}"
            region = f"?region={quote(self.s3_region)}&" if self.s3_region else "?"
            return f"https://s3.console.aws.amazon.com/s3/object/{parts.netloc}{region}prefix={quote(object_key)}"
        root = parts.path if parts.scheme.lower() == "file" else self.url
        return os.path.join(os.path.abspath(root), *key.split("/"))


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
