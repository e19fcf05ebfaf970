"""Failures of ``curation datasets ...``: one line on stderr and a distinct exit code."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from curation_pipeline.cli import main
from curation_pipeline.cli.output import EXIT_CODES, exit_code
from curation_pipeline.store import (
    AmbiguousVersionError,
    CommitConflictError,
    CorruptObjectError,
    DatasetDeletedError,
    DatasetExistsError,
    DatasetHeadOutOfDateError,
    DatasetNotDeletedError,
    DatasetNotFoundError,
    DatasetStore,
    InvalidDatasetNameError,
    InvalidManifestError,
    InvalidStoreUrlError,
    LocalChangesError,
    MissingObjectError,
    PathNotFoundError,
    StoreAccessError,
    StoreError,
    UnsafePathError,
    VersionNotFoundError,
    WorkingCopyError,
    WriteConflictError,
    layout,
)
from curation_pipeline_tests.cli.helpers import fail, run, run_json, version_ids, write


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (StoreError("x"), 1),
        (StoreAccessError("x"), 1),
        (InvalidDatasetNameError("x"), 2),
        (InvalidStoreUrlError("x"), 2),
        (UnsafePathError("x"), 2),
        (AmbiguousVersionError("x"), 2),
        (DatasetNotFoundError("x"), 3),
        (VersionNotFoundError("x"), 3),
        (PathNotFoundError("x"), 3),
        (DatasetDeletedError("x"), 3),
        (DatasetExistsError("x"), 4),
        (DatasetNotDeletedError("x"), 4),
        (CommitConflictError("x"), 4),
        (DatasetHeadOutOfDateError("x"), 4),
        (WriteConflictError("x"), 4),
        (CorruptObjectError("x"), 5),
        (MissingObjectError("x"), 5),
        (InvalidManifestError("x"), 5),
        (LocalChangesError("x", ["a"]), 6),
        (WorkingCopyError("x"), 6),
    ],
)
def test_exit_code_of_each_store_error(error: StoreError, code: int) -> None:
    assert exit_code(error) == code


def test_exit_codes_are_documented_in_help() -> None:
    help_text = CliRunner().invoke(main, ["datasets", "--help"]).stdout
    codes = {code for _, code in EXIT_CODES} | {0, 1, 2}
    for code in codes:
        assert f"\n    {code}  " in help_text


@pytest.fixture
def reviews(store_url: str, tmp_path: Path) -> str:
    run(store_url, "create", "reviews")
    run(store_url, "push", "reviews", str(write(tmp_path / "src", {"a.txt": b"alpha", "b.txt": b"beta"})), "-m", "1")
    return "reviews"


@pytest.mark.parametrize(
    "args",
    [
        ("show", "nope"),
        ("versions", "nope"),
        ("pull", "nope"),
        ("diff", "nope", "HEAD"),
        ("rollback", "nope", "HEAD"),
        ("delete", "nope"),
        ("restore", "nope"),
        ("purge", "nope", "--yes"),
        ("gc", "nope"),
    ],
)
def test_unknown_dataset_exits_3_naming_it(store_url: str, args: tuple[str, ...]) -> None:
    assert fail(store_url, *args, code=3).startswith("Error: dataset 'nope' not found in ")


def test_unknown_dataset_on_push(store_url: str, tmp_path: Path) -> None:
    file = write(tmp_path, {"f.txt": b"f"}) / "f.txt"
    assert "dataset 'nope' " in fail(store_url, "push", "nope", str(file), "-m", "m", code=3)


def test_unknown_version_exits_3(store_url: str, reviews: str) -> None:
    assert "has no version deadbeef" in fail(store_url, "show", reviews, "deadbeef", code=3)
    assert "not a version id" in fail(store_url, "pull", reviews, "--version", "v1", code=3)


def test_bad_dataset_name_is_a_usage_error(store_url: str) -> None:
    error = fail(store_url, "create", "Bad/Name", code=2)
    assert error == (
        "Error: invalid dataset name 'Bad/Name': must be 1 to 255 characters of text without control characters, '/', '\\' or surrounding blanks"
    )
    fail(store_url, "show", "../etc", code=2)


def test_unsafe_destination_path_is_a_usage_error(store_url: str, reviews: str, tmp_path: Path) -> None:
    file = write(tmp_path, {"f.txt": b"f"}) / "f.txt"
    assert "unsafe path" in fail(store_url, "push", reviews, str(file), "--to-path", ".curation", "-m", "m", code=2)


def test_existing_dataset_exits_4(store_url: str, reviews: str) -> None:
    assert "already exists" in fail(store_url, "create", reviews, code=4)


def test_stale_parent_exits_4(store_url: str, reviews: str, tmp_path: Path) -> None:
    first = version_ids(store_url, reviews)[0]
    run(store_url, "push", reviews, str(write(tmp_path / "v2", {"c.txt": b"c"})), "--parent", first[:8], "-m", "2")
    error = fail(store_url, "push", reviews, str(tmp_path / "v2" / "c.txt"), "--parent", first, "-m", "3", code=4)
    assert f"parent version {first} is no longer HEAD" in error
    assert len(version_ids(store_url, reviews)) == 2


def test_corrupt_object_exits_5_naming_dataset_and_path(
    store_url: str, store: DatasetStore, reviews: str, tmp_path: Path
) -> None:
    entry = store.get_dataset(reviews).files()["b.txt"]
    store.backend.put_bytes(layout.object_key(reviews, entry.sha256), b"BETA")
    error = fail(store_url, "pull", reviews, "--to", str(tmp_path / "copy"), code=5)
    assert error.startswith("Error: corrupt object for dataset 'reviews' version ")
    assert "file 'b.txt'" in error
    assert not (tmp_path / "copy" / "a.txt").exists()  # all or nothing


def test_missing_object_exits_5(store_url: str, store: DatasetStore, reviews: str, tmp_path: Path) -> None:
    entry = store.get_dataset(reviews).files()["a.txt"]
    store.backend.delete(layout.object_key(reviews, entry.sha256))
    assert "file 'a.txt'" in fail(store_url, "pull", reviews, "--to", str(tmp_path / "copy"), code=5)


def test_folder_of_another_dataset_exits_6(store_url: str, reviews: str, tmp_path: Path) -> None:
    run(store_url, "pull", reviews, "--to", str(tmp_path / "copy"))
    run(store_url, "create", "other")
    run(store_url, "push", "other", str(tmp_path / "src" / "a.txt"), "-m", "m")
    error = fail(store_url, "pull", "other", "--to", str(tmp_path / "copy"), code=6)
    assert "is a working copy of dataset 'reviews'" in error


def test_missing_local_path_is_a_usage_error(store_url: str, reviews: str, tmp_path: Path) -> None:
    result = run(store_url, "push", reviews, str(tmp_path / "absent"), "-m", "m", code=2)
    assert "does not exist" in result.stderr


def test_push_needs_a_message_and_files(store_url: str, reviews: str, tmp_path: Path) -> None:
    assert "Missing option '-m'" in run(store_url, "push", reviews, str(tmp_path / "src"), code=2).stderr
    (tmp_path / "empty").mkdir()
    assert "nothing to push" in run(store_url, "push", reviews, str(tmp_path / "empty"), "-m", "m", code=2).stderr


def test_store_url_with_credentials_is_refused_without_echoing_them() -> None:
    result = CliRunner().invoke(main, ["datasets", "--store", "s3://AKIDEXAMPLE:s3cr3t@bucket/x", "list"])
    assert result.exit_code == 2
    assert "s3cr3t" not in result.output and "AKIDEXAMPLE" not in result.output
    assert "must not embed credentials" in result.stderr


def test_unreachable_store_exits_1(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s",
        "AWS_DEFAULT_REGION": "us-east-1", "AWS_MAX_ATTEMPTS": "1", "AWS_EC2_METADATA_DISABLED": "true",
        "CURATION_S3_DEADLINE": "1",  # refused connections are retried until the deadline (60 s by default)
    }.items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(main, ["datasets", "--store", "s3://bucket/x", "list"])
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("Error: S3 ") and result.stderr.count("\n") == 1



def test_gantry_names_list_with_their_keys_and_a_shared_key_is_a_conflict(store_url: str) -> None:
    run(store_url, "create", "My Data")
    run(store_url, "create", "plain")
    lines = run(store_url, "list").stdout.splitlines()
    assert lines[0].split()[:3] == ["NAME", "KEY", "HEAD"]
    assert lines[1].startswith("My Data  my-data ") and lines[2].startswith("plain    plain ")
    assert [d["name"] for d in run_json(store_url, "list")["datasets"]] == ["My Data", "plain"]
    error = fail(store_url, "create", "my data", code=4)
    assert error == "Error: dataset names 'My Data' and 'my data' both map to the key 'my-data'; rename one of them"


def test_pull_of_a_gantry_name_defaults_to_its_key_folder(store_url: str, tmp_path, monkeypatch) -> None:
    run(store_url, "create", "My Data")
    source = write(tmp_path / "src", {"a.txt": b"a"})
    run(store_url, "push", "My Data", str(source), "-m", "first")
    monkeypatch.chdir(tmp_path)
    run(store_url, "pull", "My Data")
    assert (tmp_path / "my-data" / "a.txt").read_bytes() == b"a"
    assert not (tmp_path / "My Data").exists()
