"""Run ``dagster dev`` for real and talk to it over GraphQL, as the UI does.

Used by the daemon and UI tests and by ``benchmarks/backfill_bench.py``:

    with DagsterDev.start(home=tmp / "home", env={...}, log_path=tmp / "dagster.log") as dev:
        run_id = dev.client.launch_partition_run(["curated", "reviews"], "2024-05-01")
        dev.client.wait_run(run_id)

:class:`DagsterDev` owns the process tree (its own session and process
group): leaving the ``with`` block sends SIGTERM to the whole group, then
SIGKILL after a grace period, and raises if any process of the group
survives. :class:`GraphQLClient` is a small synchronous client over the
webserver's ``/graphql`` endpoint (stdlib only).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[2]
WORKSPACE_FILE = PROJECT_ROOT / "workspace.yaml"
INSTANCE_FILE = PROJECT_ROOT / "dagster.yaml"
PARTITION_TAG = "dagster/partition"
RUN_DONE = {"SUCCESS", "FAILURE", "CANCELED"}
# Asset backfills end COMPLETED_SUCCESS / COMPLETED_FAILED; job backfills end COMPLETED.
BACKFILL_DONE = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}
BACKFILL_SUCCESS = {"COMPLETED", "COMPLETED_SUCCESS"}

AssetPath = Sequence[str]


class DagsterDevError(RuntimeError):
    """``dagster dev`` did not start, a GraphQL call failed, or a wait timed out."""


# --- GraphQL documents ---------------------------------------------------------------

_ERROR_FIELDS = "__typename ... on Error { message } ... on PythonError { stack }"

_WORKSPACE = """
query Workspace {
  workspaceOrError {
    __typename
    ... on Workspace {
      locationEntries {
        name
        loadStatus
        locationOrLoadError { __typename ... on PythonError { message stack } }
      }
    }
  }
}
"""

_ASSET_NODE = """
query AssetNode($assetKey: AssetKeyInput!) {
  assetNodeOrError(assetKey: $assetKey) {
    __typename
    ... on AssetNode {
      jobNames
      isPartitioned
      partitionKeys
      repository { name location { name } }
    }
  }
}
"""

_ASSET_KEYS = """
query AssetKeys {
  assetNodes { assetKey { path } isPartitioned isMaterializable groupName }
}
"""

_LAUNCH_RUN = f"""
mutation LaunchRun($executionParams: ExecutionParams!) {{
  launchRun(executionParams: $executionParams) {{
    {_ERROR_FIELDS}
    ... on LaunchRunSuccess {{ run {{ runId }} }}
    ... on RunConfigValidationInvalid {{ errors {{ message }} }}
  }}
}}
"""

# The document the UI's partition dialog sends for an asset backfill.
_LAUNCH_BACKFILL = f"""
mutation LaunchPartitionBackfill($backfillParams: LaunchBackfillParams!) {{
  launchPartitionBackfill(backfillParams: $backfillParams) {{
    {_ERROR_FIELDS}
    ... on LaunchBackfillSuccess {{ backfillId launchedRunIds }}
  }}
}}
"""

_RUN = """
query Run($runId: ID!) {
  runOrError(runId: $runId) {
    __typename
    ... on Run { runId status tags { key value } startTime endTime }
    ... on Error { message }
  }
}
"""

_RUN_FAILURES = """
query RunFailures($runId: ID!) {
  logsForRun(runId: $runId, limit: 10000) {
    __typename
    ... on EventConnection {
      events {
        __typename
        ... on MessageEvent { message }
        ... on ExecutionStepFailureEvent { stepKey error { message stack } }
        ... on RunFailureEvent { pipelineName }
      }
    }
  }
}
"""

_BACKFILL = """
query Backfill($backfillId: String!) {
  partitionBackfillOrError(backfillId: $backfillId) {
    __typename
    ... on PartitionBackfill {
      id
      status
      numPartitions
      partitionNames
      endTimestamp
      error { message stack }
      runs { runId status tags { key value } }
    }
    ... on Error { message }
  }
}
"""

_METADATA_VALUES = """
  __typename
  label
  ... on TextMetadataEntry { text }
  ... on IntMetadataEntry { intValue intRepr }
  ... on FloatMetadataEntry { floatValue }
  ... on BoolMetadataEntry { boolValue }
  ... on JsonMetadataEntry { jsonString }
  ... on PathMetadataEntry { path }
  ... on UrlMetadataEntry { url }
  ... on MarkdownMetadataEntry { mdStr }
  ... on TimestampMetadataEntry { timestamp }
"""

_MATERIALIZATIONS = f"""
query Materializations($assetKey: AssetKeyInput!, $partitions: [String!], $limit: Int) {{
  assetOrError(assetKey: $assetKey) {{
    __typename
    ... on Asset {{
      assetMaterializations(partitions: $partitions, limit: $limit) {{
        partition
        runId
        timestamp
        metadataEntries {{ {_METADATA_VALUES} }}
      }}
    }}
    ... on Error {{ message }}
  }}
}}
"""

_SCHEDULES = """
query Schedules {
  repositoriesOrError {
    __typename
    ... on RepositoryConnection {
      nodes {
        name
        location { name }
        schedules {
          name
          pipelineName
          cronSchedule
          executionTimezone
          scheduleState { status }
        }
      }
    }
  }
}
"""

_SCHEDULE_DRY_RUN = f"""
mutation ScheduleDryRun($selectorData: ScheduleSelector!, $timestamp: Float) {{
  scheduleDryRun(selectorData: $selectorData, timestamp: $timestamp) {{
    {_ERROR_FIELDS}
    ... on DryRunInstigationTick {{
      timestamp
      evaluationResult {{
        skipReason
        error {{ message stack }}
        runRequests {{ runKey jobName tags {{ key value }} assetSelection {{ path }} }}
      }}
    }}
  }}
}}
"""


# --- values ----------------------------------------------------------------------------


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


# --- client ----------------------------------------------------------------------------


class GraphQLClient:
    """Synchronous GraphQL over HTTP against one webserver (``http://host:port``)."""

    def __init__(self, base_url: str, timeout: float = 60.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def query(self, document: str, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """POST ``document``; return ``data`` or raise :class:`DagsterDevError` on transport or GraphQL errors."""
        body = json.dumps({"query": document, "variables": dict(variables or {})}).encode()
        request = urllib.request.Request(
            f"{self.base_url}/graphql", data=body, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                payload = json.loads(response.read())
        except urllib.error.HTTPError as error:
            raise DagsterDevError(f"GraphQL HTTP {error.code}: {error.read()[:2000]!r}") from error
        if payload.get("errors"):
            raise DagsterDevError(f"GraphQL errors: {json.dumps(payload['errors'], indent=1)[:4000]}")
        return payload["data"]

    def ping(self) -> bool:
        """Whether ``/server_info`` answers 200."""
        try:
            with urllib.request.urlopen(f"{self.base_url}/server_info", timeout=2) as response:
                return response.status == 200
        except (OSError, urllib.error.URLError):
            return False

    # -- workspace and assets

    def location_status(self) -> list[dict[str, Any]]:
        """Each code location: name, loadStatus (LOADING/LOADED) and its load error if any."""
        data = self.query(_WORKSPACE)["workspaceOrError"]
        _expect(data, "Workspace")
        return data["locationEntries"]

    def asset_keys(self) -> list[tuple[str, ...]]:
        """Every asset key of the workspace (external assets included)."""
        return [tuple(node["assetKey"]["path"]) for node in self.query(_ASSET_KEYS)["assetNodes"]]

    def asset_node(self, asset_key: AssetPath) -> dict[str, Any]:
        """jobNames, isPartitioned, partitionKeys and repository of one asset."""
        data = self.query(_ASSET_NODE, {"assetKey": {"path": list(asset_key)}})["assetNodeOrError"]
        _expect(data, "AssetNode")
        return data

    # -- launching

    def launch_partition_run(self, asset_key: AssetPath, partition: str, job_name: str | None = None) -> str:
        """Launch one run materializing ``partition`` of ``asset_key`` (the dialog's "Launch 1 run").

        The run goes to one of the asset's jobs (``job_name`` or the first the
        asset belongs to), restricted to that asset and tagged with the partition.
        """
        node = self.asset_node(asset_key)
        job = job_name or node["jobNames"][0]
        params = {
            "selector": {
                "repositoryLocationName": node["repository"]["location"]["name"],
                "repositoryName": node["repository"]["name"],
                "jobName": job,
                "assetSelection": [{"path": list(asset_key)}],
            },
            "mode": "default",
            "executionMetadata": {"tags": [{"key": PARTITION_TAG, "value": partition}]},
        }
        result = self.query(_LAUNCH_RUN, {"executionParams": params})["launchRun"]
        _expect(result, "LaunchRunSuccess")
        return result["run"]["runId"]

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
        result = self.query(_LAUNCH_BACKFILL, {"backfillParams": params})["launchPartitionBackfill"]
        _expect(result, "LaunchBackfillSuccess")
        return result["backfillId"]

    # -- waiting

    def run(self, run_id: str) -> dict[str, Any]:
        data = self.query(_RUN, {"runId": run_id})["runOrError"]
        _expect(data, "Run")
        return data

    def wait_run(self, run_id: str, timeout: float = 120.0, poll: float = 0.5) -> dict[str, Any]:
        """Wait until the run ends; return it, or raise with the failure messages unless it succeeded."""
        deadline = time.monotonic() + timeout
        while True:
            run = self.run(run_id)
            if run["status"] in RUN_DONE:
                break
            if time.monotonic() > deadline:
                raise DagsterDevError(f"run {run_id} still {run['status']} after {timeout:.0f}s")
            time.sleep(poll)
        if run["status"] != "SUCCESS":
            raise DagsterDevError(f"run {run_id} ended {run['status']}:\n{self.run_failures(run_id)}")
        return run

    def run_failures(self, run_id: str) -> str:
        """The error messages and stacks of a failed run, for assertion messages."""
        data = self.query(_RUN_FAILURES, {"runId": run_id})["logsForRun"]
        lines = []
        for event in data.get("events", []):
            if event["__typename"] == "ExecutionStepFailureEvent":
                lines.append(f"step {event['stepKey']}: {event['error']['message']}")
                lines.extend(event["error"]["stack"])
            elif event["__typename"] in {"RunFailureEvent", "EngineEvent"} and "fail" in event.get("message", "").lower():
                lines.append(event["message"])
        return "\n".join(lines) or "(no failure event)"

    def backfill(self, backfill_id: str) -> dict[str, Any]:
        data = self.query(_BACKFILL, {"backfillId": backfill_id})["partitionBackfillOrError"]
        _expect(data, "PartitionBackfill")
        return data

    def wait_backfill(self, backfill_id: str, timeout: float = 300.0, poll: float = 1.0) -> Backfill:
        """Wait for a terminal status; raise on timeout or when the backfill or one of its runs failed."""
        start = time.monotonic()
        while True:
            data = self.backfill(backfill_id)
            if data["status"] in BACKFILL_DONE:
                break
            if time.monotonic() - start > timeout:
                raise DagsterDevError(
                    f"backfill {backfill_id} still {data['status']} after {timeout:.0f}s; "
                    f"runs: {[(r['runId'][:8], r['status']) for r in data['runs']]}"
                )
            time.sleep(poll)
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
        data = self.query(_MATERIALIZATIONS, variables)["assetOrError"]
        if data["__typename"] == "AssetNotFoundError":
            return []  # never materialized yet
        _expect(data, "Asset")
        return [
            Materialization(
                partition=event["partition"],
                run_id=event["runId"],
                timestamp_ms=float(event["timestamp"]),
                metadata={entry["label"]: metadata_value(entry) for entry in event["metadataEntries"]},
            )
            for event in data["assetMaterializations"]
        ]

    def latest_metadata(self, asset_key: AssetPath, partitions: Sequence[str] | None = None) -> dict[str, dict]:
        """The metadata of each partition's latest materialization, by partition key."""
        latest: dict[str, Materialization] = {}
        for event in self.materializations(asset_key, partitions):
            current = latest.get(event.partition)
            if current is None or event.timestamp_ms > current.timestamp_ms:
                latest[event.partition] = event
        return {key: event.metadata for key, event in latest.items()}

    # -- schedules

    def schedules(self) -> list[dict[str, Any]]:
        """Every schedule with its repository and location names, job, cron and status."""
        data = self.query(_SCHEDULES)["repositoriesOrError"]
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
        result = self.query(_SCHEDULE_DRY_RUN, {"selectorData": selector, "timestamp": timestamp})["scheduleDryRun"]
        _expect(result, "DryRunInstigationTick")
        evaluation = result["evaluationResult"]
        if evaluation["error"]:
            raise DagsterDevError(f"schedule tick failed: {evaluation['error']['message']}")
        return [
            RunRequest(
                run_key=request["runKey"],
                job_name=request["jobName"],
                tags={tag["key"]: tag["value"] for tag in request["tags"]},
                asset_keys=tuple(tuple(key["path"]) for key in request["assetSelection"] or ()),
            )
            for request in evaluation["runRequests"] or ()
        ]


def _expect(result: Mapping[str, Any], typename: str) -> None:
    if result["__typename"] != typename:
        details = result.get("message") or json.dumps(result)[:2000]
        stack = "".join(result.get("stack") or ())
        raise DagsterDevError(f"expected {typename}, got {result['__typename']}: {details}\n{stack}")


# --- the process ---------------------------------------------------------------------


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class DagsterDev:
    """A running ``dagster dev`` (webserver + daemon + code server) in its own process group."""

    process: subprocess.Popen
    port: int
    home: Path
    log_path: Path
    client: GraphQLClient = field(init=False)
    _log_file: Any = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.client = GraphQLClient(self.url)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @classmethod
    def start(
        cls,
        home: Path,
        log_path: Path,
        env: Mapping[str, str] | None = None,
        workspace: Path = WORKSPACE_FILE,
        instance_file: Path = INSTANCE_FILE,
        port: int | None = None,
        timeout: float = 180.0,
    ) -> DagsterDev:
        """Start ``dagster dev`` with DAGSTER_HOME=``home`` (given the project's dagster.yaml) and wait for it.

        ``env`` is added to this process's environment. Returns once the
        webserver answers and every code location is loaded; on failure the
        process group is stopped and the error carries the end of the log.
        """
        home.mkdir(parents=True, exist_ok=True)
        shutil.copy(instance_file, home / "dagster.yaml")
        port = port or free_port()
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_file = open(log_path, "ab")  # noqa: SIM115  # closed in stop()
        command = [
            sys.executable, "-m", "dagster", "dev",
            "-w", str(workspace), "-h", "127.0.0.1", "-p", str(port),
        ]
        with _sigint_default():
            process = subprocess.Popen(
                command,
                cwd=workspace.parent,
                env={**os.environ, **(env or {}), "DAGSTER_HOME": str(home), "PYTHONUNBUFFERED": "1"},
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # own session and process group: stopped as one
            )
        dev = cls(process=process, port=port, home=home, log_path=log_path, _log_file=log_file)
        try:
            dev.wait_ready(timeout)
        except BaseException:
            dev.stop(check=False)
            raise
        return dev

    def wait_ready(self, timeout: float) -> None:
        """Wait until the webserver answers and the code locations are loaded (or failed to load)."""
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise DagsterDevError(f"dagster dev exited with {self.process.returncode}\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise DagsterDevError(f"dagster dev not ready after {timeout:.0f}s\n{self.log_tail()}")
            if self.client.ping():
                entries = self.client.location_status()
                errors = [e for e in entries if e["locationOrLoadError"]
                          and e["locationOrLoadError"]["__typename"] == "PythonError"]
                if errors:
                    error = errors[0]["locationOrLoadError"]
                    raise DagsterDevError(
                        f"code location {errors[0]['name']} failed to load: {error['message']}"
                        f"{''.join(error['stack'])}"
                    )
                if entries and all(e["loadStatus"] == "LOADED" for e in entries):
                    return
            time.sleep(0.5)

    def log_tail(self, chars: int = 20_000) -> str:
        """The end of the ``dagster dev`` log, for failure messages."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return f"--- {self.log_path} (last {chars} chars) ---\n{text[-chars:]}"

    def group_pids(self) -> set[int]:
        """Live processes of this ``dagster dev``'s session (children re-parented to init included)."""
        return _session_members(self.process.pid) | _alive({self.process.pid})

    def stop(self, grace: float = 30.0, check: bool = True) -> None:
        """SIGTERM the process group, SIGKILL after ``grace`` seconds; raise if a member survives.

        Members are the processes of the group when stopping starts plus any
        process still in the session (a run started meanwhile, a child that
        moved to another group).
        """
        pgid = self.process.pid
        members = self.group_pids()

        def survivors() -> set[int]:
            return _alive(members) | _session_members(pgid)

        _signal_group(pgid, signal.SIGTERM)
        if not self._wait_gone(survivors, grace):
            _signal_group(pgid, signal.SIGKILL)
            for pid in survivors():
                _kill(pid)
            self._wait_gone(survivors, 10.0)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        left = survivors()
        if check and left:
            described = "\n".join(f"  {pid}: {_command(pid)}" for pid in sorted(left))
            raise DagsterDevError(f"processes of dagster dev survived the shutdown:\n{described}")

    def _wait_gone(self, survivors: Callable[[], set[int]], timeout: float) -> bool:
        """Poll until the leader has exited (and is reaped) and no survivor is left."""
        deadline = time.monotonic() + timeout
        while True:
            leader_done = self.process.poll() is not None
            if leader_done and not survivors():
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.2)

    def __enter__(self) -> DagsterDev:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop(check=exc_info[0] is None)


@contextmanager
def _sigint_default() -> Iterator[None]:
    """Let children inherit a default SIGINT even when this process ignores it.

    A process started in the background by a shell ignores SIGINT, and so would
    ``dagster dev``, which handles SIGTERM with its SIGINT handler: it would
    then ignore SIGTERM too and could only be killed, without a clean shutdown.
    """
    ignored = (
        threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGINT) == signal.SIG_IGN
    )
    if ignored:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
    try:
        yield
    finally:
        if ignored:
            signal.signal(signal.SIGINT, signal.SIG_IGN)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _command(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")[:300]
    except OSError:
        return "(gone)"


def _session_members(sid: int) -> set[int]:
    """PIDs (not zombies) whose session id is ``sid``, read from /proc (empty where /proc is missing)."""
    members = set()
    for entry in Path("/proc").glob("[0-9]*/stat"):
        try:
            stat = entry.read_text()
        except OSError:
            continue
        # Fields after the parenthesised command: state ppid pgrp session ...
        fields = stat.rsplit(")", 1)[-1].split()
        if len(fields) > 3 and fields[0] != "Z" and int(fields[3]) == sid:
            members.add(int(entry.parent.name))
    return members


def _alive(pids: set[int]) -> set[int]:
    alive = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
        except OSError:
            continue
        if state != "Z":
            alive.add(pid)
    return alive
