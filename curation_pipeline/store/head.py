"""HEAD, the ref naming a dataset's latest version: read and swapped here only.

The ref holds the version id as ASCII text (surrounding whitespace is
ignored on read, so a hand-edited ref with a newline still works).
"""

from __future__ import annotations

from curation_pipeline.store import layout
from curation_pipeline.store.backends.base import ObjectBackend, RefToken


def read_head(backend: ObjectBackend, dataset: str) -> tuple[str | None, RefToken | None]:
    """HEAD's version id (None before the first version) and the ref's token for :func:`swap_head`."""
    ref = backend.read_ref(layout.head_key(dataset))
    if ref is None:
        return None, None
    return ref.data.decode("ascii").strip(), ref.token


def swap_head(backend: ObjectBackend, dataset: str, version_id: str, expected: RefToken | None) -> None:
    """Point HEAD at ``version_id`` if the ref is still at token ``expected`` (None: absent).

    Raises:
        WriteConflictError: HEAD changed (or appeared) since it was read.
    """
    backend.swap_ref(layout.head_key(dataset), version_id.encode("ascii"), expected)
