"""HuggingFace loading with the real `datasets` package: one schema across windows whose columns differ."""

from __future__ import annotations

import sys

import pyarrow as pa
import pytest

import curation_pipeline.gantry.dataset as gdataset
from curation_pipeline.gantry.exceptions import HuggingFaceNotInstalledError
from curation_pipeline.store import DataSchemaMismatchError, DatasetStore, NoTabularDataError

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
    assert not (windows.workspace and __import__("pathlib").Path(windows.workspace).exists())


def test_an_older_version(windows: gdataset.GantryDataset) -> None:
    day2 = windows.list_versions()[1]["version_id"]
    hf = windows.get_huggingface_dataset(version_id=day2)
    assert hf.to_list() == EXPECTED[:3]
    assert list(hf.features) == ["record_id", "outputs.score", "inputs.lang", "feedback.label"]
    assert hf.features["feedback.label"] == datasets.Value("null")


def test_pull_huggingface_dataset_by_version_loads_the_pulled_files(windows: gdataset.GantryDataset) -> None:
    first = windows.list_versions()[-1]["version_id"]
    hf = windows.pull_huggingface_dataset_by_version(first)
    assert hf.to_list() == [{"record_id": "a", "outputs.score": 0.1}, {"record_id": "b", "outputs.score": 0.2}]
    assert windows.get_diff()["new_files"] == []  # the workspace holds that version now
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
