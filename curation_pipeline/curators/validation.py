"""Rules over a whole catalogue of curators, shared by YAML loading and Python-defined lists."""

from __future__ import annotations

from collections.abc import Sequence

from curation_pipeline.curators.curator import Curator
from curation_pipeline.curators.errors import CuratorConfigError


def catalog_problems(curators: Sequence[object]) -> list[tuple[int, CuratorConfigError]]:
    """Every catalogue-level problem as ``(index, error)``: non-curators, shared names, shared datasets."""
    problems: list[tuple[int, CuratorConfigError]] = []
    names: dict[str, int] = {}
    datasets: dict[str, str] = {}
    for index, curator in enumerate(curators):
        if not isinstance(curator, Curator):
            problems.append((index, CuratorConfigError(f"curators[{index}] is not a Curator: {curator!r}")))
            continue
        if curator.name in names:
            problem = f"duplicate curator name {curator.name!r} (also curators[{names[curator.name]}])"
            problems.append((index, CuratorConfigError(problem, curator=curator.name, field="name")))
        else:
            names[curator.name] = index
        dataset = curator.curated_dataset_name
        if dataset in datasets and datasets[dataset] != curator.name:
            problem = f"dataset {dataset!r} is already curated by {datasets[dataset]!r}; two curators may not share a dataset"
            problems.append((index, CuratorConfigError(problem, curator=curator.name, field="curated_dataset_name")))
        else:
            datasets.setdefault(dataset, curator.name)
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
