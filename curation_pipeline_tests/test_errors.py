"""One error root: every exception class the library defines derives from CurationError."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import curation_pipeline
from curation_pipeline.errors import CurationError

#: Packages whose exceptions are not library errors: the command line's own
#: (click's exceptions carrying exit codes) are the boundary, not what crosses it.
BOUNDARIES = ("curation_pipeline.cli",)
#: Internal control flow that never leaves the module that raises it.
INTERNAL = {"Cancelled"}


def _library_modules() -> list[str]:
    names = [
        info.name
        for info in pkgutil.walk_packages(curation_pipeline.__path__, prefix="curation_pipeline.")
        if not info.name.startswith(BOUNDARIES)
    ]
    return sorted(names)


def _exception_classes() -> list[type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for name in _library_modules():
        module = importlib.import_module(name)
        for _, value in inspect.getmembers(module, inspect.isclass):
            defined_here = value.__module__ == module.__name__
            if defined_here and issubclass(value, BaseException) and value.__name__ not in INTERNAL:
                found[f"{value.__module__}.{value.__qualname__}"] = value
    return [found[key] for key in sorted(found)]


def test_the_walk_finds_every_family() -> None:
    names = {cls.__name__ for cls in _exception_classes()}
    expected = {"StoreError", "StreamError", "SelectionError", "CuratorConfigError", "InvalidNameError"}
    assert expected <= names


@pytest.mark.parametrize("cls", _exception_classes(), ids=lambda cls: f"{cls.__module__}.{cls.__qualname__}")
def test_every_library_error_is_a_curation_error(cls: type[BaseException]) -> None:
    assert issubclass(cls, CurationError)


@pytest.mark.parametrize(
    ("path", "builtin"),
    [
        ("curation_pipeline.names.InvalidNameError", ValueError),
        ("curation_pipeline.curators.CuratorConfigError", ValueError),
        ("curation_pipeline.store.DatasetNotFoundError", LookupError),
        ("curation_pipeline.store.StoreAccessError", OSError),
        ("curation_pipeline.store.InvalidDatasetNameError", ValueError),
        ("curation_pipeline.stream.StreamStorageError", OSError),
        ("curation_pipeline.stream.InvalidRecordsError", ValueError),
        ("curation_pipeline.selection.MissingFieldError", LookupError),
        ("curation_pipeline.selection.FieldTypeError", TypeError),
    ],
)
def test_builtin_mix_ins_are_kept(path: str, builtin: type[Exception]) -> None:
    module, _, name = path.rpartition(".")
    assert issubclass(getattr(importlib.import_module(module), name), builtin)
