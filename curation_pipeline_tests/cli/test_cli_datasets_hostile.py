"""``datasets push`` of hostile folders and arguments: links, FIFOs, devices, invalid Unicode.

A folder is walked by the store's one walk (:func:`curation_pipeline.store.localfiles.walk_files`):
a symbolic link, FIFO, socket or device inside it is refused with exit 2 and
its path, before anything is read or stored; a file named on the command line
may be a link, but only to a regular file. Nothing hangs.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from curation_pipeline.store import DatasetStore
from curation_pipeline_tests.cli.helpers import fail, run, write


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    secret = tmp_path / "outside" / "secret.txt"
    secret.parent.mkdir()
    secret.write_bytes(b"not for the dataset")
    return secret


def _no_version(store_url: str, name: str) -> None:
    assert DatasetStore.open(store_url).get_dataset(name).head() is None


def test_push_refuses_a_link_to_a_file_outside_the_folder(store_url: str, tmp_path: Path, outside: Path) -> None:
    folder = write(tmp_path / "push", {"a.txt": b"a"})
    (folder / "leak.txt").symlink_to(outside)
    run(store_url, "create", "links")
    line = fail(store_url, "push", "links", str(folder), "-m", "m", code=2)
    assert f"{folder / 'leak.txt'} is a symbolic link" in line
    _no_version(store_url, "links")


def test_push_refuses_a_linked_subfolder(store_url: str, tmp_path: Path, outside: Path) -> None:
    folder = write(tmp_path / "push", {"a.txt": b"a"})
    (folder / "sub").symlink_to(outside.parent)
    run(store_url, "create", "links")
    line = fail(store_url, "push", "links", str(folder), "-m", "m", code=2)
    assert f"{folder / 'sub'} is a symbolic link" in line
    _no_version(store_url, "links")


def test_push_follows_a_link_named_on_the_command_line(store_url: str, tmp_path: Path, outside: Path) -> None:
    link = tmp_path / "chosen.txt"
    link.symlink_to(outside)
    run(store_url, "create", "chosen")
    run(store_url, "push", "chosen", str(link), "-m", "m")
    assert DatasetStore.open(store_url).get_dataset("chosen").read_file("secret.txt") == b"not for the dataset"


def test_push_refuses_invalid_unicode_in_the_prefix_and_file_names(store_url: str, tmp_path: Path) -> None:
    folder = write(tmp_path / "push", {"a.txt": b"a"})
    run(store_url, "create", "uni")
    line = fail(store_url, "push", "uni", str(folder), "-m", "m", "--to-path", "bad\udcff", code=2)
    assert "not valid Unicode" in line and "bad\\udcff" in line
    (folder / os.fsdecode(b"name\xff.txt")).write_bytes(b"x")
    line = fail(store_url, "push", "uni", str(folder), "-m", "m", code=2)
    assert "not valid Unicode" in line and "name\\udcff.txt" in line
    line = fail(store_url, "remove", "uni", "gone\udcff", "-m", "m", code=2)
    assert "not valid Unicode" in line
    line = fail(store_url, "create", "uni\udcff", code=2)
    assert "invalid dataset name" in line
    result = run(store_url, "push", "uni", str(folder / "a.txt"), "-m", "bad \udcff message", code=2)
    assert "not valid Unicode" in result.stderr and "Traceback" not in result.stderr
    _no_version(store_url, "uni")


def _special(kind: str, tmp_path: Path, inside: bool) -> Path:
    """A FIFO, a socket or a link to /dev/zero, inside a folder to push or on its own."""
    folder = write(tmp_path / "push", {"a.txt": b"a"})
    target = folder / "special" if inside else tmp_path / "special"
    if kind == "fifo":
        os.mkfifo(target)
    elif kind == "zero":
        target.symlink_to("/dev/zero")
    else:
        server = socket.socket(socket.AF_UNIX)
        server.bind(str(target))
        server.close()
    return folder if inside else target


WHAT = {"fifo": "a FIFO", "fifo-named": "a FIFO", "zero": "a symbolic link", "zero-named": "a character device", "socket": "a socket"}


@pytest.mark.parametrize("inside", [True, False], ids=["in-a-folder", "named"])
@pytest.mark.parametrize("kind", ["fifo", "zero"])
def test_push_of_a_special_file_fails_fast_naming_it(tmp_path: Path, kind: str, inside: bool) -> None:
    """In a child process with a deadline: before the fix a FIFO blocked and /dev/zero never ended."""
    given = _special(kind, tmp_path, inside)
    store = str(tmp_path / "store")
    DatasetStore.open(store).create_dataset("special")
    env = {**os.environ, "CURATION_STORE_URL": store}
    command = [sys.executable, "-m", "curation_pipeline.cli", "datasets", "push", "special", str(given), "-m", "m"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 2, done.stderr
    assert f"special is {WHAT[kind if inside else kind + '-named']}" in done.stderr
    assert "Traceback" not in done.stderr
    _no_version(store, "special")


@pytest.mark.parametrize("inside", [True, False], ids=["in-a-folder", "named"])
def test_push_of_a_socket_is_refused(store_url: str, tmp_path: Path, inside: bool) -> None:
    given = _special("socket", tmp_path, inside)
    run(store_url, "create", "special")
    line = fail(store_url, "push", "special", str(given), "-m", "m", code=2)
    assert "special is a socket" in line
    _no_version(store_url, "special")
