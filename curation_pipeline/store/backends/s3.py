"""A store under ``s3://bucket/prefix``.

The only module that talks to boto3: every boto3/botocore error is
translated here, once, into the store's error hierarchy. A 412
(PreconditionFailed) or 409 (ConditionalRequestConflict) answer to a
conditional write is a lost race (:class:`WriteConflictError`), not a
failure. Files move with boto3's managed transfer (multipart above its
threshold), so memory stays bounded; small keys use plain put/get.
"""

from __future__ import annotations

import base64
import contextlib
import os
import time
import zlib
from collections.abc import Collection, Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlsplit

import boto3.exceptions
from boto3.s3.transfer import TransferConfig, create_transfer_manager
from botocore.exceptions import BotoCoreError, ClientError
from s3transfer.exceptions import RetriesExceededError, S3DownloadFailedError
from s3transfer.subscribers import BaseSubscriber

from curation_pipeline.location import make_s3_client
from curation_pipeline.store.backends.base import Leftover, ObjectBackend, ObjectInfo, Ref, RefToken
from curation_pipeline.store.errors import (
    KeyNotFoundError,
    StoreAccessError,
    StoreError,
    WriteConflictError,
)

_NOT_FOUND = {"404", "NoSuchKey", "NotFound", "NoSuchUpload"}
_CONFLICT = {"412", "409", "PreconditionFailed", "ConditionalRequestConflict"}
_DELETE_BATCH = 1000
_PUT_IF_ABSENT_TRIES = 5
#: :meth:`S3Backend.stat_many` leaves fewer keys than this to one HEAD each.
_LIST_MIN_KEYS = 16
#: :meth:`S3Backend.stat_many` lists at most one page (up to 1,000 keys) per this many keys asked.
_KEYS_PER_LIST_PAGE = 50
_TRANSFER_CONFIG = TransferConfig()


class S3Backend(ObjectBackend):
    """Keys live under ``prefix`` in ``bucket``; the client is injected or built."""

    def __init__(self, bucket: str, prefix: str = "", *, client: Any = None, **client_options: Any) -> None:
        """Use ``bucket``/``prefix`` through ``client``.

        Args:
            bucket: the bucket name.
            prefix: the key prefix of the store root ("" for the bucket root).
            client: a boto3 S3 client; if None one is built by
                :func:`curation_pipeline.location.make_s3_client` from ``client_options`` (``endpoint_url``,
                ``region_name``, ``aws_access_key_id``, ...).

        Credentials are held only by the client, never by this object.
        """
        self._bucket = bucket
        self._prefix = prefix.strip("/")
        self._client = client if client is not None else make_s3_client(**client_options)
        self._endpoint = _safe_endpoint(getattr(self._client.meta, "endpoint_url", None))

    def __repr__(self) -> str:
        return f"S3Backend({self.url!r})"

    @property
    def url(self) -> str:
        return f"s3://{self._bucket}/{self._prefix}" if self._prefix else f"s3://{self._bucket}"

    @property
    def client(self) -> Any:
        """The boto3 client in use."""
        return self._client

    # -- reads -------------------------------------------------------------

    def get_bytes(self, key: str) -> bytes:
        with self._translate("get", key):
            return self._client.get_object(Bucket=self._bucket, Key=self._key(key))["Body"].read()

    def get_range(self, key: str, start: int, length: int) -> bytes:
        if length <= 0:
            return b""
        byte_range = f"bytes={start}-{start + length - 1}"
        with self._translate("get", key):
            response = self._client.get_object(Bucket=self._bucket, Key=self._key(key), Range=byte_range)
            return response["Body"].read()

    def get_file(self, key: str, dest: Path) -> None:
        with self._translate("download", key):
            self._client.download_file(self._bucket, self._key(key), str(dest))

    def get_fileobj(self, key: str, out: BinaryIO, *, size: int | None = None) -> None:
        subscribers = []
        if size is not None and size < _TRANSFER_CONFIG.multipart_threshold:
            # One GET without a Range: s3transfer need not HEAD the key for its size first, and
            # a stored object of another size still arrives whole (the caller checks it).
            subscribers.append(_KnownSize(size))
        with self._translate("download", key), create_transfer_manager(self._client, _TRANSFER_CONFIG) as manager:
            manager.download(self._bucket, self._key(key), out, subscribers=subscribers).result()

    def stat(self, key: str) -> ObjectInfo | None:
        try:
            with self._translate("head", key):
                response = self._client.head_object(Bucket=self._bucket, Key=self._key(key))
        except KeyNotFoundError:
            return None
        return ObjectInfo(key, response["ContentLength"], response["LastModified"])

    def stored_crc32(self, key: str) -> int | None:
        """The full-object CRC32 S3 keeps (boto3 sends one with every upload by default).

        None for a multipart object's checksum of parts, or an object stored without one.
        """
        with self._translate("head", key):
            response = self._client.head_object(Bucket=self._bucket, Key=self._key(key), ChecksumMode="ENABLED")
        value, kind = response.get("ChecksumCRC32"), response.get("ChecksumType")
        if not value or "-" in value or kind not in (None, "FULL_OBJECT"):
            return None
        return int.from_bytes(base64.b64decode(value), "big")

    def list_leftovers(self, prefix: str) -> Iterator[Leftover]:
        """Unfinished multipart uploads under ``prefix``, dated by their last uploaded part."""
        paginator = self._client.get_paginator("list_multipart_uploads")
        with self._translate("list uploads", prefix):
            for page in paginator.paginate(Bucket=self._bucket, Prefix=self._key(prefix)):
                for upload in page.get("Uploads", ()):
                    key, upload_id = self._relative(upload["Key"]), upload["UploadId"]
                    parts = [
                        part
                        for parts_page in self._client.get_paginator("list_parts").paginate(
                            Bucket=self._bucket, Key=upload["Key"], UploadId=upload_id
                        )
                        for part in parts_page.get("Parts", ())
                    ]
                    last = max([upload["Initiated"], *(part["LastModified"] for part in parts)])
                    size = sum(part["Size"] for part in parts)
                    yield Leftover(f"{key} (upload {upload_id[:16]})", key, last, size, upload_id)

    def remove_leftover(self, leftover: Leftover) -> None:
        try:
            with self._translate("abort upload", leftover.key):
                self._client.abort_multipart_upload(
                    Bucket=self._bucket, Key=self._key(leftover.key), UploadId=leftover.upload_id
                )
        except KeyNotFoundError:
            pass  # completed or aborted meanwhile

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        paginator = self._client.get_paginator("list_objects_v2")
        with self._translate("list", prefix):
            for page in paginator.paginate(Bucket=self._bucket, Prefix=self._key(prefix)):
                for item in page.get("Contents", ()):
                    yield ObjectInfo(self._relative(item["Key"]), item["Size"], item["LastModified"])

    def stat_many(self, keys: Collection[str]) -> dict[str, ObjectInfo | None]:
        """Settle many keys with a paginated LIST of their common folder instead of a HEAD each.

        Few keys are left to :meth:`stat`. The listing stops after about one
        page per :data:`_KEYS_PER_LIST_PAGE` keys asked about; if the folder
        holds more than that, only the keys seen so far are settled.
        """
        wanted = set(keys)
        if len(wanted) < _LIST_MIN_KEYS:
            return {}
        folder = os.path.commonprefix(sorted(wanted)).rpartition("/")[0]
        prefix = f"{folder}/" if folder else ""
        budget = max(1, len(wanted) // _KEYS_PER_LIST_PAGE)
        found: dict[str, ObjectInfo | None] = {}
        paginator = self._client.get_paginator("list_objects_v2")
        with self._translate("list", prefix):
            for pages, page in enumerate(paginator.paginate(Bucket=self._bucket, Prefix=self._key(prefix)), 1):
                for item in page.get("Contents", ()):
                    key = self._relative(item["Key"])
                    if key in wanted:
                        found[key] = ObjectInfo(key, item["Size"], item["LastModified"])
                if page.get("IsTruncated") and pages >= budget:
                    return found  # the rest: one HEAD each is cheaper than listing on
        return {key: found.get(key) for key in wanted}

    def list_children(self, prefix: str) -> list[str]:
        paginator = self._client.get_paginator("list_objects_v2")
        names: list[str] = []
        with self._translate("list", prefix):
            pages = paginator.paginate(Bucket=self._bucket, Prefix=self._key(prefix), Delimiter="/")
            for page in pages:
                for common in page.get("CommonPrefixes", ()):
                    names.append(self._relative(common["Prefix"])[len(prefix) :].rstrip("/"))
        return sorted(names)

    # -- writes ------------------------------------------------------------

    def put_bytes(self, key: str, data: bytes) -> None:
        with self._translate("put", key):
            self._client.put_object(Bucket=self._bucket, Key=self._key(key), Body=data)

    def put_file(self, key: str, src: Path) -> None:
        """Upload ``src``; in parts above the multipart threshold, with a CRC32 of the whole object.

        A multipart upload's default checksum covers its parts; declaring the
        whole file's CRC32 (``ChecksumType=FULL_OBJECT``) has S3 check it on
        completion and keep it, so :meth:`stored_crc32` can vouch for large
        objects as cheaply as for small ones.
        """
        extra: dict[str, str] = {}
        if src.stat().st_size >= _TRANSFER_CONFIG.multipart_threshold:
            crc = _file_crc32(src)
            extra = {
                "ChecksumAlgorithm": "CRC32",
                "ChecksumType": "FULL_OBJECT",
                "ChecksumCRC32": base64.b64encode(crc.to_bytes(4, "big")).decode("ascii"),
            }
        with self._translate("upload", key):
            self._client.upload_file(str(src), self._bucket, self._key(key), ExtraArgs=extra or None)

    def put_if_absent(self, key: str, data: bytes) -> bool:
        for attempt in range(_PUT_IF_ABSENT_TRIES):
            try:
                with self._translate("put", key):
                    self._client.put_object(
                        Bucket=self._bucket, Key=self._key(key), Body=data, IfNoneMatch="*"
                    )
                return True
            except WriteConflictError as exc:
                if not exc.in_flight:
                    # A refused retry may be refused because its first attempt landed and only the
                    # reply was lost: then the key holds exactly these bytes, written by this call.
                    return exc.retried and self._holds(key, data)
                # 409: another conditional write to the key is in flight; ask again.
                time.sleep(0.05 * (attempt + 1))
        return self._holds(key, data)

    def _holds(self, key: str, data: bytes) -> bool:
        try:
            return self.get_bytes(key) == data
        except KeyNotFoundError:
            return False

    def delete(self, key: str) -> None:
        with self._translate("delete", key):
            self._client.delete_object(Bucket=self._bucket, Key=self._key(key))

    def delete_many(self, keys: Iterable[str]) -> None:
        batch = [self._key(key) for key in keys]
        for start in range(0, len(batch), _DELETE_BATCH):
            chunk = batch[start : start + _DELETE_BATCH]
            with self._translate("delete", chunk[0]):
                response = self._client.delete_objects(
                    Bucket=self._bucket,
                    Delete={"Objects": [{"Key": k} for k in chunk], "Quiet": True},
                )
            errors = response.get("Errors") or []
            if errors:
                first = errors[0]
                raise StoreAccessError(
                    f"S3 delete failed for {len(errors)} key(s), first {first.get('Key')}: "
                    f"{first.get('Code')}"
                )

    # -- refs --------------------------------------------------------------

    def read_ref(self, key: str) -> Ref | None:
        try:
            with self._translate("get", key):
                response = self._client.get_object(Bucket=self._bucket, Key=self._key(key))
                data = response["Body"].read()
        except KeyNotFoundError:
            return None
        return Ref(data, RefToken(response["ETag"]))

    def swap_ref(self, key: str, data: bytes, expected: RefToken | None) -> RefToken:
        condition = {"IfNoneMatch": "*"} if expected is None else {"IfMatch": expected}
        try:
            with self._translate("put", key):
                response = self._client.put_object(
                    Bucket=self._bucket, Key=self._key(key), Body=data, **condition
                )
        except KeyNotFoundError:
            # If-Match on a key that no longer exists: it changed under us.
            raise WriteConflictError(f"ref {key} was removed since it was read") from None
        return RefToken(response["ETag"])

    # -- helpers -----------------------------------------------------------

    def _key(self, key: str) -> str:
        return f"{self._prefix}/{key}" if self._prefix else key

    def _translate(self, operation: str, key: str) -> contextlib.AbstractContextManager[None]:
        return _translate(operation, key, self._endpoint)

    def _relative(self, full_key: str) -> str:
        return full_key[len(self._prefix) + 1 :] if self._prefix else full_key


def _file_crc32(path: Path) -> int:
    crc = 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            crc = zlib.crc32(chunk, crc)
    return crc


class _KnownSize(BaseSubscriber):  # type: ignore[misc]
    """Tells s3transfer the size of a download up front (it would HEAD the key for it)."""

    def __init__(self, size: int) -> None:
        self._size = size

    def on_queued(self, future: Any, **kwargs: Any) -> None:
        future.meta.provide_transfer_size(self._size)


def _safe_endpoint(url: str | None) -> str:
    """The endpoint as ``scheme://host[:port]``: no user info, path or query can reach a message."""
    if not url:
        return "S3"
    parts = urlsplit(url)
    host = parts.hostname or "?"
    return f"{parts.scheme}://{host}:{parts.port}" if parts.port else f"{parts.scheme}://{host}"


@contextlib.contextmanager
def _translate(operation: str, key: str, endpoint: str = "S3") -> Iterator[None]:
    """Map boto3/botocore errors to the store's errors.

    Messages are built from the operation, the key, the endpoint's scheme,
    host and port, and the S3 error code only, never from the raw exception
    text, so nothing from the request (such as signing material) can leak
    into them. A failure that reaches here has outlived every retry (see
    :func:`curation_pipeline.location.install_s3_retries`); its message says
    how long the request was tried.
    """
    started = time.monotonic()
    try:
        yield
    except StoreError:
        raise
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        status = str(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
        if code == "NoSuchBucket":
            raise StoreAccessError(f"S3 {operation} of {key} failed: the bucket does not exist") from None
        if code in _NOT_FOUND or status == "404":
            raise KeyNotFoundError(f"no such key: {key}") from None
        if code in _CONFLICT or status in ("412", "409"):
            raise WriteConflictError(
                f"conditional {operation} of {key} lost ({status} {code})",
                in_flight=code == "ConditionalRequestConflict" or status == "409",
                retried=bool(exc.response.get("ResponseMetadata", {}).get("RetryAttempts")),
            ) from None
        raise _access_error(operation, key, endpoint, f"{status} {code}".strip(), started) from None
    except (BotoCoreError, boto3.exceptions.Boto3Error, RetriesExceededError, S3DownloadFailedError) as exc:
        raise _access_error(operation, key, endpoint, type(exc).__name__, started) from None


def _access_error(operation: str, key: str, endpoint: str, reason: str, started: float) -> StoreAccessError:
    elapsed = time.monotonic() - started
    return StoreAccessError(f"S3 {operation} of {key} at {endpoint} failed after {elapsed:.1f} s: {reason}")
