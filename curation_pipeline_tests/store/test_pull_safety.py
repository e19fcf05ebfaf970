"""Pulls that cannot stop halfway or reach outside their folder, on both backends.

- A commit refuses a version no supported filesystem can hold (a segment over
  255 bytes, ``x`` beside ``x/y``, invalid Unicode); a pull checks every path
  of a version stored anyway before it touches the folder.
- A pull interrupted at any filesystem step (an exception, or the process
  killed) leaves the old version or, once the working copy is next used, the
  new one; a re-pull always succeeds.
- Links and special files planted in the destination are refused or replaced,
  never written, read or deleted through.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import shutil
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from curation_pipeline.store import (
    Dataset,
    DatasetStore,
    LocalChangesError,
    UnsafePathError,
    WorkingCopyError,
)
from curation_pipeline.store.manifest import canonical_json

LONG = "n" * 256
V1 = {"a.txt": b"a1", "keep.txt": b"same", "old/gone.txt": b"bye", "x": b"file x", "deep/er/f": b"f1"}
V2 = {"a.txt": b"a2", "keep.txt": b"same", "new/b.txt": b"b2", "x/y": b"now a folder", "deep/er/f": b"f2"}


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.relative_to(folder).parts[0] != ".curation"
    }


def _plant_version(store: DatasetStore, name: str, files: dict[str, bytes]) -> str:
    """Store a version holding ``files`` as HEAD, bypassing the commit checks (as an old writer might)."""
    ds = store.get_dataset(name)
    head = ds.head()
    value = json.loads(store.backend.get_bytes(f"datasets/{name}/versions/{head}.json"))
    value["files"] = {}
    for path, content in files.items():
        sha = hashlib.sha256(content).hexdigest()
        store.backend.put_bytes(f"datasets/{name}/objects/{sha[:2]}/{sha[2:]}", content)
        value["files"][path] = {"sha256": sha, "size": len(content)}
    value["parent"] = head
    raw = canonical_json(value)
    version_id = hashlib.sha256(raw).hexdigest()
    store.backend.put_bytes(f"datasets/{name}/versions/{version_id}.json", raw)
    store.backend.put_bytes(f"datasets/{name}/HEAD", version_id.encode())
    return version_id


# -- commits refuse what no filesystem can hold ---------------------------------------------


@pytest.mark.parametrize(
    ("files", "named"),
    [
        ({f"data/{LONG}.parquet": b"1"}, "264 bytes in UTF-8"),
        ({"data/" + "é" * 128: b"1"}, "256 bytes in UTF-8"),  # 128 characters
        ({"x": b"1", "x/y": b"2"}, "'x' and 'x/y'"),
        ({"a/b": b"1", "a/b/c/d": b"2"}, "'a/b' and 'a/b/c/d'"),
        ({"bad\udcff.txt": b"1"}, "not valid Unicode"),
    ],
)
def test_commit_refuses_paths_no_filesystem_can_create(
    store: DatasetStore, files: dict[str, bytes], named: str
) -> None:
    ds = store.create_dataset("refuse")
    ds.commit({"ok": b"ok"}, "v1")
    with pytest.raises(UnsafePathError, match=named):
        ds.commit(files, "v2")
    assert list(ds.files()) == ["ok"]
    assert len(ds.list_versions()) == 1


def test_commit_refuses_a_clash_with_the_base_version_but_allows_replacing_it(store: DatasetStore) -> None:
    ds = store.create_dataset("clash")
    ds.commit({"x": b"file"}, "v1")
    with pytest.raises(UnsafePathError, match="'x' and 'x/y'"):
        ds.commit({"x/y": b"nested"}, "v2")
    with pytest.raises(UnsafePathError, match="'x' and 'x/y'"):
        ds.push_file(_tmp_file(store, b"nested"), filename="x/y")
    ds.commit({"x/y": b"nested"}, "v2", delete=["x"])  # a file becoming a folder in one commit is fine
    assert dict(ds.files()).keys() == {"x/y"}


def _tmp_file(store: DatasetStore, content: bytes) -> Path:
    import tempfile

    handle, name = tempfile.mkstemp()
    os.write(handle, content)
    os.close(handle)
    return Path(name)


def test_a_stored_unpullable_version_stays_readable_and_can_be_repaired(store: DatasetStore) -> None:
    ds = store.create_dataset("repair")
    ds.commit({"ok": b"ok"}, "v1")
    _plant_version(store, "repair", {"ok": b"ok", LONG: b"long"})
    assert ds.read_file(LONG) == b"long"  # listed and read, not refused on read
    with pytest.raises(UnsafePathError):
        ds.commit({"more": b"1"}, "v3")  # rolling a bad name into a new version is refused ...
    fixed = ds.commit({}, "drop it", delete=[LONG])  # ... deleting it is not
    assert set(ds.files(fixed.version_id)) == {"ok"}


# -- pulls check the whole version first ---------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [{LONG: b"long"}, {"x": b"1", "x/y": b"2"}, {"q/" + "é" * 200: b"1"}],
    ids=["long-segment", "file-and-folder", "long-utf8"],
)
def test_pull_checks_every_path_before_touching_the_folder(
    store: DatasetStore, tmp_path: Path, bad: dict[str, bytes]
) -> None:
    ds = store.create_dataset("pullcheck")
    v1 = ds.commit(V1, "v1")
    folder = tmp_path / "wc"
    ds.pull(to=folder)
    # The bad paths sort after and before good ones, so a file-by-file pull would have started.
    planted = _plant_version(store, "pullcheck", {**V2, "a.txt": b"changed", "zzz": b"z", **bad})
    with pytest.raises(UnsafePathError, match=f"version {planted} cannot be pulled"):
        ds.pull(to=folder)
    assert _snapshot(folder) == V1
    assert ds.working_copy(folder).version_id == v1.version_id
    assert ds.get_diff(to=folder).is_empty
    assert not (folder / ".curation/staging").exists()


# -- crash injection -----------------------------------------------------------------------

#: The calls through which a pull changes a folder; a crash is injected at each in turn.
MUTATIONS = ("replace", "rename", "unlink", "rmdir", "mkdir", "fsync")


class _Crash(Exception):
    """Injected in place of a filesystem call."""


@contextmanager
def _fail_at(step: int, action: Callable[[], Any]) -> Iterator[list[int]]:
    """Make the ``step``-th mutating ``os`` call (1-based) run ``action`` instead; yield the call count."""
    calls = [0]
    originals = {name: getattr(os, name) for name in MUTATIONS}
    lock = threading.Lock()

    def wrap(name: str) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            with lock:
                calls[0] += 1
                hit = calls[0] == step
            if hit:
                action()
            return originals[name](*args, **kwargs)

        return call

    for name in MUTATIONS:
        setattr(os, name, wrap(name))
    try:
        yield calls
    finally:
        for name, original in originals.items():
            setattr(os, name, original)


def _raise() -> None:
    raise _Crash("injected")


def _check_old_or_new(ds: Dataset, folder: Path, v1: str, v2: str) -> str:
    """After a crash: the working copy is exactly v1 or v2 (state and files agree); returns which."""
    version = ds.working_copy(folder).version_id  # any use first finishes an interrupted pull
    files = _snapshot(folder)
    assert (version, files) in ((v1, V1), (v2, V2)), (version, sorted(files))
    assert ds.get_diff(to=folder).is_empty
    return "old" if version == v1 else "new"


def _repulled(ds: Dataset, folder: Path, v2: str) -> None:
    result = ds.pull(v2, to=folder)  # never forced: the crash must leave no "local change"
    assert result.version_id == v2
    assert _snapshot(folder) == V2
    assert ds.get_diff(to=folder).is_empty
    assert sorted(p.name for p in (folder / ".curation").iterdir()) == ["state.json"]


def _pulled(ds: Dataset, version: str, folder: Path) -> Path:
    """A working copy of ``version``, to copy (mtimes kept, so its state still trusts them) for each step."""
    ds.pull(version, to=folder)
    return folder


def test_a_pull_interrupted_at_any_step_leaves_the_old_or_new_version(store: DatasetStore, tmp_path: Path) -> None:
    ds = store.create_dataset("crash")
    v1 = ds.commit(V1, "v1").version_id
    v2 = ds.commit(V2, "v2", delete=[p for p in V1 if p not in V2]).version_id
    template = _pulled(ds, v1, tmp_path / "template")
    outcomes: list[str] = []
    for step in range(1, 200):
        folder = shutil.copytree(template, tmp_path / f"wc{step}", symlinks=True)
        with _fail_at(step, _raise):
            try:
                ds.pull(v2, to=folder)
            except _Crash:
                pass
            else:
                break  # the pull made fewer calls than ``step``: every step has been tried
        outcomes.append(_check_old_or_new(ds, folder, v1, v2))
        _repulled(ds, folder, v2)
    assert len(outcomes) >= 10, outcomes  # every delete, move, state write and cleanup step was hit
    assert "old" in outcomes and "new" in outcomes
    print(f"pull crash points survived ({store.backend.__class__.__name__}): {len(outcomes)} {outcomes}")


def _killed_pull(ds: Dataset, folder: Path, version: str, step: int) -> int:
    """Pull in a forked child that SIGKILLs itself at mutating call ``step``; its exit code."""

    def child() -> None:
        with _fail_at(step, lambda: os.kill(os.getpid(), signal.SIGKILL)):
            ds.pull(version, to=folder)
        os._exit(0)

    process = multiprocessing.get_context("fork").Process(target=child)
    process.start()
    process.join(60)
    assert process.exitcode is not None, "the pull hung"
    return process.exitcode


def test_a_pull_killed_at_any_step_leaves_the_old_or_new_version(store: DatasetStore, tmp_path: Path) -> None:
    ds = store.create_dataset("kill")
    v1 = ds.commit(V1, "v1").version_id
    v2 = ds.commit(V2, "v2", delete=[p for p in V1 if p not in V2]).version_id
    template = _pulled(ds, v1, tmp_path / "template")
    outcomes: list[str] = []
    for step in range(1, 200):
        folder = shutil.copytree(template, tmp_path / f"wc{step}", symlinks=True)
        code = _killed_pull(ds, folder, v2, step)
        if code == 0:
            break
        assert code == -signal.SIGKILL
        outcomes.append(_check_old_or_new(ds, folder, v1, v2))
        _repulled(ds, folder, v2)
    assert len(outcomes) >= 10 and "old" in outcomes and "new" in outcomes, outcomes
    print(f"pull kill points survived ({store.backend.__class__.__name__}): {len(outcomes)} {outcomes}")


def test_a_failed_download_leaves_the_old_version(store: DatasetStore, tmp_path: Path) -> None:
    ds = store.create_dataset("faildl")
    v1 = ds.commit(V1, "v1").version_id
    v2 = ds.commit(V2, "v2", delete=[p for p in V1 if p not in V2]).version_id
    folder = tmp_path / "wc"
    ds.pull(v1, to=folder)
    sha = ds.files(v2)["new/b.txt"].sha256
    store.backend.delete(f"datasets/faildl/objects/{sha[:2]}/{sha[2:]}")
    with pytest.raises(LookupError):
        ds.pull(v2, to=folder)
    assert _check_old_or_new(ds, folder, v1, v2) == "old"


# -- hostile destinations ------------------------------------------------------------------


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder beside the destination with a file in a ``staging/`` folder and a ``state.json``."""
    place = tmp_path / "outside"
    (place / "staging").mkdir(parents=True)
    (place / "staging/precious").write_bytes(b"precious")
    (place / "state.json").write_bytes(b"not yours")
    (place / "data").mkdir()
    (place / "data/a").write_bytes(b"outside a")
    return place


def _untouched(outside: Path) -> None:
    assert _snapshot(outside) == {
        "staging/precious": b"precious",
        "state.json": b"not yours",
        "data/a": b"outside a",
    }


def test_a_state_folder_link_is_refused(store: DatasetStore, tmp_path: Path, outside: Path) -> None:
    ds = store.create_dataset("linkstate")
    ds.commit({"data/a": b"1"}, "v1")
    folder = tmp_path / "wc"
    folder.mkdir()
    (folder / ".curation").symlink_to(outside)
    with pytest.raises(UnsafePathError, match=r"\.curation is a symbolic link"):
        ds.pull(to=folder, forced=True)
    with pytest.raises(UnsafePathError, match=r"\.curation is a symbolic link"):
        ds.get_diff(to=folder)
    _untouched(outside)
    assert _snapshot(folder) == {}


def test_a_state_folder_link_in_a_working_copy_is_refused(store: DatasetStore, tmp_path: Path, outside: Path) -> None:
    ds = store.create_dataset("linkstate2")
    ds.commit({"data/a": b"1"}, "v1")
    folder = tmp_path / "wc"
    ds.pull(to=folder)
    (folder / ".curation/state.json").replace(outside / "state.json")
    (folder / ".curation").rmdir()
    (folder / ".curation").symlink_to(outside)
    (outside / "state.json").write_bytes(b"not yours")
    ds.commit({"data/b": b"2"}, "v2")
    with pytest.raises(UnsafePathError):
        ds.pull(to=folder, forced=True)
    _untouched(outside)


def test_a_staging_link_is_replaced_not_followed(store: DatasetStore, tmp_path: Path, outside: Path) -> None:
    ds = store.create_dataset("linkstaging")
    ds.commit({"data/a": b"1"}, "v1")
    folder = tmp_path / "wc"
    ds.pull(to=folder)
    (folder / ".curation/staging").symlink_to(outside / "staging")
    v2 = ds.commit({"data/a": b"2", "data/b": b"3"}, "v2")
    assert ds.pull(to=folder).version_id == v2.version_id
    assert _snapshot(folder) == {"data/a": b"2", "data/b": b"3"}
    _untouched(outside)


@pytest.mark.parametrize("forced", [False, True])
def test_a_data_folder_link_is_refused(store: DatasetStore, tmp_path: Path, outside: Path, forced: bool) -> None:
    ds = store.create_dataset("linkdata")
    ds.commit({"data/a": b"1"}, "v1")
    folder = tmp_path / "wc"
    ds.pull(to=folder)
    (folder / "data/a").unlink()
    (folder / "data").rmdir()
    (folder / "data").symlink_to(outside / "data")
    ds.commit({"data/a": b"2"}, "v2")
    with pytest.raises(UnsafePathError, match="data is a symbolic link"):
        ds.pull(to=folder, forced=forced)
    with pytest.raises(UnsafePathError, match="data is a symbolic link"):
        ds.get_diff(to=folder)
    _untouched(outside)


def test_a_file_link_is_refused(store: DatasetStore, tmp_path: Path, outside: Path) -> None:
    ds = store.create_dataset("linkfile")
    ds.commit({"a": b"1"}, "v1")
    folder = tmp_path / "wc"
    ds.pull(to=folder)
    (folder / "a").unlink()
    (folder / "a").symlink_to(outside / "state.json")
    ds.commit({"a": b"2"}, "v2")
    with pytest.raises(UnsafePathError, match="a is a symbolic link"):
        ds.pull(to=folder, forced=True)
    _untouched(outside)


def test_a_file_where_a_folder_should_be(store: DatasetStore, tmp_path: Path) -> None:
    ds = store.create_dataset("fileforfolder")
    ds.commit({"data/a": b"1"}, "v1")
    folder = tmp_path / "wc"
    folder.mkdir()
    (folder / "data").write_bytes(b"mine")
    with pytest.raises(LocalChangesError, match="data"):
        ds.pull(to=folder)
    assert _snapshot(folder) == {"data": b"mine"}
    ds.pull(to=folder, forced=True)
    assert _snapshot(folder) == {"data/a": b"1"}


def test_a_folder_where_a_file_should_be(store: DatasetStore, tmp_path: Path) -> None:
    ds = store.create_dataset("folderforfile")
    ds.commit({"x/y": b"1"}, "v1")
    folder = tmp_path / "wc"
    ds.pull(to=folder)
    (folder / "x/empty/deeper").mkdir(parents=True)  # empty folders are not files: they go quietly
    ds.commit({"x": b"a file now"}, "v2", delete=["x/y"])
    ds.pull(to=folder)
    assert _snapshot(folder) == {"x": b"a file now"}


def test_a_state_folder_that_is_a_file_is_refused(store: DatasetStore, tmp_path: Path) -> None:
    ds = store.create_dataset("statefile")
    ds.commit({"a": b"1"}, "v1")
    folder = tmp_path / "wc"
    folder.mkdir()
    (folder / ".curation").write_bytes(b"mine")
    with pytest.raises((UnsafePathError, WorkingCopyError), match=r"\.curation"):
        ds.pull(to=folder, forced=True)
    assert (folder / ".curation").read_bytes() == b"mine"


def test_a_fifo_in_the_destination_is_refused_without_hanging(store: DatasetStore, tmp_path: Path) -> None:
    ds = store.create_dataset("fifo")
    ds.commit({"a": b"1"}, "v1")
    folder = tmp_path / "wc"
    ds.pull(to=folder)
    os.mkfifo(folder / "pipe")
    errors: list[BaseException] = []

    def pull() -> None:
        try:
            ds.pull(to=folder, forced=True)
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            errors.append(exc)

    worker = threading.Thread(target=pull, daemon=True)
    worker.start()
    worker.join(20)
    if worker.is_alive():
        with open(folder / "pipe", "wb"):  # release the reader so the thread can end
            pass
        worker.join(20)
        pytest.fail("pull hung reading a FIFO in the destination")
    assert len(errors) == 1 and isinstance(errors[0], UnsafePathError), errors
    assert "pipe is a FIFO" in str(errors[0])


def test_an_interrupted_pull_whose_staging_was_lost_says_so_and_a_forced_pull_repairs(
    store: DatasetStore, tmp_path: Path
) -> None:
    ds = store.create_dataset("lost")
    v1 = ds.commit(V1, "v1").version_id
    v2 = ds.commit(V2, "v2", delete=[p for p in V1 if p not in V2]).version_id
    folder = tmp_path / "wc"
    ds.pull(v1, to=folder)
    journal = folder / ".curation/pull.json"
    steps = 0
    while not journal.exists():  # the first step after the journal is written
        steps += 1
        assert steps < 100
        _killed_pull(ds, folder, v2, steps)
    for staged in (folder / ".curation/staging").iterdir():
        staged.unlink()  # someone cleaned up .curation/ by hand
    with pytest.raises(WorkingCopyError, match="cannot be finished.*forced=True"):
        ds.get_diff(to=folder)
    ds.pull(v2, to=folder, forced=True)
    assert _snapshot(folder) == V2 and ds.get_diff(to=folder).is_empty


@pytest.mark.parametrize("kind", ["fifo", "zero"])
def test_a_commit_from_python_refuses_a_fifo_or_device_without_hanging(
    store: DatasetStore, tmp_path: Path, kind: str
) -> None:
    source = tmp_path / "special"
    if kind == "fifo":
        os.mkfifo(source)
    else:
        source.symlink_to("/dev/zero")
    ds = store.create_dataset("special")
    errors: list[BaseException] = []

    def commit() -> None:
        try:
            ds.commit({"data/x": source}, "v1")
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            errors.append(exc)

    worker = threading.Thread(target=commit, daemon=True)
    worker.start()
    worker.join(20)
    if worker.is_alive() and kind == "fifo":
        with open(source, "wb"):  # release the reader so the thread can end
            pass
    assert not worker.is_alive() or pytest.fail(f"commit hung reading {kind}")
    assert len(errors) == 1 and isinstance(errors[0], UnsafePathError), errors
    assert f"{source} is a" in str(errors[0])
    assert ds.head() is None
