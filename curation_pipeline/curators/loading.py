"""Curator catalogues written in YAML.

A file holds a list of curators, or a mapping whose ``curators:`` key holds it.
Each item is ``type:`` plus the constructor arguments of that type (see
``curator_from_dict``). With ``format: gantry`` beside ``curators:``, items are
read as Gantry serialises curators (``curator_from_gantry``: intervals in
seconds, ``type`` optional). A file is accepted whole or rejected whole: every problem
in it is reported at once, each with the file, line, curator and field.

Files are read within the limits of :mod:`curation_pipeline.curators.bounded_yaml`
(size, alias expansion, nesting): a file past one is refused, with the limit and
the line where it was crossed.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from curation_pipeline.curators.bounded_yaml import MAX_FILE_BYTES, YamlLimitError, read_yaml, too_large
from curation_pipeline.curators.curator import Curator
from curation_pipeline.curators.errors import CuratorConfigError
from curation_pipeline.curators.serialization import curator_from_dict, curator_from_gantry

#: The values of the top-level ``format:`` key.
FORMATS = {"curation": curator_from_dict, "gantry": curator_from_gantry}
from curation_pipeline.curators.validation import catalog_problems


@dataclass(frozen=True)
class CuratorProblem:
    """One problem of a curator file: where it is and what is wrong."""

    problem: str
    source: str
    line: int | None = None
    curator: str | None = None
    index: int | None = None
    field: str | None = None

    def __str__(self) -> str:
        head = self.source if self.line is None else f"{self.source}:{self.line}"
        where = []
        if self.curator is not None:
            where.append(f"curator {self.curator!r}")
        elif self.index is not None:
            where.append(f"curators[{self.index}]")
        if self.field:
            where.append(f"field {self.field!r}")
        return f"{head}: {', '.join(where)}: {self.problem}" if where else f"{head}: {self.problem}"


class CuratorFileError(CuratorConfigError):
    """A curator file is invalid. ``problems`` lists every problem found, in file order;
    ``str()`` gives a header line and then one problem per line."""

    def __init__(self, source: str, problems: Sequence[CuratorProblem]):
        self.source = source
        self.problems: list[CuratorProblem] = list(problems)
        count = len(self.problems)
        header = f"{source}: {count} problem{'s' if count != 1 else ''} in curator file"
        only = self.problems[0] if count == 1 else None
        super().__init__(
            "\n".join([header, *(f"  {problem}" for problem in self.problems)]),
            curator=only.curator if only else None,
            field=only.field if only else None,
        )

    def _render(self) -> str:
        # The lines already say where each problem is.
        return self.problem

    def split(self) -> tuple[CuratorConfigError, ...]:
        """Each problem as a located :class:`CuratorConfigError` (its message starts with the file)."""
        return tuple(CuratorConfigError(str(problem)) for problem in self.problems)


def load_curators(path: str | os.PathLike[str]) -> list[Curator]:
    """Read and validate the curator catalogue in the YAML file at ``path``.

    Raises:
        CuratorFileError: the file cannot be read, is not valid YAML, or any curator
            or catalogue rule fails; it lists every problem.
    """
    source = os.fspath(path)
    try:
        with open(source, "rb") as handle:
            # One byte past the limit tells a file too large without reading it all.
            head = handle.read(MAX_FILE_BYTES + 1)
    except OSError as error:
        raise CuratorFileError(source, [CuratorProblem(f"cannot read file: {error.strerror or error}", source)]) from None
    if len(head) > MAX_FILE_BYTES:
        limit = too_large(head)
        raise CuratorFileError(source, [CuratorProblem(limit.problem, source, limit.line)])
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as error:
        line = head[: error.start].count(b"\n") + 1
        problem = f"not UTF-8 text: byte {head[error.start]:#04x} at offset {error.start} ({error.reason})"
        raise CuratorFileError(source, [CuratorProblem(problem, source, line)]) from None
    return load_curators_text(text, source=source)


def load_curators_text(text: str, source: str = "<string>") -> list[Curator]:
    """Read and validate a curator catalogue from YAML text; ``source`` names it in errors.

    Raises:
        CuratorFileError: as :func:`load_curators`.
    """
    try:
        data, root = read_yaml(text)
    except YamlLimitError as error:
        raise CuratorFileError(source, [CuratorProblem(error.problem, source, error.line)]) from None
    except yaml.YAMLError as error:
        raise CuratorFileError(source, [_syntax_problem(error, source)]) from None
    except ValueError as error:
        # PyYAML builds dates itself and lets `2024-02-30` escape as a bare ValueError.
        raise CuratorFileError(source, [CuratorProblem(f"invalid value: {error}", source)]) from None
    build = _format(data, source, root)
    items, item_nodes = _items(data, root, source)
    curators: list[tuple[int, Curator]] = []
    problems: list[CuratorProblem] = []
    for index, (item, node) in enumerate(zip(items, item_nodes)):
        label = item.get("name") if isinstance(item, dict) else None
        label = label if isinstance(label, str) and label else None
        problems += _duplicate_keys(node, source, index, label)
        try:
            curators.append((index, build(item)))
        except CuratorConfigError as error:
            problems += [_located(single, source, _line(node), label, index) for single in error.split()]
    for position, error in catalog_problems([curator for _, curator in curators]):
        index = curators[position][0]
        problems.append(_located(error, source, _line(item_nodes[index]), error.curator, index))
    if problems:
        raise CuratorFileError(source, sorted(problems, key=lambda p: p.index or 0))
    return [curator for _, curator in curators]


def _format(data: Any, source: str, root: yaml.Node | None) -> Any:
    """The item reader the top-level ``format:`` key names (``curation`` unless given)."""
    name = data.get("format", "curation") if isinstance(data, dict) else "curation"
    if name not in FORMATS:
        problem = f"unknown format {name!r}; valid formats: {', '.join(FORMATS)}"
        raise CuratorFileError(source, [CuratorProblem(problem, source, _line(root))])
    return FORMATS[name]


def _items(data: Any, root: yaml.Node | None, source: str) -> tuple[list[Any], list[yaml.Node]]:
    """The list of curator items and their YAML nodes (for line numbers)."""
    shape = "a list of curators, or a mapping with a 'curators:' list"
    if isinstance(data, dict) and isinstance(root, yaml.MappingNode):
        extra = sorted(str(key) for key in data if key not in ("curators", "format"))
        if extra or "curators" not in data:
            problem = f"expected {shape}; unexpected top-level keys: {', '.join(extra) or '(none)'}"
            raise CuratorFileError(source, [CuratorProblem(problem, source, _line(root))])
        data = data["curators"]
        root = next(value for key, value in root.value if key.value == "curators")
    if data is None:
        raise CuratorFileError(source, [CuratorProblem(f"no curators: expected {shape}", source, _line(root))])
    if not isinstance(data, list) or not isinstance(root, yaml.SequenceNode):
        problem = f"expected {shape}, got {type(data).__name__}"
        raise CuratorFileError(source, [CuratorProblem(problem, source, _line(root))])
    return data, list(root.value)


def _duplicate_keys(node: yaml.Node, source: str, index: int, label: str | None) -> list[CuratorProblem]:
    # YAML keeps the last of two equal keys without a word; a curator file should not.
    if not isinstance(node, yaml.MappingNode):
        return []
    seen: set[str] = set()
    problems = []
    for key, _ in node.value:
        if key.value in seen:
            problem = "given twice; each field may appear once"
            problems.append(CuratorProblem(problem, source, _line(key), label, index, str(key.value)))
        seen.add(key.value)
    return problems


def _line(node: yaml.Node | None) -> int | None:
    return None if node is None else node.start_mark.line + 1


def _located(error: CuratorConfigError, source: str, line: int | None, curator: str | None, index: int) -> CuratorProblem:
    return CuratorProblem(error.problem, source, line=line, curator=curator, index=index, field=error.field)


def _syntax_problem(error: yaml.YAMLError, source: str) -> CuratorProblem:
    mark = getattr(error, "problem_mark", None)
    line = None if mark is None else mark.line + 1
    what = getattr(error, "problem", None) or str(error)
    context = getattr(error, "context", None)
    detail = f"{context}, {what}" if context else what
    return CuratorProblem(f"YAML syntax error: {detail}", source, line=line)
