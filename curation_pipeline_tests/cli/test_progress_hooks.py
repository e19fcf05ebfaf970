"""The ``progress`` hooks of ``Dataset.commit`` and ``Dataset.pull`` that drive the CLI's bars."""

from __future__ import annotations

from pathlib import Path

from curation_pipeline.store import DatasetStore


def _record() -> tuple[list[tuple[int, int]], object]:
    calls: list[tuple[int, int]] = []
    return calls, lambda done, total: calls.append((done, total))


def test_commit_reports_every_distinct_object(store: DatasetStore, tmp_path: Path) -> None:
    dataset = store.create_dataset("progress")
    (tmp_path / "a.bin").write_bytes(b"a" * 1000)
    calls, progress = _record()
    files = {"a.bin": tmp_path / "a.bin", "b.bin": b"b" * 24, "same-as-b.bin": b"b" * 24}
    dataset.commit(files, "m", progress=progress)
    assert calls == [(0, 1024), (1000, 1024), (1024, 1024)]

    calls, progress = _record()
    result = dataset.commit({"a.bin": tmp_path / "a.bin", "c.bin": b"c"}, "again", progress=progress)
    assert result.objects_uploaded == 1 and result.objects_skipped == 1
    assert calls[0] == (0, 1001) and calls[-1] == (1001, 1001)


def test_pull_reports_only_the_files_it_downloads(store: DatasetStore, tmp_path: Path) -> None:
    dataset = store.create_dataset("progress")
    dataset.commit({"a.bin": b"a" * 100, "b.bin": b"b" * 50}, "first")
    calls, progress = _record()
    dataset.pull(to=tmp_path / "copy", progress=progress)
    assert calls == [(0, 150), (100, 150), (150, 150)]

    dataset.commit({"b.bin": b"B" * 70}, "second")
    calls, progress = _record()
    dataset.pull(to=tmp_path / "copy", progress=progress)
    assert calls == [(0, 70), (70, 70)]


def test_progress_is_optional(store: DatasetStore, tmp_path: Path) -> None:
    dataset = store.create_dataset("progress")
    assert dataset.commit({"a.bin": b"a"}, "m").created
    assert dataset.pull(to=tmp_path / "copy").downloaded == ("a.bin",)
