"""Plain values read back from the webserver: materializations, backfills, schedule run requests."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

PARTITION_TAG = "dagster/partition"
RUN_DONE = frozenset({"SUCCESS", "FAILURE", "CANCELED"})
# Asset backfills end COMPLETED_SUCCESS / COMPLETED_FAILED; job backfills end COMPLETED.
BACKFILL_DONE = frozenset({"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"})
BACKFILL_SUCCESS = frozenset({"COMPLETED", "COMPLETED_SUCCESS"})


@dataclass(frozen=True)
class Materialization:
    """One materialization event of one partition, its metadata as plain Python values."""

    partition: str | None
    run_id: str
    timestamp_ms: float
    metadata: dict[str, Any]


@dataclass(frozen=True)
class Backfill:
    """A finished (or timed-out) backfill as the instance reports it."""

    id: str
    status: str
    partition_names: tuple[str, ...]
    runs: tuple[dict[str, Any], ...]
    seconds: float  # from the wait's start to the moment the terminal status was seen

    @property
    def succeeded(self) -> bool:
        """The backfill completed and every one of its runs succeeded."""
        return self.status in BACKFILL_SUCCESS and all(r["status"] == "SUCCESS" for r in self.runs)


@dataclass(frozen=True)
class RunRequest:
    """One run a schedule tick would request."""

    run_key: str | None
    job_name: str | None
    tags: dict[str, str]
    asset_keys: tuple[tuple[str, ...], ...]

    @property
    def partition_key(self) -> str | None:
        """The partition the run would materialize, if any."""
        return self.tags.get(PARTITION_TAG)


def metadata_value(entry: Mapping[str, Any]) -> Any:
    """The Python value of one GraphQL metadata entry (tables and schemas give their type name)."""
    kind = entry["__typename"]
    if kind == "IntMetadataEntry":
        return entry["intValue"] if entry["intValue"] is not None else int(entry["intRepr"])
    if kind == "JsonMetadataEntry":
        return json.loads(entry["jsonString"])
    for key in ("text", "floatValue", "boolValue", "path", "url", "mdStr", "timestamp"):
        if key in entry:
            return entry[key]
    return kind


def materialization(event: Mapping[str, Any]) -> Materialization:
    """A :class:`Materialization` from one ``assetMaterializations`` entry."""
    return Materialization(
        partition=event["partition"],
        run_id=event["runId"],
        timestamp_ms=float(event["timestamp"]),
        metadata={entry["label"]: metadata_value(entry) for entry in event["metadataEntries"]},
    )


def run_request(request: Mapping[str, Any]) -> RunRequest:
    """A :class:`RunRequest` from one ``runRequests`` entry of a schedule tick."""
    return RunRequest(
        run_key=request["runKey"],
        job_name=request["jobName"],
        tags={tag["key"]: tag["value"] for tag in request["tags"]},
        asset_keys=tuple(tuple(key["path"]) for key in request["assetSelection"] or ()),
    )
