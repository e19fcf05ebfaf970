"""Storage backends: one interface, a local folder and S3."""

from curation_pipeline.store.backends.base import Leftover, ObjectBackend, ObjectInfo, Ref, RefToken
from curation_pipeline.store.backends.local import LocalBackend
from curation_pipeline.store.backends.s3 import S3Backend, make_s3_client  # the factory lives in curation_pipeline.location

__all__ = ["Leftover", "LocalBackend", "ObjectBackend", "ObjectInfo", "Ref", "RefToken", "S3Backend", "make_s3_client"]
