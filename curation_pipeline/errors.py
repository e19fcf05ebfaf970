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

# Userinfo is found token by token (a token runs between spaces and quotes)
# with plain string searches, so masking stays linear on a hostile message.
_TOKEN_SEPARATORS = re.compile(r"([\s'\"<>]+)")
#: Longest text redacted whole; beyond it a message is cut (at a token
#: boundary, so no half secret is left) -- no one reads such a message anyway.
MAX_REDACTED_CHARS = 256 * 1024
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
    A text over :data:`MAX_REDACTED_CHARS` is cut there first; time stays
    linear in the text's length.
    """
    value = _bounded(str(text))
    value = "".join(_mask_userinfo(part) for part in _TOKEN_SEPARATORS.split(value))
    value = _SECRET_PARAMETER.sub(lambda m: f"{m.group('name')}{m.group('sep')}{MASK}", value)
    return _ACCESS_KEY_ID.sub(MASK, value)


def _mask_userinfo(token: str) -> str:
    """``scheme://USERINFO@host`` -> ``scheme://***@host``; ``user:password@host`` -> ``***@host``.

    Everything up to the token's last '@' is masked, so a password holding '/'
    or ':' goes whole (a path holding '@' is masked too: the safe side).
    """
    at = token.rfind("@")
    if at < 0:
        return token
    scheme = token.find("://")
    if 0 <= scheme < at:
        return f"{token[: scheme + 3]}{MASK}{token[at:]}"
    colon = token.find(":")
    if 0 <= colon < at:  # no scheme: user:password@host, as pyarrow shows an endpoint override
        return f"{MASK}{token[at:]}"
    return token


def _bounded(text: str) -> str:
    if len(text) <= MAX_REDACTED_CHARS:
        return text
    kept = text[:MAX_REDACTED_CHARS]
    cut = max(kept.rfind(" "), kept.rfind("\n"))
    kept = kept[:cut] if cut > 0 else ""
    return f"{kept} ... ({len(text) - len(kept):,} more characters not shown)"


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
