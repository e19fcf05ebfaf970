"""Where things live by default, resolved at call time (never at import time)."""

from __future__ import annotations

import os

STORE_URL_ENV = "CURATION_STORE_URL"
DEFAULT_STORE_URL = "./.curation"


def resolve_store_url(url: str | None = None) -> str:
    """Return ``url``, else ``$CURATION_STORE_URL``, else the embedded ``./.curation``."""
    return url or os.environ.get(STORE_URL_ENV) or DEFAULT_STORE_URL
