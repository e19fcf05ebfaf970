"""The one walk over a local folder, and writes that never go through a link."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from curation_pipeline.store import UnsafePathError
from curation_pipeline.store.localfiles import LocalFolder, regular_file, walk_files


def _tree(root: Path, files: dict[str, bytes]) -> Path:
    for path, content in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(content)
    return root


def test_walk_yields_regular_files_sorted_and_skips_the_state_folder(tmp_path: Path) -> None:
    root = _tree(tmp_path / "r", {"b": b"", "a/z": b"", "a/b/c": b"", ".curation/state.json": b"", "x/.curation/k": b""})
    (root / "empty").mkdir()
    assert [path for path, _ in walk_files(root)] == ["a/b/c", "a/z", "b", "x/.curation/k"]


@pytest.mark.parametrize("kind", ["file-link", "folder-link", "dangling-link", "fifo", "socket", "device-link"])
def test_walk_refuses_links_and_special_files_naming_them(tmp_path: Path, kind: str) -> None:
    root = _tree(tmp_path / "r", {"a": b"1"})
    odd = root / "sub" / "odd"
    odd.parent.mkdir()
    if kind == "file-link":
        odd.symlink_to(root / "a")
    elif kind == "folder-link":
        odd.symlink_to(tmp_path)
    elif kind == "dangling-link":
        odd.symlink_to(tmp_path / "nowhere")
    elif kind == "fifo":
        os.mkfifo(odd)
    elif kind == "device-link":
        odd.symlink_to("/dev/zero")
    else:
        sock = socket.socket(socket.AF_UNIX)
        sock.bind(str(odd))
        sock.close()
    with pytest.raises(UnsafePathError, match=f"{odd} is a"):
        list(walk_files(root))


def test_regular_file_follows_a_named_link_but_refuses_devices(tmp_path: Path) -> None:
    target = _tree(tmp_path, {"t": b"1"}) / "t"
    (tmp_path / "link").symlink_to(target)
    assert regular_file(tmp_path / "link") == tmp_path / "link"
    with pytest.raises(UnsafePathError, match="character device"):
        regular_file(Path("/dev/zero"))


def test_local_folder_never_writes_or_deletes_through_a_link(tmp_path: Path) -> None:
    outside = _tree(tmp_path / "outside", {"keep": b"keep", "sub/keep": b"keep"})
    root = tmp_path / "root"
    root.mkdir()
    (root / "linked").symlink_to(outside)
    with LocalFolder(root) as folder:
        for action in (
            lambda: folder.make_folder("linked/new"),
            lambda: folder.write_json("linked/state.json", {}),
            lambda: folder.remove_file("linked/keep"),
            lambda: folder.remove_entry("linked/sub"),
            lambda: folder.lstat("linked/keep"),
        ):
            with pytest.raises(UnsafePathError, match="linked is a symbolic link"):
                action()
        folder.remove_entry("linked")  # the link itself goes, not what it points at
    assert not os.path.lexists(root / "linked")
    assert sorted(p.relative_to(outside).as_posix() for p in outside.rglob("*")) == ["keep", "sub", "sub/keep"]


def test_local_folder_moves_a_file_over_an_empty_folder_tree_only(tmp_path: Path) -> None:
    root = _tree(tmp_path / "root", {"full/x": b"1"})
    (root / "empty/a/b").mkdir(parents=True)
    source = _tree(tmp_path, {"s1": b"s1", "s2": b"s2"})
    with LocalFolder(root) as folder:
        folder.move_in(source / "s1", "empty")
        with pytest.raises(UnsafePathError, match="still holds"):
            folder.move_in(source / "s2", "full")
    assert (root / "empty").read_bytes() == b"s1"
    assert (root / "full/x").read_bytes() == b"1"
