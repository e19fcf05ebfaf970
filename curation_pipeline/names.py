"""The one naming rule shared by curators, datasets and applications.

Names become storage keys (S3 prefixes, folder names, Dagster asset keys), so
they are restricted to a portable alphabet.
"""

from __future__ import annotations

import re

from curation_pipeline.errors import CurationError

# \A and \Z, not ^ and $: `$` also matches before a trailing newline, so
# "reviews\n" would pass. Anchored this way, `.match` and `.fullmatch` agree.
NAME_PATTERN = re.compile(r"\A[a-z0-9_-]{1,63}\Z")
NAME_RULE = "1 to 63 characters of lower-case letters, digits, '-' and '_'"


class InvalidNameError(CurationError, ValueError):
    """A curator, dataset or application name breaks the naming rule (also a ``ValueError``)."""


def check_name(value: object, kind: str) -> str:
    """Return ``value`` if it is a valid name, else raise :class:`InvalidNameError`.

    ``kind`` says what is being named (``"curator"``, ``"dataset"``,
    ``"application"``) so the error reads naturally.
    """
    if not isinstance(value, str) or not NAME_PATTERN.fullmatch(value):
        raise InvalidNameError(f"invalid {kind} name {value!r}: must be {NAME_RULE}")
    return value
