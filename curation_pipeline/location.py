"""Where the data lives: one URL plus S3 settings, resolved once, used by every layer.

A store URL is ``s3://bucket/prefix``, ``file:///path`` or a plain path; None
means ``$CURATION_STORE_URL``, else ``./.curation``. For ``s3://`` URLs the
endpoint and region follow one rule each (the first that is set wins):

* endpoint: the explicit argument, ``CURATION_S3_ENDPOINT_URL``,
  ``AWS_ENDPOINT_URL_S3``, ``AWS_ENDPOINT_URL``;
* region: the explicit argument, ``CURATION_S3_REGION``, ``AWS_REGION``,
  ``AWS_DEFAULT_REGION`` (``us-east-1`` when a custom endpoint is set, so no
  lookup is made); otherwise boto3's and pyarrow's own resolution applies.

Credentials always come from the usual AWS chain (environment, shared files,
instance roles) and never from the URL: a store or endpoint URL embedding them
(userinfo, or a query string such as a presigned URL's) is refused, and the
message never repeats it. Every URL that reaches a message goes through
:func:`redact` (re-exported here from :mod:`curation_pipeline.errors`), and
so does the ``repr`` of a :class:`Location`.

:func:`resolve_location` gives a frozen :class:`Location`; the stream asks it
for a pyarrow filesystem and root path, the dataset store for a boto3 client.
Both S3 views use the request limits defined here (:class:`S3Limits`): every
S3 request has connect and read timeouts and is retried, with exponential
backoff and full jitter, until it succeeds or its deadline passes
(``CURATION_S3_DEADLINE``, 60 s by default). Everything is read when a
location is resolved, never at import time.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import SplitResult, unquote, urlsplit

from curation_pipeline import environment
from curation_pipeline.errors import CurationError, redact

__all__ = [
    "CUSTOM_ENDPOINT_REGION",
    "S3_RETRIES",
    "S3_RETRY_MODE",
    "InvalidLocationError",
    "Location",
    "location_of",
    "make_s3_client",
    "redact",
    "resolve_location",
    "s3_client_config",
]

if TYPE_CHECKING:
    import botocore.config
    import botocore.loaders
    import pyarrow.fs as pafs

#: The most times a failed S3 request is retried after its first attempt: a safety cap only, the
#: deadline (:attr:`S3Limits.deadline`) ends the retries long before. This is what botocore's
#: ``retries={"max_attempts": ...}`` means.
S3_RETRIES = 100
#: botocore's retry mode for every S3 client the project builds (its error classification and
#: backoff; :func:`install_s3_retries` replaces its retry quota and adds the deadline).
S3_RETRY_MODE = "standard"
#: How long one S3 request keeps being retried, in seconds, unless the caller sets another deadline.
DEFAULT_S3_DEADLINE = 60.0
#: Seconds to open a connection to the S3 endpoint before the attempt counts as failed.
S3_CONNECT_TIMEOUT = 5.0
#: Seconds without a byte from the S3 endpoint before the attempt counts as failed.
S3_READ_TIMEOUT = 20.0
#: The longest wait between two attempts (botocore's backoff doubles from 50 ms, or 1 s when throttled).
S3_MAX_BACKOFF = 5.0
#: The first wait of pyarrow's (the AWS C++ SDK's) default retry strategy, doubled at each retry.
_PYARROW_BASE_DELAY = 0.025
#: The region assumed for a custom endpoint when none is set (MinIO and moto ignore it).
CUSTOM_ENDPOINT_REGION = "us-east-1"


class InvalidLocationError(CurationError, ValueError):
    """A store URL is malformed, has an unsupported scheme or embeds credentials."""


@dataclass(frozen=True)
class S3Limits:
    """How long S3 requests may take: per-attempt timeouts and the retry deadline, in seconds.

    A failed attempt (5xx, throttling, connection reset or refused, timeout,
    lost reply) is retried after a random wait of up to ``min(max_backoff,
    base * 2**n)`` (botocore's standard backoff, full jitter) unless the next
    attempt would start after ``deadline`` seconds since the first. One request
    against an endpoint that never answers therefore fails within
    :attr:`bound` seconds.
    """

    deadline: float = DEFAULT_S3_DEADLINE
    connect_timeout: float = S3_CONNECT_TIMEOUT
    read_timeout: float = S3_READ_TIMEOUT
    max_backoff: float = S3_MAX_BACKOFF

    def __post_init__(self) -> None:
        for name in ("deadline", "connect_timeout", "read_timeout", "max_backoff"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and 0 < value < float("inf")):
                raise InvalidLocationError(f"S3 {name} must be a positive number of seconds, not {value!r}")

    @property
    def bound(self) -> float:
        """The longest one request can take to fail: the deadline plus one last attempt's timeouts."""
        return self.deadline + self.connect_timeout + self.read_timeout

    def with_deadline(self, deadline: float | None) -> S3Limits:
        """These limits with another deadline (None keeps this one)."""
        return self if deadline is None else dataclasses.replace(self, deadline=deadline)

    def pyarrow_retries(self) -> int:
        """Retries for pyarrow's S3 filesystem (the stream), which keep it within :attr:`bound`.

        The AWS C++ SDK behind pyarrow takes no deadline: its retries are
        counted instead, as many as fit in the deadline both by their waits
        (25 ms, doubling) and by their connect and read timeouts, so an
        endpoint that never answers fails the stream within :attr:`bound` too
        (2 retries with the defaults); at least one. Its
        default strategy is used, which (unlike its standard one) has no retry
        quota to run dry.
        """
        by_backoff = int(math.log2(self.deadline / _PYARROW_BASE_DELAY + 1))
        by_timeouts = int(self.deadline // (self.connect_timeout + self.read_timeout))
        return max(1, min(by_backoff, by_timeouts))


@dataclass(frozen=True)
class Location:
    """A resolved store location: a local folder or an S3 bucket and key prefix.

    Build one with :func:`resolve_location`. ``url`` is safe to show (it never
    holds credentials). ``client`` is an injected boto3 S3 client, used
    instead of building one by :meth:`s3_client`; the pyarrow filesystem of
    :meth:`filesystem` takes its credentials from the AWS chain, not from it.
    """

    url: str
    bucket: str | None = None
    prefix: str = ""
    path: str | None = None
    endpoint_url: str | None = None
    region: str | None = None
    client: Any = field(default=None, repr=False, compare=False)
    limits: S3Limits = field(default_factory=S3Limits)

    def __repr__(self) -> str:
        # The fields are refused when they hold credentials; redact anyway, as every message does.
        shown = ", ".join(
            f"{f.name}={redact(repr(getattr(self, f.name)))}" for f in dataclasses.fields(self) if f.repr
        )
        return f"Location({shown})"

    @property
    def is_s3(self) -> bool:
        """True for an S3 bucket, False for a local folder."""
        return self.bucket is not None

    @property
    def is_local(self) -> bool:
        """True for a local folder."""
        return self.bucket is None

    @property
    def root(self) -> str:
        """The root inside :meth:`filesystem`: ``bucket/prefix`` on S3, the absolute folder locally."""
        if self.bucket is None:
            assert self.path is not None
            return self.path
        return f"{self.bucket}/{self.prefix}" if self.prefix else self.bucket

    def uri(self, path: str) -> str:
        """A human-readable address for a ``path`` of :meth:`filesystem` (for messages and results)."""
        return path if self.is_local else f"s3://{path}"

    def with_client(self, client: Any) -> Location:
        """This location, using ``client`` for S3 requests."""
        return dataclasses.replace(self, client=client)

    def filesystem(self) -> pafs.FileSystem:
        """A pyarrow filesystem for this location (S3 with its endpoint, region, timeouts and retries)."""
        import pyarrow.fs as pafs

        if self.is_local:
            return pafs.LocalFileSystem()
        options: dict[str, Any] = {
            # The default strategy, not the standard one: the standard one shares a retry
            # quota that runs dry after about a hundred failures and then stops retrying.
            "retry_strategy": pafs.AwsDefaultS3RetryStrategy(max_attempts=self.limits.pyarrow_retries()),
            "connect_timeout": self.limits.connect_timeout,
            "request_timeout": self.limits.read_timeout,
        }
        if self.endpoint_url:
            parts = urlsplit(self.endpoint_url)
            options["endpoint_override"] = parts.netloc + parts.path.rstrip("/")
            options["scheme"] = parts.scheme
        if self.region:
            options["region"] = self.region
        return pafs.S3FileSystem(**options)

    def s3_client(self) -> Any:
        """The injected boto3 S3 client, else a new one for this endpoint, region and limits."""
        if self.client is not None:
            return self.client
        return make_s3_client(endpoint_url=self.endpoint_url, region_name=self.region, limits=self.limits)


def resolve_location(
    url: str | os.PathLike[str] | Location | None = None,
    *,
    endpoint_url: str | None = None,
    region: str | None = None,
    client: Any = None,
    limits: S3Limits | None = None,
    deadline: float | None = None,
    environ: Mapping[str, str] | None = None,
) -> Location:
    """Turn a store URL and S3 settings into a :class:`Location`.

    Args:
        url: ``s3://bucket/prefix``, ``file:///path`` or a path; None (or "")
            means ``$CURATION_STORE_URL``, else ``./.curation``. A
            :class:`Location` is returned as it is (settings must then be None).
        endpoint_url, region: S3 settings winning over the environment (see
            the module docstring); ignored for local folders.
        client: a boto3 S3 client to use for S3 requests.
        limits: timeouts and retry deadline of S3 requests (default
            :class:`S3Limits`, with the deadline of ``CURATION_S3_DEADLINE``).
        deadline: seconds an S3 request may keep being retried, winning over
            ``limits`` and the environment.
        environ: the environment to read (``os.environ`` when None).

    Raises:
        InvalidLocationError: unsupported scheme, missing bucket, query or
            fragment on an s3:// URL, credentials in the URL, or a deadline
            that is not a positive number of seconds.
    """
    if isinstance(url, Location):
        if endpoint_url is not None or region is not None or client is not None or limits is not None:
            raise TypeError("pass S3 settings either in the Location or as arguments, not both")
        return url if deadline is None else dataclasses.replace(url, limits=url.limits.with_deadline(deadline))
    text = os.fspath(url) if url is not None else ""
    text = text or environment.store_url(environ)
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme == "s3":
        limits = (limits or S3Limits()).with_deadline(deadline if deadline is not None else _env_deadline(environ))
        return dataclasses.replace(_s3_location(parts, endpoint_url, region, client, environ), limits=limits)
    if scheme == "file":
        if "@" in parts.netloc:
            raise _credentials_refused()
        if parts.netloc not in ("", "localhost"):
            raise InvalidLocationError(
                f"store URL {redact(text)!r}: file URLs must name a local path (file:///path)"
            )
        return _local_location(unquote(parts.path))
    if len(scheme) > 1:  # one letter is a Windows drive, not a scheme
        if "@" in text or parts.query:
            raise _credentials_refused()
        raise InvalidLocationError(
            f"store URL {redact(text)!r}: unsupported scheme {redact(scheme)!r} "
            "(use s3://bucket/prefix, file:///path or a path)"
        )
    return _local_location(text)


def location_of(store_url: str | os.PathLike[str] | None = None, location: Location | None = None) -> Location:
    """``location`` if given, else :func:`resolve_location` of ``store_url`` (not both)."""
    if location is None:
        return resolve_location(store_url)
    if store_url is not None:
        raise TypeError("pass store_url or location, not both")
    return location


def _s3_location(
    parts: SplitResult, endpoint_url: str | None, region: str | None, client: Any, environ: Mapping[str, str] | None
) -> Location:
    if "@" in parts.netloc or ("@" in parts.path and ":" in parts.netloc):
        # The second form is a password holding '/': s3://KEY:SE/CRET@bucket.
        raise _credentials_refused()
    if not parts.netloc:
        raise InvalidLocationError("store URL s3:// names no bucket (expected s3://bucket/prefix)")
    if parts.query or parts.fragment:
        raise InvalidLocationError("store URL s3:// takes no query or fragment (expected s3://bucket/prefix)")
    if ":" in parts.netloc:
        # Not echoed: what precedes ':' in a mistyped URL may well be a key.
        raise InvalidLocationError("store URL s3://: a bucket name cannot hold ':' (expected s3://bucket/prefix)")
    bucket, prefix = parts.netloc, unquote(parts.path).strip("/")
    endpoint = _normalised_endpoint(endpoint_url or environment.s3_endpoint_url(environ))
    region = region or environment.s3_region(environ) or (CUSTOM_ENDPOINT_REGION if endpoint else None)
    url = f"s3://{bucket}/{prefix}" if prefix else f"s3://{bucket}"
    return Location(url, bucket=bucket, prefix=prefix, endpoint_url=endpoint, region=region, client=client)


def _local_location(path: str) -> Location:
    if not path:
        raise InvalidLocationError("empty store path")
    root = os.path.abspath(os.path.expanduser(path)).replace(os.sep, "/").rstrip("/") or "/"
    return Location(root, path=root)


def _normalised_endpoint(endpoint: str | None) -> str | None:
    if not endpoint:
        return None
    endpoint = endpoint if "://" in endpoint else f"https://{endpoint}"
    parts = urlsplit(endpoint)
    if "@" in parts.netloc or parts.query or redact(endpoint) != endpoint:
        # pyarrow and botocore would put it in their messages and logs.
        raise InvalidLocationError(
            "S3 endpoint URLs must not embed credentials or a query string; use the usual AWS settings"
        )
    return endpoint


def _env_deadline(environ: Mapping[str, str] | None) -> float | None:
    text = environment.s3_deadline(environ)
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        raise InvalidLocationError(
            f"{environment.S3_DEADLINE_ENV}={text!r}: expected a positive number of seconds"
        ) from None


def _credentials_refused() -> InvalidLocationError:
    # Never echo the URL: it holds credentials.
    return InvalidLocationError("store URLs must not embed credentials; use the usual AWS settings")


# -- S3 clients ------------------------------------------------------------------


def s3_client_config(limits: S3Limits | None = None, connections: int | None = None) -> botocore.config.Config:
    """The retry mode and timeouts of every boto3 S3 client the project builds (``connections``: its pool, botocore's 10 if None)."""
    from botocore.config import Config

    limits = limits or S3Limits()
    pool = {} if connections is None else {"max_pool_connections": connections}
    return Config(
        retries={"mode": S3_RETRY_MODE, "max_attempts": S3_RETRIES},
        connect_timeout=limits.connect_timeout,
        read_timeout=limits.read_timeout,
        **pool,
    )


def make_s3_client(
    *,
    endpoint_url: str | None = None,
    region_name: str | None = None,
    aws_access_key_id: str | None = None,
    aws_secret_access_key: str | None = None,
    aws_session_token: str | None = None,
    profile_name: str | None = None,
    limits: S3Limits | None = None,
    connections: int | None = None,
) -> Any:
    """Build a boto3 S3 client from explicit arguments or the usual AWS settings.

    Anything left as None comes from boto3's standard chain (environment,
    shared config/credentials files, instance roles). Timeouts follow
    :func:`s3_client_config` and retries :func:`install_s3_retries`, both
    with ``limits`` (default :class:`S3Limits`); ``connections`` sizes its
    connection pool, for as many requests at once (botocore's 10 if None).
    """
    import boto3
    import botocore.session

    botocore_session = botocore.session.get_session()
    botocore_session.register_component("data_loader", _shared_loader())
    session = boto3.session.Session(
        botocore_session=botocore_session,
        aws_access_key_id=aws_access_key_id,
        aws_secret_access_key=aws_secret_access_key,
        aws_session_token=aws_session_token,
        region_name=region_name,
        profile_name=profile_name,
    )
    limits = limits or S3Limits()
    client = session.client("s3", endpoint_url=endpoint_url, config=s3_client_config(limits, connections))
    return install_s3_retries(client, limits)


def install_s3_retries(client: Any, limits: S3Limits) -> Any:
    """Make ``client`` retry every request until it succeeds or ``limits.deadline`` passes; return it.

    botocore's ``standard`` mode decides what is worth retrying and how long
    to wait, and is kept; what it lacks is replaced: its retry quota (a
    token bucket shared by the client, which after about a hundred failed
    attempts stops every retry) is dropped, and a deadline per request is
    added. The loop itself stays botocore's, so each part of a multipart
    transfer is retried on its own.
    """
    from botocore.retries import standard

    events = client.meta.events
    service = client.meta.service_model.service_id.hyphenize()
    adapter = standard.RetryEventAdapter()
    policy = _DeadlinePolicy(
        standard.StandardRetryConditions(max_attempts=S3_RETRIES + 1),
        standard.ExponentialBackoff(
            max_backoff=limits.max_backoff,
            service_name=service,
            throttling_detector=standard.ThrottlingErrorDetector(adapter),
        ),
    )
    handler = standard.RetryHandler(
        retry_policy=policy, retry_event_adapter=adapter, retry_quota=_NoQuota(), service_name=service
    )
    clock_id, retry_id = f"curation-deadline-{service}", f"retry-config-{service}"  # botocore's own id
    events.unregister(f"before-call.{service}", unique_id=clock_id)
    events.register(f"before-call.{service}", functools.partial(_start_clock, limits.deadline), unique_id=clock_id)
    events.unregister(f"needs-retry.{service}", unique_id=retry_id)
    events.register(f"needs-retry.{service}", handler.needs_retry, unique_id=retry_id)
    return client


#: Keys of botocore's per-request context: when the request's deadline passes, the next wait.
_DEADLINE_KEY = "curation_deadline"
_DELAY_KEY = "curation_retry_delay"


def _start_clock(deadline: float, context: dict[str, Any], **_kwargs: Any) -> None:
    # ``before-call`` fires once per API call, before its first attempt.
    context[_DEADLINE_KEY] = time.monotonic() + deadline


class _NoQuota:
    """A retry quota that never runs out: the deadline bounds each request instead."""

    def acquire_retry_quota(self, context: Any) -> bool:
        return True

    def release_retry_quota(self, context: Any, http_response: Any, **kwargs: Any) -> None:
        return None


class _DeadlinePolicy:
    """botocore's retry conditions and backoff, stopping when the next attempt would start past the deadline."""

    def __init__(self, conditions: Any, backoff: Any) -> None:
        self._conditions = conditions
        self._backoff = backoff

    def should_retry(self, context: Any) -> bool:
        if not self._conditions.is_retryable(context):
            return False
        delay = self._backoff.delay_amount(context)
        ends = context.request_context.get(_DEADLINE_KEY)
        if ends is not None and time.monotonic() + delay >= ends:
            return False
        context.request_context[_DELAY_KEY] = delay
        return True

    def compute_retry_delay(self, context: Any) -> float:
        return float(context.request_context.pop(_DELAY_KEY, 0.0))


@functools.lru_cache(maxsize=1)
def _shared_loader() -> botocore.loaders.Loader:
    # A fresh session reloads the service models from disk (about a second);
    # sharing the loader keeps that to the first client in the process.
    import botocore.loaders

    return botocore.loaders.create_loader()
