"""A command run in its own session, stopped as a whole process tree; and free local ports.

:class:`ProcessTree` starts the command as the leader of a new session and
process group, so one signal reaches every process it starts. Stopping it
sends SIGTERM to the group, SIGKILL after a grace period, and reports any
process of the tree still alive: the leader's descendants (found with
psutil) and any process left in its session (a child re-parented to init).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import psutil

from curation_devtools.waiting import wait_until


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ProcessTree:
    """A running command and every process it starts; its output goes to a log file."""

    def __init__(self, process: subprocess.Popen, log_file: IO[bytes]) -> None:
        self.process = process
        self._log_file: IO[bytes] | None = log_file

    @classmethod
    def start(cls, command: Sequence[str], *, cwd: Path, env: Mapping[str, str], log_path: Path) -> ProcessTree:
        """Start ``command`` in a new session, stdout and stderr appended to ``log_path``."""
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_file = open(log_path, "ab")  # noqa: SIM115  # closed in stop()
        try:
            with _sigint_default():
                process = subprocess.Popen(
                    list(command),
                    cwd=cwd,
                    env=dict(env),
                    stdin=subprocess.DEVNULL,
                    stdout=log_file,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # own session and process group: signalled as one
                )
        except BaseException:
            log_file.close()
            raise
        return cls(process, log_file)

    @property
    def pid(self) -> int:
        """The leader's pid, which is also the session and process group id."""
        return self.process.pid

    @property
    def exit_code(self) -> int | None:
        """The leader's exit code, None while it runs."""
        return self.process.poll()

    def members(self) -> list[psutil.Process]:
        """The live processes of the tree: the leader, its descendants and the rest of its session."""
        found: dict[int, psutil.Process] = {}
        try:
            leader = psutil.Process(self.pid)
            found[leader.pid] = leader
            found.update((child.pid, child) for child in leader.children(recursive=True))
        except psutil.NoSuchProcess:
            pass
        found.update((process.pid, process) for process in _session(self.pid) if process.pid not in found)
        return _alive(found.values())

    def stop(self, grace: float = 30.0) -> list[str]:
        """SIGTERM the group, SIGKILL what is left after ``grace`` seconds; describe the survivors.

        Returns the command lines of processes still alive at the end (empty
        when the whole tree is gone). The processes watched are those of the
        tree when stopping starts plus any still in the session afterwards.
        """
        watched = self.members()

        def survivors() -> list[psutil.Process]:
            known = {process.pid for process in watched}
            return _alive(watched) + [p for p in _session(self.pid) if p.pid not in known]

        def gone() -> bool:
            return self.process.poll() is not None and not survivors()  # poll() also reaps the leader

        _signal_group(self.pid, signal.SIGTERM)
        if not wait_until(gone, grace, 0.2):
            _signal_group(self.pid, signal.SIGKILL)
            for process in survivors():
                _kill(process)
            wait_until(gone, 10.0, 0.2)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        return [f"{process.pid}: {_command(process)}" for process in survivors()]


def _session(sid: int) -> list[psutil.Process]:
    """The live processes whose session id is ``sid``."""
    members = []
    for process in psutil.process_iter():
        try:
            if os.getsid(process.pid) == sid:
                members.append(process)
        except (ProcessLookupError, PermissionError):
            continue
    return _alive(members)


def _alive(processes: Iterable[psutil.Process]) -> list[psutil.Process]:
    """The processes still running (zombies count as gone: they only wait to be reaped)."""
    alive = []
    for process in processes:
        try:
            if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                alive.append(process)
        except psutil.NoSuchProcess:
            continue
    return alive


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass


def _kill(process: psutil.Process) -> None:
    try:
        process.kill()
    except psutil.NoSuchProcess:
        pass


def _command(process: psutil.Process) -> str:
    try:
        return " ".join(process.cmdline())[:300]
    except psutil.Error:
        return "(gone)"


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
