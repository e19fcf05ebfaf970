"""A real ``dagster dev`` (webserver, daemon and code server) on a free 127.0.0.1 port.

    with DagsterDev.start(home=tmp / "home", env={...}, log_path=tmp / "dagster.log") as dev:
        run_id = dev.client.launch_partition_run(["curated", "reviews"], "2024-05-01")
        dev.client.wait_run(run_id)

Leaving the ``with`` block stops the whole process tree and raises if any of
its processes survives.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

from curation_devtools.client import WebserverClient
from curation_devtools.errors import DagsterDevError
from curation_devtools.processes import ProcessTree, free_port
from curation_devtools.waiting import poll

# This package lives at the repository root next to these files (it is only installed editable).
PROJECT_ROOT = Path(__file__).resolve().parents[1]
WORKSPACE_FILE = PROJECT_ROOT / "workspace.yaml"
INSTANCE_FILE = PROJECT_ROOT / "dagster.yaml"


class DagsterDev:
    """A running ``dagster dev`` and the client of its webserver."""

    def __init__(self, processes: ProcessTree, port: int, home: Path, log_path: Path) -> None:
        self.processes = processes
        self.port = port
        self.home = home
        self.log_path = log_path
        self.client = WebserverClient(self.url)

    @property
    def url(self) -> str:
        """The webserver's base URL."""
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
        """Start ``dagster dev`` with DAGSTER_HOME=``home`` (given ``instance_file``) and wait for it.

        ``env`` is added to this process's environment. Returns once the
        webserver answers and every code location is loaded; on failure the
        process tree is stopped and the error carries the end of the log.
        """
        home.mkdir(parents=True, exist_ok=True)
        shutil.copy(instance_file, home / "dagster.yaml")
        port = port or free_port()
        command = [sys.executable, "-m", "dagster", "dev", "-w", str(workspace), "-h", "127.0.0.1", "-p", str(port)]
        processes = ProcessTree.start(
            command,
            cwd=workspace.parent,
            env={**os.environ, **(env or {}), "DAGSTER_HOME": str(home), "PYTHONUNBUFFERED": "1"},
            log_path=log_path,
        )
        dev = cls(processes, port=port, home=home, log_path=log_path)
        try:
            dev.wait_ready(timeout)
        except BaseException:
            dev.stop(check=False)
            raise
        return dev

    def wait_ready(self, timeout: float) -> None:
        """Wait until the webserver answers and the code locations are loaded.

        Raises:
            DagsterDevError: ``dagster dev`` exited, a code location failed to
                load, or ``timeout`` seconds passed.
        """
        poll(
            self._locations_if_up,
            lambda entries: bool(entries) and all(e["loadStatus"] == "LOADED" for e in entries),
            timeout=timeout,
            interval=0.5,
            describe_timeout=lambda _: f"dagster dev not ready after {timeout:.0f}s\n{self.log_tail()}",
        )

    def _locations_if_up(self) -> list[dict]:
        """The code locations once the webserver answers (none before); raise on exit or load error."""
        if self.processes.exit_code is not None:
            raise DagsterDevError(f"dagster dev exited with {self.processes.exit_code}\n{self.log_tail()}")
        if not self.client.ping():
            return []
        entries = self.client.location_status()
        for entry in entries:
            error = entry["locationOrLoadError"]
            if error and error["__typename"] == "PythonError":
                raise DagsterDevError(
                    f"code location {entry['name']} failed to load: {error['message']}{''.join(error['stack'])}"
                )
        return entries

    def log_tail(self, chars: int = 20_000) -> str:
        """The end of the ``dagster dev`` log, for failure messages."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return f"--- {self.log_path} (last {chars} chars) ---\n{text[-chars:]}"

    def stop(self, grace: float = 30.0, check: bool = True) -> None:
        """Stop the whole process tree (SIGTERM, SIGKILL after ``grace`` seconds).

        Raises:
            DagsterDevError: with ``check``, when a process of the tree survived.
        """
        survivors = self.processes.stop(grace)
        if check and survivors:
            described = "\n".join(f"  {line}" for line in survivors)
            raise DagsterDevError(f"processes of dagster dev survived the shutdown:\n{described}")

    def __enter__(self) -> DagsterDev:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop(check=exc_type is None)
