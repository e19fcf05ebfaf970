"""A split Dagster deployment on this machine: code server, webserver and daemon as separate processes.

This is the production topology of ``deploy/`` (one instance, typically on
PostgreSQL, shared by every process; the code location served over gRPC by
``dagster code-server start``), each process a
:class:`~curation_devtools.processes.ProcessTree` of its own so a test can
stop, or kill, any one of them:

    with SplitDeployment.start(home, instance_file=DEPLOY / "dagster.yaml", env=env, logs=tmp) as deployment:
        deployment.client.launch_partition_run(...)

Runs are launched by the code server (Dagster's default run launcher asks
the code location's server to start the run worker), so run workers are
descendants of :attr:`SplitDeployment.code_server`.
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

import psutil

from curation_devtools.client import WebserverClient
from curation_devtools.errors import DagsterDevError
from curation_devtools.processes import ProcessTree, free_port
from curation_devtools.waiting import poll

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEPLOY_DIR = PROJECT_ROOT / "deploy"
MODULE = "curation_pipeline.definitions"
LOCATION = "curation_pipeline"


class SplitDeployment:
    """The three long-running processes of a deployment and the client of its webserver."""

    def __init__(self, home: Path, env: dict[str, str], logs: Path, ports: dict[str, int]) -> None:
        self.home = home
        self.env = env
        self.logs = logs
        self.ports = ports
        self.processes: dict[str, ProcessTree] = {}
        self.client = WebserverClient(self.url)

    @property
    def url(self) -> str:
        """The webserver's base URL."""
        return f"http://127.0.0.1:{self.ports['webserver']}"

    @property
    def code_server(self) -> ProcessTree:
        return self.processes["code-server"]

    @classmethod
    def start(
        cls,
        home: Path,
        *,
        logs: Path,
        instance_file: Path = DEPLOY_DIR / "dagster.yaml",
        workspace: Path = DEPLOY_DIR / "workspace.yaml",
        env: Mapping[str, str] | None = None,
        timeout: float = 180.0,
    ) -> SplitDeployment:
        """Copy ``instance_file`` into ``home`` and start code server, webserver and daemon.

        ``env`` is added to this process's environment for all three (and so for
        every run worker). Returns once the webserver has loaded the code
        location from the code server and the daemon is running; stops what
        was started on failure.
        """
        home.mkdir(parents=True, exist_ok=True)
        shutil.copy(instance_file, home / "dagster.yaml")
        ports = {"code-server": free_port(), "webserver": free_port()}
        full_env = {
            **os.environ,
            **(env or {}),
            "DAGSTER_HOME": str(home),
            "PYTHONUNBUFFERED": "1",
            "CURATION_CODE_SERVER_HOST": "127.0.0.1",
            "CURATION_CODE_SERVER_PORT": str(ports["code-server"]),
        }
        deployment = cls(home, full_env, logs, ports)
        try:
            deployment._spawn("code-server", _dagster("code-server", "start", "-m", MODULE, "--location-name", LOCATION,
                                                      "-h", "127.0.0.1", "-p", str(ports["code-server"])))
            deployment.wait_code_server(timeout)  # the webserver would otherwise record it unreachable
            deployment._spawn("webserver", [sys.executable, "-m", "dagster_webserver", "-w", str(workspace),
                                            "-h", "127.0.0.1", "-p", str(ports["webserver"])])
            deployment._spawn("daemon", [sys.executable, "-m", "dagster._daemon", "run", "-w", str(workspace)])
            deployment.wait_ready(timeout)
        except BaseException:
            deployment.stop(check=False)
            raise
        return deployment

    def _spawn(self, name: str, command: list[str]) -> None:
        self.processes[name] = ProcessTree.start(
            command, cwd=PROJECT_ROOT, env=self.env, log_path=self.logs / f"{name}.log"
        )

    def wait_code_server(self, timeout: float) -> None:
        """Wait until the code server accepts connections (its proxy listens once the code has loaded)."""

        def listening() -> bool:
            self.check_alive()
            try:
                socket.create_connection(("127.0.0.1", self.ports["code-server"]), timeout=1).close()
            except OSError:
                return False
            return True

        poll(listening, bool, timeout=timeout, interval=0.3,
             describe_timeout=lambda _: f"code server not listening after {timeout:.0f}s\n{self.log_tail()}")

    def wait_ready(self, timeout: float) -> None:
        """Wait until the code location is LOADED in the webserver and the daemon reports healthy."""
        poll(
            self._ready,
            bool,
            timeout=timeout,
            interval=0.5,
            describe_timeout=lambda _: f"deployment not ready after {timeout:.0f}s\n{self.log_tail()}",
        )

    def _ready(self) -> bool:
        self.check_alive()
        if not self.client.ping():
            return False
        entries = self.client.location_status()
        for entry in entries:
            error = entry["locationOrLoadError"]
            if error and error["__typename"] == "PythonError":
                return False  # the code server may still be loading: the webserver retries it
        loaded = bool(entries) and all(e["loadStatus"] == "LOADED" and e["locationOrLoadError"] for e in entries)
        return loaded and self.daemons_healthy()

    def daemons_healthy(self) -> bool:
        """Whether the daemon has heartbeated for every daemon type the instance needs."""
        data = self.client.query("daemon_health")["instance"]["daemonHealth"]["allDaemonStatuses"]
        return bool(data) and all(status["healthy"] or not status["required"] for status in data)

    def check_alive(self) -> None:
        """Raise if any of the three processes has exited."""
        for name, process in self.processes.items():
            if process.exit_code is not None:
                raise DagsterDevError(f"{name} exited with {process.exit_code}\n{self.log_tail()}")

    def run_workers(self) -> list[psutil.Process]:
        """The run worker processes under the code server (it spawns one per run with multiprocessing)."""
        workers = []
        for process in self.code_server.members():
            try:
                if "spawn_main" in " ".join(process.cmdline()):
                    workers.append(process)
            except psutil.Error:
                continue
        return workers

    def log_tail(self, chars: int = 6_000) -> str:
        """The end of each process's log, for failure messages."""
        parts = []
        for name in self.processes:
            path = self.logs / f"{name}.log"
            try:
                text = path.read_text(errors="replace")[-chars:]
            except OSError:
                text = "(no log)"
            parts.append(f"--- {path} ---\n{text}")
        return "\n".join(parts)

    def stop(self, grace: float = 30.0, check: bool = True) -> None:
        """Stop the daemon, the webserver, then the code server (whole process trees)."""
        survivors: list[str] = []
        for name in ("daemon", "webserver", "code-server"):
            if name in self.processes:
                survivors += [f"{name}: {line}" for line in self.processes[name].stop(grace)]
        if check and survivors:
            raise DagsterDevError("processes of the deployment survived the shutdown:\n" + "\n".join(survivors))

    def __enter__(self) -> SplitDeployment:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop(check=exc_type is None)


def _dagster(*args: str) -> list[str]:
    return [sys.executable, "-m", "dagster", *args]
