"""Property-based: commits, rollbacks, pulls and gc interleaved at every step, against a model history.

A Hypothesis state machine drives one dataset. Each commit or rollback runs
on a :class:`HookedBackend` that runs gc (grace period 0 or 1 h) once, just
before the step Hypothesis picked (a dedup check, an upload, the manifest
write, the read or the swap of HEAD); gc also runs on its own. After every
step the store must hold exactly the model's history, every version must
read back in full, and gc must still find HEAD's history whole.

Bounded for ``make test`` (a few seconds); ``CURATION_SOAK=1`` runs many
more and longer sequences.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from datetime import timedelta
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from curation_pipeline.store import DatasetStore
from curation_pipeline.store.dataset import Dataset
from curation_pipeline_tests.conftest import MotoServer
from curation_pipeline_tests.store.hooked import HookedBackend, run_once_before

SOAK = os.environ.get("CURATION_SOAK") == "1"
PATHS = ["a", "b", "d/e"]
# Few distinct contents: the same bytes come back after gc collected them, which is where dedup meets gc.
CONTENTS = [b"", b"one", b"two", b"three"]
#: (operation, part of the key) a gc run is slotted before; None: no gc inside the commit.
GC_POINTS = [
    None,
    ("read_ref", "HEAD"),
    ("stat", "objects/"),
    ("put_bytes", "objects/"),
    ("put_if_absent", "versions/"),
    ("swap_ref", "HEAD"),
]
GRACES = [timedelta(0), timedelta(hours=1)]
STATS = {"steps": 0, "gc_inside": 0}


def _settings(examples: int, soak_examples: int) -> settings:
    return settings(
        max_examples=soak_examples if SOAK else examples,
        stateful_step_count=40 if SOAK else 10,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )


def _machine(open_store):  # type: ignore[no-untyped-def]
    class StoreHistory(RuleBasedStateMachine):
        """The model: the list of versions' files, oldest first."""

        def __init__(self) -> None:
            super().__init__()
            self.workdir = Path(tempfile.mkdtemp(prefix="curation-prop-"))
            self.store: DatasetStore = open_store(self.workdir)
            self.store.create_dataset("prop")
            self.history: list[dict[str, bytes]] = []

        def teardown(self) -> None:
            shutil.rmtree(self.workdir, ignore_errors=True)

        def _hooked(self, point: tuple[str, str] | None, grace: timedelta) -> Dataset:
            backend = HookedBackend(self.store.backend)
            if point is not None:
                gc_store = DatasetStore(self.store.backend)

                def collect() -> None:
                    STATS["gc_inside"] += 1
                    gc_store.gc("prop", grace_period=grace)

                backend.hook = run_once_before(point[0], point[1], collect)
            return Dataset(backend, "prop")

        def _expect(self, files: dict[str, bytes]) -> None:
            if not self.history or files != self.history[-1]:
                self.history.append(files)
            STATS["steps"] += 1

        @rule(
            put=st.dictionaries(st.sampled_from(PATHS), st.sampled_from(CONTENTS), max_size=3),
            delete=st.sets(st.sampled_from(PATHS), max_size=2),
            point=st.sampled_from(GC_POINTS),
            grace=st.sampled_from(GRACES),
        )
        def commit(self, put: dict[str, bytes], delete: set[str], point, grace) -> None:  # type: ignore[no-untyped-def]
            delete = delete - put.keys()
            current = dict(self.history[-1]) if self.history else {}
            expected = {p: c for p, c in current.items() if p not in delete} | put
            self._hooked(point, grace).commit(put, "commit", delete=delete)
            self._expect(expected)

        @rule(data=st.data(), point=st.sampled_from(GC_POINTS), grace=st.sampled_from(GRACES))
        def rollback(self, data, point, grace) -> None:  # type: ignore[no-untyped-def]
            if not self.history:
                return
            versions = self.store.get_dataset("prop").list_versions()  # newest first
            index = data.draw(st.integers(0, len(versions) - 1))
            self._hooked(point, grace).rollback(versions[index].version_id)
            self._expect(dict(self.history[len(versions) - 1 - index]))

        @rule(grace=st.sampled_from(GRACES))
        def gc(self, grace: timedelta) -> None:
            self.store.gc("prop", grace_period=grace)
            STATS["steps"] += 1

        @rule()
        def pull(self) -> None:
            if not self.history:
                return
            folder = self.workdir / "wc"
            self.store.get_dataset("prop").pull(to=folder, forced=True)
            on_disk = {
                p.relative_to(folder).as_posix(): p.read_bytes()
                for p in folder.rglob("*")
                if p.is_file() and ".curation" not in p.relative_to(folder).parts
            }
            assert on_disk == self.history[-1]

        @invariant()
        def history_matches_the_model(self) -> None:
            ds = self.store.get_dataset("prop")
            stored = [
                {path: ds.read_file(path, v.version_id) for path in v.files} for v in reversed(ds.list_versions())
            ]
            assert stored == self.history
            self.store.gc("prop", dry_run=True, grace_period=timedelta(0))  # HEAD's history is whole

    return StoreHistory


def test_commit_gc_interleavings_local() -> None:
    machine = _machine(lambda folder: DatasetStore.open(folder / "store"))
    run_state_machine_as_test(machine, settings=_settings(30, 1000))


def test_commit_gc_interleavings_s3(aws_env: MotoServer) -> None:
    def open_store(_folder: Path) -> DatasetStore:
        return DatasetStore.open(
            f"s3://{aws_env.make_bucket('prop')}/root", endpoint_url=aws_env.endpoint_url, region_name=aws_env.region
        )

    run_state_machine_as_test(_machine(open_store), settings=_settings(4, 200))
