"""HuggingFace loading with the real `datasets` package: one schema across windows whose columns differ."""

from __future__ import annotations

import sys
from pathlib import Path

import pyarrow as pa
import pytest

import curation_pipeline.gantry.dataset as gdataset
from curation_pipeline.gantry.exceptions import HuggingFaceNotInstalledError
from curation_pipeline.store import (
    DataSchemaMismatchError,
    DatasetStore,
    NoTabularDataError,
)

datasets = pytest.importorskip("datasets")

DAY1 = pa.table({"record_id": ["a", "b"], "outputs.score": [0.1, 0.2]})
# A later window gains a column and has a column that is all null in it.
DAY2 = pa.table(
    {
        "record_id": ["c"],
        "outputs.score": [0.3],
        "inputs.lang": ["en"],
        "feedback.label": pa.array([None], pa.null()),
    }
)
DAY3_CSV = b"record_id,outputs.score,feedback.label\nd,0.4,good\n"

EXPECTED = [
    {"record_id": "a", "outputs.score": 0.1, "inputs.lang": None, "feedback.label": None},
    {"record_id": "b", "outputs.score": 0.2, "inputs.lang": None, "feedback.label": None},
    {"record_id": "c", "outputs.score": 0.3, "inputs.lang": "en", "feedback.label": None},
    {"record_id": "d", "outputs.score": 0.4, "inputs.lang": None, "feedback.label": "good"},
]


@pytest.fixture
def windows(gantry_store: DatasetStore) -> gdataset.GantryDataset:
    stored = gantry_store.create_dataset("Curated Reviews")
    stored.push_table(DAY1, "data/2024-01-01.parquet", "day 1")
    stored.push_table(DAY2, "data/2024-01-02.parquet", "day 2")
    stored.commit({"data/2024-01-03.csv": DAY3_CSV, "README.txt": b"not a table"}, "day 3")
    return gdataset.get_dataset("Curated Reviews")


def _features() -> object:
    return datasets.Features(
        {
            "record_id": datasets.Value("string"),
            "outputs.score": datasets.Value("float64"),
            "inputs.lang": datasets.Value("string"),
            "feedback.label": datasets.Value("string"),
        }
    )


def test_in_memory_has_one_schema_and_every_record(windows: gdataset.GantryDataset) -> None:
    hf = windows.get_huggingface_dataset()
    assert isinstance(hf, datasets.Dataset)
    assert hf.features == _features()
    assert hf.num_rows == 4
    assert hf.to_list() == EXPECTED


def test_streaming_reads_from_the_store_without_a_pull(windows: gdataset.GantryDataset) -> None:
    hf = windows.get_huggingface_dataset(streaming=True)
    assert isinstance(hf, datasets.IterableDataset)
    assert hf.features == _features()
    assert list(hf) == EXPECTED
    assert not (windows.dataset_folder and __import__("pathlib").Path(windows.dataset_folder).exists())


def test_an_older_version(windows: gdataset.GantryDataset) -> None:
    day2 = windows.list_versions()[1]["version_id"]
    hf = windows.get_huggingface_dataset(version_id=day2)
    assert hf.to_list() == EXPECTED[:3]
    assert list(hf.features) == ["record_id", "outputs.score", "inputs.lang", "feedback.label"]
    assert hf.features["feedback.label"] == datasets.Value("null")


def test_pull_huggingface_dataset_by_version_loads_the_version_from_the_store(windows: gdataset.GantryDataset) -> None:
    first = windows.list_versions()[-1]["version_id"]
    hf = windows.pull_huggingface_dataset_by_version(first)
    assert hf.to_list() == [{"record_id": "a", "outputs.score": 0.1}, {"record_id": "b", "outputs.score": 0.2}]
    # Gantry's docstring: "This method will not pull data to your local dataset folder".
    assert not Path(windows.dataset_folder).exists()
    streamed = windows.pull_huggingface_dataset_by_version(streaming=True)
    assert list(streamed) == EXPECTED


def test_a_version_without_tables_and_clashing_types(gantry_store: DatasetStore) -> None:
    stored = gantry_store.create_dataset("odd")
    stored.commit({"notes.txt": b"hello"}, "no table")
    dataset = gdataset.get_dataset("odd")
    with pytest.raises(NoTabularDataError, match="has no tabular file"):
        dataset.get_huggingface_dataset()
    stored.push_table(pa.table({"x": [1]}), "a.parquet")
    stored.push_table(pa.table({"x": ["one"]}), "b.parquet")
    with pytest.raises(DataSchemaMismatchError, match="column 'x' is int64 in 'a.parquet' but string in 'b.parquet'"):
        dataset.get_huggingface_dataset()
    with pytest.raises(DataSchemaMismatchError, match="schemas cannot be unified"):
        stored.read()


def test_without_datasets_the_error_says_how_to_install_it(
    windows: gdataset.GantryDataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "datasets", None)
    with pytest.raises(HuggingFaceNotInstalledError, match=r"pip install 'curation_pipeline\[hf\]'"):
        windows.get_huggingface_dataset()
    with pytest.raises(ImportError):
        windows.pull_huggingface_dataset_by_version()


def test_gantrys_positional_orders_and_the_hf_dataset_name(windows: gdataset.GantryDataset) -> None:
    # Gantry: get_huggingface_dataset(hf_dataset_name=None, streaming=False) and
    # pull_huggingface_dataset_by_version(version_id=None, hf_dataset_name=None, streaming=False).
    hf = windows.get_huggingface_dataset("reviews", False)
    assert hf.info.dataset_name == "reviews" and hf.num_rows == 4
    first = windows.list_versions()[-1]["version_id"]
    streamed = windows.pull_huggingface_dataset_by_version(first, "first_day", True)
    assert isinstance(streamed, datasets.IterableDataset) and streamed.info.dataset_name == "first_day"
    assert [row["record_id"] for row in streamed] == ["a", "b"]
    # The default name is the dataset's, cleaned as Gantry cleans it.
    assert windows.get_huggingface_dataset().info.dataset_name == "CuratedReviews"
    with pytest.raises(ValueError, match="hf_dataset_name='not valid' is not a valid Python identifier"):
        windows.get_huggingface_dataset("not valid")


def test_after_a_pull_the_pulled_version_is_loaded(windows: gdataset.GantryDataset) -> None:
    # Gantry's example: dataset.pull(); hf_dataset = dataset.get_huggingface_dataset()
    day2 = windows.list_versions()[1]["version_id"]
    windows.pull(day2)
    assert windows.get_huggingface_dataset().to_list() == EXPECTED[:3]
    windows.pull()
    assert windows.get_huggingface_dataset().to_list() == EXPECTED
