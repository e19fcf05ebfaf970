"""A throwaway PostgreSQL server on a free 127.0.0.1 port, for tests of the production instance.

    with PostgresServer.start() as pg:
        env = pg.dagster_env()          # DAGSTER_PG_HOST, _PORT, _USER, _PASSWORD, _DB
        ...

The cluster lives in a fresh temporary directory (``initdb``, trust
authentication on 127.0.0.1 only, no fsync: the data is thrown away), the
server runs as a :class:`~curation_devtools.processes.ProcessTree` and is
stopped by its PID; the directory is removed afterwards. ``initdb`` and
``postgres`` refuse to run as root, so as root both run as the ``postgres``
system user (``runuser``), which owns the directory.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType

from curation_devtools.errors import DagsterDevError
from curation_devtools.processes import ProcessTree, free_port
from curation_devtools.waiting import poll

#: Overrides where the PostgreSQL programs (initdb, postgres, pg_isready) are looked up.
BINDIR_ENV = "CURATION_PG_BINDIR"
SYSTEM_USER = "postgres"
DATABASE = "dagster"
USER = "dagster"
PASSWORD = "dagster-test"  # a throwaway server on 127.0.0.1; trust authentication ignores it anyway


def find_bindir() -> Path:
    """The directory holding ``initdb`` and ``postgres``: $CURATION_PG_BINDIR, Debian's, or $PATH's."""
    candidates = [os.environ.get(BINDIR_ENV, "")]
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)  # newest major first
    on_path = shutil.which("initdb")
    candidates.append(str(Path(on_path).parent) if on_path else "")
    for candidate in filter(None, candidates):
        if (Path(candidate) / "initdb").is_file() and (Path(candidate) / "postgres").is_file():
            return Path(candidate)
    raise DagsterDevError(f"no PostgreSQL server programs found (install postgresql or set {BINDIR_ENV})")


class PostgresServer:
    """A running PostgreSQL server with one database, :data:`DATABASE`, owned by :data:`USER`."""

    def __init__(self, root: Path, process: ProcessTree, port: int, bindir: Path) -> None:
        self.root = root
        self.process = process
        self.port = port
        self.bindir = bindir
        self.host = "127.0.0.1"

    @classmethod
    def start(cls, timeout: float = 60.0) -> PostgresServer:
        """initdb a fresh cluster, start it and create the database; stop everything on failure."""
        bindir = find_bindir()
        root = Path(tempfile.mkdtemp(prefix="curation-pg-"))
        _hand_over(root)
        data, sockets = root / "data", root / "sockets"
        for folder in (data, sockets):
            folder.mkdir()
            _hand_over(folder)
        _run([str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"])
        port = free_port()
        command = [
            str(bindir / "postgres"), "-D", str(data), "-p", str(port), "-k", str(sockets),
            "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
            "-c", "full_page_writes=off", "-c", "max_connections=200",
        ]  # fmt: skip
        process = ProcessTree.start(_as_owner(command), cwd=root, env=_child_env(), log_path=root / "postgres.log")
        server = cls(root, process, port, bindir)
        try:
            server.wait_ready(timeout)
            server.sql(f"CREATE USER {USER} PASSWORD '{PASSWORD}'")
            server.sql(f"CREATE DATABASE {DATABASE} OWNER {USER}")
        except BaseException:
            server.stop()
            raise
        return server

    def wait_ready(self, timeout: float) -> None:
        """Wait until the server accepts connections; raise with its log if it exits or times out."""

        def ready() -> bool:
            if self.process.exit_code is not None:
                raise DagsterDevError(f"postgres exited with {self.process.exit_code}\n{self.log_tail()}")
            probe = [str(self.bindir / "pg_isready"), "-h", self.host, "-p", str(self.port), "-q"]
            return subprocess.run(probe, check=False, env=_child_env()).returncode == 0

        poll(ready, bool, timeout=timeout, interval=0.2, describe_timeout=lambda _: f"postgres not up\n{self.log_tail()}")

    def sql(self, statement: str, database: str = "postgres") -> str:
        """Run one statement through ``psql`` as the superuser; return its unaligned output."""
        psql = [str(self.bindir.parent / "bin" / "psql")]
        if not Path(psql[0]).is_file():
            psql = [shutil.which("psql") or "psql"]
        command = psql + ["-h", self.host, "-p", str(self.port), "-U", "postgres", "-d", database]
        command += ["-v", "ON_ERROR_STOP=1", "-At", "-c", statement]
        return _run(command).strip()

    def dagster_env(self) -> dict[str, str]:
        """The ``DAGSTER_PG_*`` variables ``deploy/dagster.yaml`` reads."""
        return {
            "DAGSTER_PG_HOST": self.host,
            "DAGSTER_PG_PORT": str(self.port),
            "DAGSTER_PG_USER": USER,
            "DAGSTER_PG_PASSWORD": PASSWORD,
            "DAGSTER_PG_DB": DATABASE,
        }

    def log_tail(self, chars: int = 5_000) -> str:
        """The end of the server's log."""
        try:
            return (self.root / "postgres.log").read_text(errors="replace")[-chars:]
        except OSError:
            return "(no log)"

    def stop(self, grace: float = 20.0) -> list[str]:
        """Stop the server by its PID (SIGTERM, then SIGKILL), remove its directory; return survivors."""
        survivors = self.process.stop(grace)
        shutil.rmtree(self.root, ignore_errors=True)
        return survivors

    def __enter__(self) -> PostgresServer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        survivors = self.stop()
        if survivors and exc_type is None:
            raise DagsterDevError(f"postgres survived its shutdown: {survivors}")


def _is_root() -> bool:
    return os.geteuid() == 0


def _as_owner(command: list[str]) -> list[str]:
    """``command`` run as the ``postgres`` system user when this process is root (initdb refuses root)."""
    return ["runuser", "-u", SYSTEM_USER, "--", *command] if _is_root() else command


def _hand_over(path: Path) -> None:
    """Give ``path`` to the ``postgres`` user when running as root (it must own its data directory)."""
    if _is_root():
        account = pwd.getpwnam(SYSTEM_USER)
        os.chown(path, account.pw_uid, account.pw_gid)
        path.chmod(0o700)


def _child_env() -> dict[str, str]:
    """A minimal environment: no PG* variables of the caller leak into the throwaway server."""
    keep = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
    return {**keep, "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}


def _run(command: list[str]) -> str:
    result = subprocess.run(_as_owner(command), capture_output=True, text=True, env=_child_env(), check=False)
    if result.returncode != 0:
        raise DagsterDevError(f"{' '.join(command[:2])} failed ({result.returncode}): {result.stderr[-3000:]}")
    return result.stdout
