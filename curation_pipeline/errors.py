"""The one root of every error this project raises, and the one rule that keeps secrets out of messages.

Each layer keeps its own base (``StoreError``, ``StreamError``,
``SelectionError``, ``CuratorConfigError``, ``InvalidNameError``...) and each
of those derives from :class:`CurationError`, so a boundary -- the CLI's exit
codes, the Dagster assets' ``Failure`` -- catches one class. Where a builtin
means the same thing, the specific classes inherit it too (``except
ValueError`` keeps working).

Every message of a :class:`CurationError` goes through :func:`redact`, so a
URL with credentials, a presigned query string or an access key id that finds
its way into an error (from a user's input, an endpoint setting, or the text of
a pyarrow or botocore exception) is shown with the secret replaced by ``***``.
The boundaries (CLI output, Dagster failures) and any code putting a URL in a
log line use the same function.
"""

from __future__ import annotations

import re

#: What replaces a secret.
MASK = "***"

# scheme://userinfo@host: everything between '://' and the last '@' of the
# token, so a password holding '/' or ':' is masked whole (a path with '@' is
# masked too: safe side).
_URL_USERINFO = re.compile(r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.\-]*://)[^\s'\"<>]*@")
# user:password@host without a scheme, as pyarrow shows an endpoint override.
_BARE_USERINFO = re.compile(r"(?<![\w/:@.%-])[^\s'\"<>/@:]+:[^\s'\"<>/@]+@(?=[\w\[])")
# Query-string and header parameters that carry credentials or signatures.
_SECRET_PARAMETER = re.compile(
    r"(?i)(?P<name>\b(?:X-Amz-Signature|X-Amz-Credential|X-Amz-Security-Token|AWSAccessKeyId|Signature|"
    r"Credential|Security-?Token|Session-?Token|(?:aws_)?access_key(?:_id)?|(?:aws_)?secret(?:_access)?_key|"
    r"aws_session_token|password))(?P<sep>\s*[=:]\s*)(?P<value>[^&\s'\",;]+)"
)
# AWS access key ids (long-term and temporary) wherever they appear.
_ACCESS_KEY_ID = re.compile(r"\b(?:AKIA|ASIA|AIDA|AROA|ANPA|AGPA)[A-Z0-9]{16}\b")


def redact(text: object) -> str:
    """``text`` (a URL, a message, anything printable) with every credential it holds replaced by ``***``.

    Masks: URL userinfo (``s3://KEY:SECRET@bucket`` -> ``s3://***@bucket``,
    also ``KEY:SECRET@host`` without a scheme), credential and signature
    parameters (``X-Amz-Signature=...``, ``X-Amz-Credential=...``,
    ``X-Amz-Security-Token=...``, ``Signature=...``, ``password=...``...), and
    AWS access key ids. Idempotent; text without secrets comes back unchanged.
    """
    value = str(text)
    value = _URL_USERINFO.sub(lambda m: f"{m.group('scheme')}{MASK}@", value)
    value = _BARE_USERINFO.sub(f"{MASK}@", value)
    value = _SECRET_PARAMETER.sub(lambda m: f"{m.group('name')}{m.group('sep')}{MASK}", value)
    return _ACCESS_KEY_ID.sub(MASK, value)


def safe_cause(error: BaseException) -> BaseException | None:
    """``error`` if its message holds no secret, else None: for ``raise ... from safe_cause(exc)``.

    A chained exception is printed with every traceback; one from pyarrow or
    botocore may quote an endpoint or a signed URL, which must not be.
    """
    text = str(error)
    return error if redact(text) == text else None


class CurationError(Exception):
    """Base class of every error raised by :mod:`curation_pipeline`; its message is :func:`redact`-ed."""

    def __init__(self, *args: object) -> None:
        super().__init__(*(redact(arg) if isinstance(arg, str) else arg for arg in args))
