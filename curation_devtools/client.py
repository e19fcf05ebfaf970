"""A client of the Dagster webserver's GraphQL API, driving the instance the way the UI does.

Launching a job run and reading a run's status go through Dagster's own
``dagster_graphql.DagsterGraphQLClient``. It has no call for anything else
used here (workspace load status, asset nodes, asset backfills, pools,
materializations with metadata, schedules and their dry runs, a run's
failure events) and its query method is private, so those documents
(``curation_devtools/documents/*.graphql``) go over plain ``requests``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import requests
from dagster_graphql import DagsterGraphQLClient, DagsterGraphQLClientError

from curation_devtools.documents import document
from curation_devtools.errors import DagsterDevError
from curation_devtools.records import (
    BACKFILL_DONE,
    PARTITION_TAG,
    RUN_DONE,
    Backfill,
    Materialization,
    RunRequest,
    materialization,
    run_request,
)
from curation_devtools.waiting import poll

AssetPath = Sequence[str]


class WebserverClient:
    """Synchronous GraphQL over HTTP against one webserver (``http://host:port``)."""

    def __init__(self, base_url: str, timeout: float = 60.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._http = requests.Session()
        address = urlsplit(self.base_url)
        self._dagster = DagsterGraphQLClient(
            address.hostname or "127.0.0.1",
            port_number=address.port,
            use_https=address.scheme == "https",
            timeout=int(timeout),
        )

    def query(self, name: str, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Send the document ``<name>.graphql``; return ``data`` or raise :class:`DagsterDevError`."""
        try:
            response = self._http.post(
                f"{self.base_url}/graphql",
                json={"query": document(name), "variables": dict(variables or {})},
                timeout=self.timeout,
            )
        except requests.RequestException as error:
            raise DagsterDevError(f"GraphQL {name}: {error}") from error
        if not response.ok:
            raise DagsterDevError(f"GraphQL {name}: HTTP {response.status_code}: {response.text[:2000]}")
        payload = response.json()
        if payload.get("errors"):
            raise DagsterDevError(f"GraphQL {name} errors: {json.dumps(payload['errors'], indent=1)[:4000]}")
        return payload["data"]

    def ping(self) -> bool:
        """Whether ``/server_info`` answers 200."""
        try:
            return self._http.get(f"{self.base_url}/server_info", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    # -- workspace and assets

    def location_status(self) -> list[dict[str, Any]]:
        """Each code location: name, loadStatus (LOADING/LOADED) and its load error if any."""
        data = self.query("workspace")["workspaceOrError"]
        _expect(data, "Workspace")
        return data["locationEntries"]

    def asset_keys(self) -> list[tuple[str, ...]]:
        """Every asset key of the workspace (external assets included)."""
        return [tuple(node["assetKey"]["path"]) for node in self.query("asset_keys")["assetNodes"]]

    def asset_node(self, asset_key: AssetPath) -> dict[str, Any]:
        """jobNames, isPartitioned, partitionKeys and repository of one asset."""
        data = self.query("asset_node", {"assetKey": {"path": list(asset_key)}})["assetNodeOrError"]
        _expect(data, "AssetNode")
        return data

    def stale_status(self, asset_key: AssetPath, partitions: Sequence[str]) -> dict[str, str]:
        """Dagster's status of each partition: FRESH, STALE (upstream data changed) or MISSING."""
        data = self.query("stale_status", {"assetKey": {"path": list(asset_key)}, "partitions": list(partitions)})
        node = data["assetNodeOrError"]
        _expect(node, "AssetNode")
        return dict(zip(partitions, node["staleStatusByPartition"]))

    # -- launching

    def launch_partition_run(
        self,
        asset_key: AssetPath,
        partition: str,
        job_name: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> str:
        """Launch one run materializing ``partition`` of ``asset_key`` (the dialog's "Launch 1 run").

        The run goes to one of the asset's jobs (``job_name`` or the first the
        asset belongs to), restricted to that asset and tagged with the
        partition (and ``tags``: a schedule tick's run request carries some).
        """
        node = self.asset_node(asset_key)
        job = job_name or node["jobNames"][0]
        try:
            return self._dagster.submit_job_execution(
                job,
                repository_location_name=node["repository"]["location"]["name"],
                repository_name=node["repository"]["name"],
                tags={**(tags or {}), PARTITION_TAG: partition},
                asset_selection=[list(asset_key)],
            )
        except DagsterGraphQLClientError as error:
            raise DagsterDevError(f"launching {job} for {partition} failed: {error} {error.body or ''}") from error

    def launch_backfill(
        self,
        asset_keys: Iterable[AssetPath],
        partitions: Sequence[str],
        tags: Mapping[str, str] | None = None,
        title: str | None = None,
    ) -> str:
        """Launch an asset backfill of ``partitions`` exactly as the UI does; return its id."""
        params: dict[str, Any] = {
            "assetSelection": [{"path": list(key)} for key in asset_keys],
            "partitionNames": list(partitions),
            "fromFailure": False,
            "tags": [{"key": k, "value": v} for k, v in (tags or {}).items()],
        }
        if title:
            params["title"] = title
        result = self.query("launch_partition_backfill", {"backfillParams": params})["launchPartitionBackfill"]
        _expect(result, "LaunchBackfillSuccess")
        return result["backfillId"]

    # -- runs and backfills

    def run(self, run_id: str) -> dict[str, Any]:
        """runId, status, tags, startTime and endTime of one run."""
        data = self.query("run", {"runId": run_id})["runOrError"]
        _expect(data, "Run")
        return data

    def runs(
        self,
        tags: Mapping[str, str] | None = None,
        statuses: Sequence[str] | None = None,
        run_ids: Sequence[str] | None = None,
    ) -> list[dict[str, Any]]:
        """Every run (newest first) carrying all of ``tags``, optionally only in ``statuses`` or ``run_ids``.

        One query: the statuses it returns are a snapshot of one moment.
        """
        run_filter: dict[str, Any] = {"tags": [{"key": k, "value": v} for k, v in (tags or {}).items()]}
        if statuses:
            run_filter["statuses"] = list(statuses)
        if run_ids:
            run_filter["runIds"] = list(run_ids)
        data = self.query("runs", {"filter": run_filter})["runsOrError"]
        _expect(data, "Runs")
        return data["results"]

    def run_status(self, run_id: str) -> str:
        """The run's status name (QUEUED, STARTED, SUCCESS, FAILURE...)."""
        try:
            return self._dagster.get_run_status(run_id).value
        except DagsterGraphQLClientError as error:
            raise DagsterDevError(f"status of run {run_id}: {error}") from error

    def wait_run(self, run_id: str, timeout: float = 120.0, poll_interval: float = 0.5) -> dict[str, Any]:
        """Wait until the run ends; return it, or raise with the failure messages unless it succeeded."""
        status = poll(
            lambda: self.run_status(run_id),
            lambda status: status in RUN_DONE,
            timeout=timeout,
            interval=poll_interval,
            describe_timeout=lambda status: f"run {run_id} still {status} after {timeout:.0f}s",
        )
        if status != "SUCCESS":
            raise DagsterDevError(f"run {run_id} ended {status}:\n{self.run_failures(run_id)}")
        return self.run(run_id)

    def run_failures(self, run_id: str) -> str:
        """The error messages and stacks of a failed run, for assertion messages."""
        data = self.query("run_failures", {"runId": run_id})["logsForRun"]
        lines = []
        for event in data.get("events", []):
            if event["__typename"] == "ExecutionStepFailureEvent":
                lines.append(f"step {event['stepKey']}: {event['error']['message']}")
                lines.extend(event["error"]["stack"])
            elif event["__typename"] in {"RunFailureEvent", "EngineEvent"} and "fail" in event.get("message", "").lower():
                lines.append(event["message"])
        return "\n".join(lines) or "(no failure event)"

    def run_events(self, run_id: str) -> list[dict[str, Any]]:
        """Every event of a run, oldest first: its ``__typename``, ``message`` and ``timestamp``."""
        data = self.query("run_events", {"runId": run_id})["logsForRun"]
        _expect(data, "EventConnection")
        return data["events"]

    def backfill(self, backfill_id: str) -> dict[str, Any]:
        """Status, partitions, error and runs of one backfill."""
        data = self.query("backfill", {"backfillId": backfill_id})["partitionBackfillOrError"]
        _expect(data, "PartitionBackfill")
        return data

    def wait_backfill(self, backfill_id: str, timeout: float = 300.0, poll_interval: float = 1.0) -> Backfill:
        """Wait for a terminal status; raise on timeout or when the backfill or one of its runs failed."""
        start = time.monotonic()
        data = poll(
            lambda: self.backfill(backfill_id),
            lambda data: data["status"] in BACKFILL_DONE,
            timeout=timeout,
            interval=poll_interval,
            describe_timeout=lambda data: (
                f"backfill {backfill_id} still {data['status']} after {timeout:.0f}s; "
                f"runs: {[(r['runId'][:8], r['status']) for r in data['runs']]}"
            ),
        )
        result = Backfill(
            id=data["id"],
            status=data["status"],
            partition_names=tuple(data["partitionNames"] or ()),
            runs=tuple(data["runs"]),
            seconds=time.monotonic() - start,
        )
        if not result.succeeded:
            failures = [self.run_failures(r["runId"]) for r in result.runs if r["status"] != "SUCCESS"]
            error = data["error"]["message"] if data["error"] else ""
            raise DagsterDevError(f"backfill {backfill_id} ended {result.status} {error}\n" + "\n".join(failures))
        return result

    # -- reading results

    def materializations(
        self, asset_key: AssetPath, partitions: Sequence[str] | None = None, limit: int = 10_000
    ) -> list[Materialization]:
        """Materialization events of an asset (newest first), optionally only of ``partitions``."""
        variables = {"assetKey": {"path": list(asset_key)}, "partitions": partitions, "limit": limit}
        data = self.query("materializations", variables)["assetOrError"]
        if data["__typename"] == "AssetNotFoundError":
            return []  # never materialized yet
        _expect(data, "Asset")
        return [materialization(event) for event in data["assetMaterializations"]]

    def latest_metadata(self, asset_key: AssetPath, partitions: Sequence[str] | None = None) -> dict[str, dict]:
        """The metadata of each partition's latest materialization, by partition key."""
        latest: dict[str, Materialization] = {}
        for event in self.materializations(asset_key, partitions):
            current = latest.get(event.partition)
            if current is None or event.timestamp_ms > current.timestamp_ms:
                latest[event.partition] = event
        return {key: event.metadata for key, event in latest.items()}

    # -- concurrency pools

    def pools(self) -> dict[str, Any]:
        """The instance's pool settings (``poolGranularity``, ``defaultPoolLimit``) and ``limits``.

        ``limits`` maps each pool the instance knows (set, or given the default
        when a run first needed it) to its ``limit`` and ``usingDefaultLimit``.
        """
        data = self.query("pools")["instance"]
        limits = {entry["concurrencyKey"]: entry for entry in data["concurrencyLimits"]}
        return {**data["poolConfig"], "limits": limits}

    # -- schedules

    def schedules(self) -> list[dict[str, Any]]:
        """Every schedule with its repository and location names, job, cron and status."""
        data = self.query("schedules")["repositoriesOrError"]
        _expect(data, "RepositoryConnection")
        return [
            {**schedule, "repositoryName": repo["name"], "repositoryLocationName": repo["location"]["name"]}
            for repo in data["nodes"]
            for schedule in repo["schedules"]
        ]

    def schedules_for_asset(self, asset_key: AssetPath) -> list[dict[str, Any]]:
        """The schedules whose job materializes ``asset_key``."""
        jobs = set(self.asset_node(asset_key)["jobNames"])
        return [s for s in self.schedules() if s["pipelineName"] in jobs]

    def schedule_dry_run(self, schedule: Mapping[str, Any], timestamp: float) -> list[RunRequest]:
        """Evaluate the first tick of ``schedule`` (an entry of :meth:`schedules`) at or after ``timestamp``.

        This is the UI's "Test schedule" dialog: the running code server
        evaluates the schedule as of that cron tick (``timestamp`` is in epoch
        seconds and need not fall on a tick); nothing is launched.
        """
        selector = {key: schedule[key] for key in ("repositoryName", "repositoryLocationName")}
        selector["scheduleName"] = schedule["name"]
        result = self.query("schedule_dry_run", {"selectorData": selector, "timestamp": timestamp})["scheduleDryRun"]
        _expect(result, "DryRunInstigationTick")
        evaluation = result["evaluationResult"]
        if evaluation["error"]:
            raise DagsterDevError(f"schedule tick failed: {evaluation['error']['message']}")
        return [run_request(request) for request in evaluation["runRequests"] or ()]


def _expect(result: Mapping[str, Any], typename: str) -> None:
    """Raise unless a ``...OrError`` union resolved to ``typename``."""
    if result["__typename"] != typename:
        details = result.get("message") or json.dumps(result)[:2000]
        stack = "".join(result.get("stack") or ())
        raise DagsterDevError(f"expected {typename}, got {result['__typename']}: {details}\n{stack}")
