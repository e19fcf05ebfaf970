"""Property: a pull between any two versions, interrupted at any step, leaves one of them.

Hypothesis draws two file trees over a small alphabet (so files become
folders and folders files between them, and names are shared), the working
copy's local edits, and the filesystem step at which the pull is stopped by
an exception; the working copy must then be exactly the old or the new
version, and a re-pull must reach the new one. Local backend only (the
download side is the same code on S3, covered by test_pull_safety.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from curation_pipeline.store import DatasetStore
from curation_pipeline.store.localfiles import walk_files
from curation_pipeline_tests.store.test_pull_safety import _Crash, _fail_at, _raise

_PATHS = st.lists(st.sampled_from("ab").map(str), min_size=1, max_size=3).map("/".join)
_TREES = st.dictionaries(_PATHS, st.sampled_from([b"", b"1", b"22"]), min_size=0, max_size=6)


def _without_clashes(files: dict[str, bytes]) -> dict[str, bytes]:
    """Drop every path below another path of the tree (keep ``a``, drop ``a/b``)."""
    return {p: c for p, c in files.items() if not any(p.startswith(q + "/") for q in files)}


def _tree(folder: Path) -> dict[str, bytes]:
    return {path: full.read_bytes() for path, full in walk_files(folder)}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(old=_TREES.map(_without_clashes), new=_TREES.map(_without_clashes), step=st.integers(1, 40))
@example(old={}, new={"a": b""}, step=5)  # found before the journal: the new file moved in, the state still old
@example(old={"a/a": b""}, new={"a": b""}, step=10)  # found after it: finishing the pull met its own file "a"
def test_an_interrupted_pull_between_any_two_trees_leaves_one_of_them(
    tmp_path_factory: pytest.TempPathFactory, old: dict[str, bytes], new: dict[str, bytes], step: int
) -> None:
    root = tmp_path_factory.mktemp("prop")
    store = DatasetStore.open(str(root / "store"))
    ds = store.create_dataset("prop")
    v1 = ds.commit(old, "old").version_id
    v2 = ds.commit(new, "new", delete=[p for p in old if p not in new]).version_id
    folder = root / "wc"
    ds.pull(v1, to=folder)
    with _fail_at(step, _raise):
        try:
            ds.pull(v2, to=folder)
        except _Crash:
            pass
    version = ds.working_copy(folder).version_id
    assert (version, _tree(folder)) in ((v1, old), (v2, new))
    assert ds.get_diff(to=folder).is_empty
    ds.pull(v2, to=folder)
    assert _tree(folder) == new and ds.get_diff(to=folder).is_empty
