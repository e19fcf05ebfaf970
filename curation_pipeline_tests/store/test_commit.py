"""The CAS loop's bounds and its parent pinning, with a backend that always loses."""

from __future__ import annotations

from pathlib import Path

import pytest

from curation_pipeline.store import (
    CommitConflictError,
    DatasetHeadOutOfDateError,
    DatasetStore,
    LocalBackend,
    RetryPolicy,
    WriteConflictError,
)
from curation_pipeline.store.backends.base import RefToken


class LosingBackend(LocalBackend):
    """Every compare-and-swap of HEAD loses, as if another writer always got there first."""

    swaps = 0

    def swap_ref(self, key: str, data: bytes, expected: RefToken | None) -> RefToken:
        self.swaps += 1
        raise WriteConflictError(f"ref {key} changed")


def test_gives_up_after_the_retry_bound(tmp_path: Path) -> None:
    backend = LosingBackend(tmp_path)
    store = DatasetStore(backend, retry=RetryPolicy(max_attempts=3, base_delay=0))
    ds = store.create_dataset("race")
    with pytest.raises(CommitConflictError, match="3 times") as info:
        ds.commit({"a": b"1"}, "never lands")
    assert not isinstance(info.value, DatasetHeadOutOfDateError)
    assert backend.swaps == 3 and ds.head() is None


class OvertakenBackend(LocalBackend):
    """Another writer moves HEAD to a new version just before this one's swap, which then loses."""

    swaps = 0

    def swap_ref(self, key: str, data: bytes, expected: RefToken | None) -> RefToken:
        self.swaps += 1
        DatasetStore(LocalBackend(self.root)).get_dataset("pin").commit({"other": b"x"}, "the other writer")
        raise WriteConflictError(f"ref {key} changed")


class RewrittenBackend(LocalBackend):
    """HEAD is rewritten with the same version just before the first swap (as gc's lock does), which loses."""

    swaps = 0

    def swap_ref(self, key: str, data: bytes, expected: RefToken | None) -> RefToken:
        self.swaps += 1
        if self.swaps == 1:
            current = self.read_ref(key)
            assert current is not None
            LocalBackend.swap_ref(self, key, current.data, current.token)  # same content, new token
            raise WriteConflictError(f"ref {key} changed")
        return super().swap_ref(key, data, expected)


def test_pinned_parent_fails_on_the_first_lost_swap(tmp_path: Path) -> None:
    store = DatasetStore(LocalBackend(tmp_path))
    base = store.create_dataset("pin").commit({"a": b"1"}, "base")
    backend = OvertakenBackend(tmp_path)
    ds = DatasetStore(backend, retry=RetryPolicy(max_attempts=5, base_delay=0)).get_dataset("pin")
    with pytest.raises(DatasetHeadOutOfDateError, match="pin"):
        ds.commit({"b": b"2"}, "lost", parent_version_id=base.version_id)
    assert backend.swaps == 1  # the CAS decided; no re-apply


def test_a_pinned_commit_rides_out_a_head_rewritten_without_moving(tmp_path: Path) -> None:
    store = DatasetStore(LocalBackend(tmp_path))
    base = store.create_dataset("pin").commit({"a": b"1"}, "base")
    backend = RewrittenBackend(tmp_path)
    ds = DatasetStore(backend, retry=RetryPolicy(max_attempts=5, base_delay=0)).get_dataset("pin")
    result = ds.commit({"b": b"2"}, "kept", parent_version_id=base.version_id)
    assert result.created and result.parent == base.version_id
    assert backend.swaps == 2


def test_retry_policy_delays_are_bounded() -> None:
    policy = RetryPolicy(max_attempts=20, base_delay=0.01, max_delay=0.5)
    assert all(0 <= policy.delay(n) <= 0.5 for n in range(1, 40))
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)


def test_commit_result_round_trip(tmp_path: Path) -> None:
    from curation_pipeline.store import CommitResult

    result = DatasetStore(LocalBackend(tmp_path)).create_dataset("r").commit({"a": b"1"}, "one")
    assert CommitResult.from_dict(result.to_dict()) == result
    assert result.to_dict()["objects_uploaded"] == 1


class LateLandingBackend(LocalBackend):
    """The first HEAD swap is refused as "another write in flight" (S3's 409) -- and that write was
    this very swap, which lands right after the committer has checked HEAD once."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.pending: tuple[str, bytes, RefToken | None] | None = None
        self.armed = False
        self.reads_since_refusal = 0

    def swap_ref(self, key: str, data: bytes, expected: RefToken | None) -> RefToken:
        if self.armed:
            self.armed = False
            self.pending = (key, data, expected)
            raise WriteConflictError(f"ref {key}: another conditional write in flight", in_flight=True)
        return super().swap_ref(key, data, expected)

    def read_ref(self, key: str):  # type: ignore[no-untyped-def]
        if self.pending is not None and key.endswith("/HEAD"):
            self.reads_since_refusal += 1
            if self.reads_since_refusal == 2:  # after the check that follows the refusal
                pending, self.pending = self.pending, None
                super().swap_ref(*pending)
        return super().read_ref(key)


@pytest.mark.parametrize("pinned", [False, True])
def test_a_swap_refused_in_flight_that_lands_later_is_reported_created(tmp_path: Path, pinned: bool) -> None:
    backend = LateLandingBackend(tmp_path / "store")
    ds = DatasetStore(backend, retry=RetryPolicy(max_attempts=5, base_delay=0)).create_dataset("late")
    base = ds.commit({"base.txt": b"base"}, "base")
    backend.armed = True
    result = ds.commit({"x.txt": b"x"}, "lands late", parent_version_id=base.version_id if pinned else None)
    assert backend.reads_since_refusal >= 2  # it did land late
    assert result.created and result.version_id == ds.head() and result.parent == base.version_id
    assert [v.version_id for v in ds.list_versions()] == [result.version_id, base.version_id]
