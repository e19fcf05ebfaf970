"""A picklable recipe for opening a test store (light to import in child processes)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from curation_pipeline.store import DatasetStore


@dataclass(frozen=True)
class StoreSpec:
    """How to open one test store: ``kind`` is ``local`` or ``s3``."""

    kind: str
    url: str
    options: dict[str, Any] = field(default_factory=dict)

    def open(self, **kwargs: Any) -> DatasetStore:
        """Open a new handle on the store."""
        return DatasetStore.open(self.url, **self.options, **kwargs)
