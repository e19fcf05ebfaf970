"""Run a benchmark child under a memory cap: a watchdog kills it when its memory passes the cap.

Why a watchdog and not the kernel: ``RLIMIT_AS`` caps address space, not
memory, and engines that map files or reserve arenas (polars, DuckDB, jemalloc,
mimalloc) fail under it long before they use the memory; a cgroup is what a
2 GiB run worker has, but on this machine the memory controller is cgroup v1
and owned by the host's process management (cgroup v2 has no memory controller
here), so the benchmark does not create cgroups. The watchdog samples the
child every ``interval`` seconds (psutil) and kills it (SIGKILL) as soon as its
anonymous resident memory (RSS minus file-backed and shared pages: what a
cgroup cannot reclaim and would count against ``memory.max`` before killing)
is over the cap. Between two samples the child can overshoot by what it
allocates in ``interval`` (well under 100 MB at 20 ms), which is why the cap is
checked this often.

The child talks to its parent over stdout/stdin: a line ``MARK`` asks the
parent to note the moment (the parent snapshots S3 traffic there and answers
``go``), any other line starting with ``{`` is the child's JSON result.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import psutil

GIB = 2**30
MARK = "MARK"


@dataclass
class Outcome:
    """How a capped child ended: its result, or why it has none, and what the watchdog saw."""

    result: dict[str, Any] | None = None
    status: str = "ok"  # ok, over cap, failed: <reason>, timed out
    stderr: str = ""  # the end of the child's stderr, when it failed
    peak_anon_mb: float = 0.0
    marks: list[Any] = field(default_factory=list)


def run_capped(
    command: Sequence[str],
    *,
    cap_bytes: int,
    timeout: float,
    env: dict[str, str] | None = None,
    on_mark: Callable[[], Any] | None = None,
    interval: float = 0.02,
) -> Outcome:
    """Run ``command`` with the memory cap and a timeout; ``on_mark()`` is recorded at each ``MARK``."""
    outcome = Outcome()
    child = subprocess.Popen(
        list(command), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    stderr: list[str] = []
    reader = threading.Thread(target=lambda: stderr.extend(child.stderr), daemon=True)  # type: ignore[arg-type]
    reader.start()
    killed: list[str] = []
    done = threading.Event()
    watchdog = threading.Thread(
        target=_watch, args=(child, cap_bytes, timeout, interval, outcome, killed, done), daemon=True
    )
    watchdog.start()
    assert child.stdout is not None and child.stdin is not None
    for line in child.stdout:
        line = line.strip()
        if line == MARK:
            outcome.marks.append(on_mark() if on_mark else time.monotonic())
            try:
                child.stdin.write("go\n")
                child.stdin.flush()
            except BrokenPipeError:
                break
        elif line.startswith("{"):
            outcome.result = json.loads(line)
    code = child.wait()
    done.set()
    watchdog.join()
    reader.join(5)
    if killed:
        outcome.status, outcome.result = killed[0], None
    elif code != 0:
        outcome.status, outcome.result = f"failed: {_reason(stderr, code)}", None
        outcome.stderr = "".join(stderr)[-4000:]
    elif outcome.result is None:
        outcome.status = "failed: no result"
    return outcome


def _watch(
    child: subprocess.Popen,
    cap_bytes: int,
    timeout: float,
    interval: float,
    outcome: Outcome,
    killed: list[str],
    done: threading.Event,
) -> None:
    try:
        process = psutil.Process(child.pid)
    except psutil.NoSuchProcess:
        return
    deadline = time.monotonic() + timeout
    while not done.wait(interval):
        try:
            memory = process.memory_info()
        except psutil.NoSuchProcess:
            return
        anon = memory.rss - getattr(memory, "shared", 0)
        outcome.peak_anon_mb = max(outcome.peak_anon_mb, anon / 2**20)
        if anon > cap_bytes:
            killed.append(f"over {cap_bytes / GIB:g} GiB")
        elif time.monotonic() > deadline:
            killed.append(f"timed out ({timeout:g} s)")
        if killed:
            child.kill()
            return


# "module.Name: message" or "NameError: message", as a traceback's last line names what was raised.
_EXCEPTION_LINE = re.compile(r"^[\w.]*(Error|Exception|Exit|Interrupt)\b[^:]*:")


def _reason(stderr: list[str], code: int) -> str:
    """The exception the child died of (else its last line of stderr), shortened; else its exit code.

    Libraries append advice after the exception (DuckDB's "See also ..."): the
    exception's own line says what went wrong.
    """
    lines = [line.strip() for line in stderr if line.strip()]
    raised = [line for line in lines if _EXCEPTION_LINE.match(line)]
    reason = raised[-1] if raised else lines[-1] if lines else f"exit code {code}"
    return reason if len(reason) <= 100 else reason[:97] + "..."


# --- in the child -----------------------------------------------------------------


def mark() -> None:
    """Tell the parent a measured run starts or ends, and wait until it has noted it."""
    print(MARK, flush=True)
    sys.stdin.readline()


def peak_rss_mb() -> float:
    """This process's peak resident memory in MB (VmHWM: not inherited from the parent, as ru_maxrss is)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
