"""The naming rules shared by curators, datasets and applications.

A *name* is what a user writes, as Gantry accepts it: 1 to 255 characters of
Unicode text, mixed case and spaces allowed, no control characters, no path
separator (``/``, ``\\``), no leading or trailing blank. Names are shown as written.

Wherever a name becomes a storage key -- an S3 prefix, a folder, a Dagster
asset key, a job or schedule name -- its *key* is used instead
(:func:`name_key`): 1 to 63 characters of ``[a-z0-9_-]``. A name that already
has that form is its own key, so stores written before Gantry's names were
accepted read the same. The key is stable: it depends on the name alone, and
this function is part of the storage format. Two names with one key (``My
Data`` and ``my-data``) are an error naming both (:func:`check_unique_keys`,
and the store checks its records).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable

from curation_pipeline.errors import CurationError

# \A and \Z, not ^ and $: `$` also matches before a trailing newline, so
# "reviews\n" would pass. Anchored this way, `.match` and `.fullmatch` agree.
NAME_PATTERN = re.compile(r"\A[a-z0-9_-]{1,63}\Z")
#: The form of a key (and of a name that is its own key).
NAME_RULE = "1 to 63 characters of lower-case letters, digits, '-' and '_'"
MAX_NAME_LENGTH = 255
#: The rule names follow (Gantry's).
DISPLAY_NAME_RULE = (
    f"1 to {MAX_NAME_LENGTH} characters of text without control characters, '/', '\\' or surrounding blanks"
)
MAX_KEY_LENGTH = 63
_HASH_LENGTH = 8
_NOT_KEY = re.compile(r"[^a-z0-9_-]+")


class InvalidNameError(CurationError, ValueError):
    """A curator, dataset or application name breaks the naming rule (also a ``ValueError``)."""


class NameCollisionError(InvalidNameError):
    """Two different names map to one key; ``names`` holds both and ``key`` the key."""

    def __init__(self, message: str, names: tuple[str, str], key: str) -> None:
        super().__init__(message)
        self.names = names
        self.key = key


def _is_control(char: str) -> bool:
    # Cc (C0/C1 controls, DEL), Cs (lone surrogates), Zl/Zp (line and paragraph separators).
    return unicodedata.category(char) in ("Cc", "Cs", "Zl", "Zp")


def check_name(value: object, kind: str) -> str:
    """Return ``value`` if it is a valid name, else raise :class:`InvalidNameError`.

    ``kind`` says what is being named (``"curator"``, ``"dataset"``,
    ``"application"``) so the error reads naturally. Valid names follow
    :data:`DISPLAY_NAME_RULE`; use :func:`name_key` where the name becomes a key.
    """
    if (
        not isinstance(value, str)
        or not 1 <= len(value) <= MAX_NAME_LENGTH
        or value != value.strip()
        # Path separators are refused so that no name reads as a path ("../x"), though keys never hold one.
        or any(_is_control(char) or char in "/\\" for char in value)
    ):
        raise InvalidNameError(f"invalid {kind} name {value!r}: must be {DISPLAY_NAME_RULE}")
    return value


def name_key(name: str) -> str:
    """The storage key of ``name``: itself when it already has the key form, else a slug.

    The slug is the name lower-cased, accents dropped, every run of other
    characters written ``-``; when that loses the whole name or is longer than
    63 characters, it is cut and ends in ``-`` and 8 hex digits of the name's
    sha256, so long names sharing a prefix keep apart. ``My Curator`` ->
    ``my-curator``.
    """
    if NAME_PATTERN.fullmatch(name):
        return name
    ascii_text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    slug = _NOT_KEY.sub("-", ascii_text.lower()).strip("-")
    if slug and len(slug) <= MAX_KEY_LENGTH:
        return slug
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:_HASH_LENGTH]
    head = slug[: MAX_KEY_LENGTH - _HASH_LENGTH - 1].rstrip("-")
    return f"{head}-{digest}" if head else f"n-{digest}"


def collision(kind: str, first: str, second: str, key: str) -> NameCollisionError:
    """The error for two ``kind`` names sharing ``key``, naming both."""
    return NameCollisionError(
        f"{kind} names {first!r} and {second!r} both map to the key {key!r}; rename one of them",
        (first, second),
        key,
    )


def check_unique_keys(names: Iterable[str], kind: str) -> dict[str, str]:
    """Map each key to its name; raise :class:`NameCollisionError` when two names share a key.

    The same name given twice is not a collision (callers check duplicates
    their own way).
    """
    seen: dict[str, str] = {}
    for name in names:
        key = name_key(name)
        other = seen.setdefault(key, name)
        if other != name:
            raise collision(kind, other, name, key)
    return seen
