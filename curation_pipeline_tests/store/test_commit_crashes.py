"""A process killed at any step of a commit, before or just after each write, never breaks a dataset.

Every store write of a commit (objects, manifest, HEAD) is a step; the
committer is killed before each step is sent and just after each lands, on
both backends. Afterwards HEAD names either the old version or the new one,
every listed version reads back whole, and committing again (as a retrying
producer would) lands the intended files exactly once in the history.
"""

from __future__ import annotations

import multiprocessing

import pytest

from curation_pipeline_tests.store.specs import StoreSpec
from curation_pipeline_tests.store.workers import CRASH_EXIT_CODE, commit_and_die_at_write

NEW_FILES = {"data/b.bin": b"b" * 3000, "data/c.txt": b"c", "a.txt": b"a, rewritten"}
#: Writes of a commit of NEW_FILES over one existing version: three objects, the manifest, HEAD.
STEPS = 5


def _run(spec: StoreSpec, dataset: str, step: int, after: bool) -> int | None:
    child = multiprocessing.get_context("spawn").Process(
        target=commit_and_die_at_write, args=(spec, dataset, NEW_FILES, step, after)
    )
    child.start()
    child.join(timeout=120)
    return child.exitcode


def test_the_commit_has_the_steps_counted(store_spec: StoreSpec) -> None:
    store = store_spec.open()
    store.create_dataset("count").commit({"a.txt": b"a"}, "v1")
    # Past the last step nothing dies: the commit completes, so STEPS is every write there is.
    assert _run(store_spec, "count", STEPS + 1, after=False) == 0
    assert store.get_dataset("count").read_file("data/c.txt") == b"c"
    store.create_dataset("count-last").commit({"a.txt": b"a"}, "v1")
    assert _run(store_spec, "count-last", STEPS, after=False) == CRASH_EXIT_CODE


@pytest.mark.parametrize("after", [False, True], ids=["before", "after"])
@pytest.mark.parametrize("step", range(1, STEPS + 1))
def test_a_commit_killed_at_any_step_leaves_old_or_new_and_a_retry_lands_once(
    store_spec: StoreSpec, step: int, after: bool
) -> None:
    store = store_spec.open()
    ds = store.create_dataset("crash")
    v1 = ds.commit({"a.txt": b"a"}, "v1")

    assert _run(store_spec, "crash", step, after) == CRASH_EXIT_CODE

    fresh = store_spec.open().get_dataset("crash")
    head = fresh.head()
    landed = head != v1.version_id
    # Only the last step (HEAD) makes the new version visible, and only once it landed.
    assert landed == (step == STEPS and after)
    for version in fresh.list_versions():  # every version in the history reads back whole
        for path in fresh.get_version(version.version_id).files:
            fresh.read_file(path, version.version_id)

    retry = fresh.commit(NEW_FILES, "the commit that may die")  # the producer retries
    assert retry.created == (not landed)
    versions = fresh.list_versions()
    assert len(versions) == 2 and versions[-1].version_id == v1.version_id
    assert {path: fresh.read_file(path) for path in NEW_FILES} == NEW_FILES
    assert fresh.read_file("a.txt") == NEW_FILES["a.txt"]
