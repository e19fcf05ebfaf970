"""Rules over a whole catalogue of curators, shared by YAML loading and Python-defined lists."""

from __future__ import annotations

from collections.abc import Sequence

from curation_pipeline.curators.curator import Curator
from curation_pipeline.curators.errors import CuratorConfigError
from curation_pipeline.names import collision, name_key


def catalog_problems(curators: Sequence[object]) -> list[tuple[int, CuratorConfigError]]:
    """Every catalogue-level problem as ``(index, error)``: non-curators, shared names, shared datasets.

    Names are compared by key (:func:`~curation_pipeline.names.name_key`): two
    names with one key would share an asset, a job and a folder, so that is an
    error naming both; so is an application name sharing a key with another.
    """
    problems: list[tuple[int, CuratorConfigError]] = []
    names: dict[str, tuple[str, int]] = {}
    datasets: dict[str, tuple[str, str]] = {}
    applications: dict[str, str] = {}
    for index, curator in enumerate(curators):
        if not isinstance(curator, Curator):
            problems.append((index, CuratorConfigError(f"curators[{index}] is not a Curator: {curator!r}")))
            continue
        key = name_key(curator.name)
        if key in names:
            other, where = names[key]
            problem = (
                f"duplicate curator name {curator.name!r} (also curators[{where}])"
                if other == curator.name
                else f"{collision('curator', other, curator.name, key)} (curators[{where}])"
            )
            problems.append((index, CuratorConfigError(problem, curator=curator.name, field="name")))
        else:
            names[key] = (curator.name, index)
        dataset = curator.curated_dataset_name
        dataset_key = name_key(dataset)
        known = datasets.get(dataset_key)
        if known is not None and known[0] != dataset:
            problem = str(collision("dataset", known[0], dataset, dataset_key))
            problems.append((index, CuratorConfigError(problem, curator=curator.name, field="curated_dataset_name")))
        elif known is not None and known[1] != curator.name:
            problem = f"dataset {dataset!r} is already curated by {known[1]!r}; two curators may not share a dataset"
            problems.append((index, CuratorConfigError(problem, curator=curator.name, field="curated_dataset_name")))
        else:
            datasets.setdefault(dataset_key, (dataset, curator.name))
        application = curator.application_name
        other_application = applications.setdefault(name_key(application), application)
        if other_application != application:
            problem = str(collision("application", other_application, application, name_key(application)))
            problems.append((index, CuratorConfigError(problem, curator=curator.name, field="application_name")))
    return problems


def validate_catalog(curators: Sequence[Curator]) -> list[Curator]:
    """Check a catalogue as a whole: unique curator names and unique dataset names.

    Each curator validated itself when it was built; this adds the rules that
    need the whole list.

    Returns:
        The curators, as a list, when the catalogue is valid.

    Raises:
        CuratorConfigError: every problem found (see ``parts``), each naming the curator and field.
    """
    problems = catalog_problems(curators)
    if problems:
        raise CuratorConfigError.combine([error for _, error in problems])
    return list(curators)
