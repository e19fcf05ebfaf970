"""Gantry's datasets examples, written as Gantry's docs and docstrings write them; only the import differs.

Each runs against a local store and an S3 store (moto); each documented
return key is checked, and each result is also our typed value.
"""

from __future__ import annotations

import hashlib
import re
import warnings
from pathlib import Path

import pandas as pd
import pytest

import curation_pipeline.gantry.dataset as gdataset
from curation_pipeline.errors import CurationError
from curation_pipeline.gantry.exceptions import (
    DatasetCommitNotFoundError,
    DatasetDeletedException,
    DatasetHeadOutOfDateException,
    DatasetNotFoundError,
    GantryCompatWarning,
    GantryException,
)
from curation_pipeline.store import (
    CommitResult,
    DatasetDeletedError,
    DatasetHeadOutOfDateError,
    DatasetStore,
    PullResult,
    TabularFormatError,
    Version,
    VersionNotFoundError,
    WorkingCopyDiff,
)

VERSION_KEYS = {"version_id", "dataset", "message", "created_at", "created_by", "is_latest_version"}
GANTRY_TIME = re.compile(r"^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$")


def _check_version_record(record, dataset_name: str, latest: bool) -> None:
    assert set(record.keys()) == VERSION_KEYS
    assert record["dataset"] == dataset_name
    assert record["is_latest_version"] is latest
    assert GANTRY_TIME.match(record["created_at"]), record["created_at"]
    assert isinstance(record["created_by"], str) and record["created_by"]
    assert len(record["version_id"]) == 64


def test_create_push_dataframe_list_and_pull(gantry_store: DatasetStore, tmp_path: Path) -> None:
    dataset = gdataset.create_dataset("dataset_name")
    df = pd.DataFrame({"col1": [1, 2], "col2": [3, 4]})
    pushed = dataset.push_dataframe(df, "dataframe.csv", "version info")
    assert isinstance(pushed, CommitResult) and pushed.created
    _check_version_record(pushed, "dataset_name", latest=True)
    assert pushed["message"] == "version info"
    # Stored as CSV under Gantry's tabular folder, and read back by read().
    stored = gantry_store.get_dataset("dataset_name")
    assert stored.read_file("tabular_manifests/dataframe.csv").decode().splitlines() == ['"col1","col2"', "1,3", "2,4"]
    assert stored.read().to_pydict() == {"col1": [1, 2], "col2": [3, 4]}

    [listed] = gdataset.list_datasets()
    assert set(listed.keys()) == {"name", "dataset_id", "created_at"}
    assert (listed["name"], listed["dataset_id"]) == ("dataset_name", "dataset_name")
    assert GANTRY_TIME.match(listed["created_at"])

    versions = dataset.list_versions()
    assert [v["message"] for v in versions] == ["version info"]
    _check_version_record(versions[0], "dataset_name", latest=True)
    assert isinstance(versions[0], Version)
    assert gdataset.list_dataset_versions("dataset_name") == versions

    pulled = dataset.pull()
    assert isinstance(pulled, PullResult) and pulled.downloaded == ("tabular_manifests/dataframe.csv",)
    _check_version_record(pulled, "dataset_name", latest=True)
    assert (Path(dataset.dataset_folder) / "tabular_manifests" / "dataframe.csv").exists()
    assert Path(dataset.dataset_folder) == tmp_path / "work" / "dataset_name"
    # Gantry's workspace is the working directory; its docstrings list workspace + dataset_name.
    assert Path(dataset.workspace) / dataset.dataset_name == Path(dataset.dataset_folder)


def test_pull_get_diff_push_version_and_rollback(gantry_store: DatasetStore) -> None:
    dataset = gdataset.create_dataset("My Dataset")
    first = dataset.push_dataframe(pd.DataFrame({"a": [1]}), "first.csv", "initial dataset commit")
    dataset.pull()
    workspace = Path(dataset.dataset_folder)
    assert workspace.name == "my-dataset"

    (workspace / "tabular_manifests" / "new_file.csv").write_text("a\n2\n")
    (workspace / "tabular_manifests" / "first.csv").write_text("a\n9\n")
    diff = dataset.get_diff()
    assert isinstance(diff, WorkingCopyDiff)
    assert dict(diff) == {
        "new_files": ["tabular_manifests/new_file.csv"],
        "modified_files": ["tabular_manifests/first.csv"],
        "deleted_files": [],
    }
    assert diff["new_files"] == list(diff.new)

    second = dataset.push_version("new version notes")
    _check_version_record(second, "My Dataset", latest=True)
    assert second["message"] == "new version notes"

    # Gantry's positional order: pull(version_id, forced).
    pulled = dataset.pull(first["version_id"], True)
    assert pulled["version_id"] == first["version_id"] and pulled["is_latest_version"] is False

    rolled = dataset.rollback(first["version_id"], forced=True)
    _check_version_record(rolled, "My Dataset", latest=True)
    assert rolled["message"] == f"Rollback dataset to version: {first['version_id']}"  # Gantry's message
    assert rolled.version_id != first["version_id"]
    assert gantry_store.get_dataset("My Dataset").files(rolled.version_id) == gantry_store.get_dataset("My Dataset").files(first.version_id)
    # The rollback pulled the new version, so the next push builds on it.
    (workspace / "tabular_manifests" / "after.csv").write_text("a\n3\n")
    after = dataset.push_version("after the rollback")
    assert after["is_latest_version"] and after.parent == rolled.version_id
    assert [v["is_latest_version"] for v in dataset.list_versions()] == [True, False, False, False]


def test_push_file_and_push_tabular_file_take_text_mode_files(gantry_store: DatasetStore, tmp_path: Path) -> None:
    source = tmp_path / "file_to_be_added.csv"
    source.write_text("name,score\nx,1\n", encoding="utf-8")
    dataset = gdataset.create_dataset("files")
    first = dataset.push_file(open(source), "dataset_file_name.csv", "version info")
    _check_version_record(first, "files", latest=True)
    second = dataset.push_tabular_file(open(source), "table.csv", "version info", first["version_id"])
    assert second.parent == first.version_id
    stored = gantry_store.get_dataset("files")
    assert stored.read_file("dataset_file_name.csv") == source.read_bytes()
    assert stored.read_file("tabular_manifests/table.csv") == source.read_bytes()
    # Pushing on a parent that is no longer the latest fails as in Gantry.
    with pytest.raises(DatasetHeadOutOfDateException):
        dataset.push_file(open(source), "again.csv", "stale", first["version_id"])
    with pytest.raises(TabularFormatError, match="'notes.txt' is not a tabular file name"):
        dataset.push_tabular_file(open(source), "notes.txt", "not a table")
    # Gantry's push_dataframe appends ".csv" to a name that is not a table's (gantry_dataset.py).
    dataset.push_dataframe(pd.DataFrame({"a": [1]}), "frame.json")
    assert stored.read_file("tabular_manifests/frame.json.csv").decode().splitlines() == ['"a"', "1"]


def test_push_dataframe_to_parquet_and_read_both(gantry_store: DatasetStore) -> None:
    dataset = gdataset.create_dataset("mixed")
    dataset.push_dataframe(pd.DataFrame({"a": [1, 2]}), "one.parquet", "parquet")
    dataset.push_dataframe(pd.DataFrame({"a": [3], "b": ["x"]}), "two.csv", "csv")
    stored = gantry_store.get_dataset("mixed")
    assert stored.read_file("tabular_manifests/one.parquet")[:4] == b"PAR1"
    assert stored.read().to_pydict() == {"a": [1, 2, 3], "b": [None, None, "x"]}


def test_gantry_warns_where_ours_raises(gantry_store: DatasetStore) -> None:
    dataset = gdataset.create_dataset("careful")
    first = dataset.push_dataframe(pd.DataFrame({"a": [1]}), "a.csv", "one")
    dataset.push_dataframe(pd.DataFrame({"a": [2]}), "b.csv", "two")
    dataset.pull()
    changed = Path(dataset.dataset_folder) / "tabular_manifests" / "a.csv"
    changed.write_text("a\n5\n")
    with pytest.warns(GantryCompatWarning, match="local changes"):
        assert dataset.pull(first["version_id"]) is None
    with pytest.warns(GantryCompatWarning, match="local changes"):
        assert dataset.rollback(first["version_id"]) is None
    assert changed.read_text() == "a\n5\n"  # nothing was overwritten
    dataset.stash()
    with pytest.warns(GantryCompatWarning, match="no local change"):
        same = dataset.push_version("nothing")
    assert same.created is False and same["is_latest_version"]
    dataset.restore()
    assert changed.read_text() == "a\n5\n"


def test_exceptions_are_ours_under_gantry_names(gantry_store: DatasetStore) -> None:
    assert DatasetHeadOutOfDateException is DatasetHeadOutOfDateError
    assert DatasetDeletedException is DatasetDeletedError
    assert DatasetCommitNotFoundError is VersionNotFoundError
    dataset = gdataset.create_dataset("gone")
    with pytest.raises(DatasetCommitNotFoundError):
        dataset.pull("0123456789abcdef")
    gdataset.delete_dataset("gone")
    # As Gantry: get_dataset warns ("marked as deleted") and each call on the dataset raises.
    with pytest.warns(GantryCompatWarning, match="'gone' is marked as deleted"):
        deleted_dataset = gdataset.get_dataset("gone")
    with pytest.raises(DatasetDeletedException):
        deleted_dataset.pull()
    with pytest.raises(DatasetDeletedException):
        deleted_dataset.push_dataframe(pd.DataFrame({"a": [1]}), "a.csv")
    assert gdataset.list_datasets() == []
    [deleted] = gdataset.list_datasets(include_deleted=True)
    assert deleted.deleted and deleted["name"] == "gone"
    kept = gdataset.create_dataset("kept")
    kept.delete()
    assert [d["name"] for d in gdataset.list_datasets(include_deleted=True)] == ["gone", "kept"]
    assert gdataset.list_datasets() == []


def test_gantry_only_arguments_are_refused_not_ignored(gantry_store: DatasetStore) -> None:
    with pytest.raises(ValueError, match="app_name='my-app' is not supported"):
        gdataset.create_dataset("with_app", app_name="my-app")
    with pytest.raises(ValueError, match="bucket_name='b' is not supported"):
        gdataset.create_dataset("with_bucket", bucket_name="b")


def test_names_sharing_a_key_are_an_error_naming_both(gantry_store: DatasetStore) -> None:
    gdataset.create_dataset("My Data")
    with pytest.raises(Exception) as caught:
        gdataset.create_dataset("my-data")
    assert "'My Data'" in str(caught.value) and "'my-data'" in str(caught.value)
    with pytest.raises(Exception, match="'My Data' and 'my data' both map to the key 'my-data'"):
        gdataset.get_dataset("my data")
    assert [d["name"] for d in gdataset.list_datasets()] == ["My Data"]
    assert [d.key for d in gdataset.list_datasets()] == ["my-data"]


def test_no_warning_on_an_ordinary_session(gantry_store: DatasetStore) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", GantryCompatWarning)
        dataset = gdataset.create_dataset("quiet")
        dataset.push_dataframe(pd.DataFrame({"a": [1]}), "a.csv", "one")
        dataset.pull()
        (Path(dataset.dataset_folder) / "tabular_manifests" / "b.csv").write_text("a\n2\n")
        dataset.push_version("two")
        dataset.pull()


def test_push_dataframe_names_and_messages_as_gantry(gantry_store: DatasetStore) -> None:
    dataset = gdataset.create_dataset("frames")
    frame = pd.DataFrame({"col1": [1, 2, 3], "col2": [4, 5, 6]})
    # Gantry's default name: dataframe-<md5 of pandas' hash of the frame>.csv.
    digest = hashlib.md5(pd.util.hash_pandas_object(frame).values).hexdigest()
    pushed = dataset.push_dataframe(frame)
    assert pushed["message"] == f"Uploaded dataframe-{digest}.csv to dataset"
    assert list(gantry_store.get_dataset("frames").files()) == [f"tabular_manifests/dataframe-{digest}.csv"]
    named = dataset.push_dataframe(frame, "frame")  # no suffix: ".csv" is appended
    assert named["message"] == "Uploaded frame.csv to dataset"
    assert "tabular_manifests/frame.csv" in gantry_store.get_dataset("frames").files()


def test_push_file_default_message(gantry_store: DatasetStore, tmp_path: Path) -> None:
    source = tmp_path / "image.png"
    source.write_bytes(b"not really a png")
    dataset = gdataset.create_dataset("artifacts")
    assert dataset.push_file(open(source, "rb"))["message"] == "Uploaded image.png to dataset"


def test_calls_needing_a_pull_raise_gantrys_error_before_one(gantry_store: DatasetStore) -> None:
    dataset = gdataset.create_dataset("not-pulled")
    for call in (dataset.get_diff, lambda: dataset.push_version("notes"), dataset.stash):
        with pytest.raises(DatasetNotFoundError, match="locally .*please run pull"):
            call()


def test_restore_with_nothing_stashed_warns_as_gantry(gantry_store: DatasetStore) -> None:
    dataset = gdataset.create_dataset("nothing-stashed")
    dataset.push_dataframe(pd.DataFrame({"a": [1]}), "a.csv", "one")
    dataset.pull()
    with pytest.warns(GantryCompatWarning, match="no stashed files were found"):
        assert dataset.restore() is None


def test_set_working_directory_makes_a_relative_path_absolute(
    gantry_store: DatasetStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    gdataset.set_working_directory("relative-work")
    monkeypatch.chdir("/")  # a later chdir does not move it
    dataset = gdataset.create_dataset("Where It Goes")
    assert (tmp_path / "relative-work").is_dir()
    assert dataset.workspace == str(tmp_path / "relative-work")
    assert dataset.dataset_folder == str(tmp_path / "relative-work" / "where-it-goes")


def test_gantry_exception_is_the_root_and_model_node_id_is_refused(gantry_store: DatasetStore) -> None:
    assert GantryException is CurationError
    with pytest.raises(GantryException):
        gdataset.get_dataset("missing")
    with pytest.raises(ValueError, match="model_node_id='abc' is not supported"):
        gdataset.list_datasets(model_node_id="abc")


def test_gantrys_working_directory_variable(gantry_store: DatasetStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(gdataset._settings, "working_directory", None)  # as after gantry.init, no set_working_directory
    monkeypatch.setenv("GANTRY_DATASET_WORKING_DIR", str(tmp_path / "from-env"))
    dataset = gdataset.create_dataset("env-dir")
    assert dataset.workspace == str(tmp_path / "from-env")
    assert dataset.dataset_folder == str(tmp_path / "from-env" / "env-dir")
