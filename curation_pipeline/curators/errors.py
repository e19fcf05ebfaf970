"""The curator layer's one error type, with the curator and field it concerns.

:class:`CuratorConfigError` is both a :class:`~curation_pipeline.errors.CurationError`
and a ``ValueError``.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import ValidationError

from curation_pipeline.errors import CurationError


class CuratorConfigError(CurationError, ValueError):
    """A curator or selector specification is invalid.

    Attributes name where the problem is: ``curator`` (its name, when known),
    ``field`` (a dotted path such as ``selectors[0].limit``) and ``problem``.
    When one error reports several problems, ``parts`` holds each of them as its
    own located error (it is empty for a single problem; see :meth:`split`).
    """

    def __init__(self, problem: str, *, curator: str | None = None, field: str | None = None):
        self.curator = curator
        self.field = field
        self.problem = problem
        self.parts: tuple[CuratorConfigError, ...] = ()
        super().__init__(self._render())

    def split(self) -> tuple[CuratorConfigError, ...]:
        """Every single problem this error reports: its ``parts``, or itself."""
        return self.parts or (self,)

    @classmethod
    def combine(cls, errors: Sequence[CuratorConfigError], *, curator: str | None = None) -> CuratorConfigError:
        """One error reporting every problem of ``errors`` (flattened), or the only one."""
        singles = tuple(single for error in errors for single in error.split())
        if len(singles) == 1:
            return singles[0]
        detail = "; ".join(f"{e.field or '<spec>'}: {e.problem}" for e in singles)
        combined = cls(f"{len(singles)} problems: {detail}", curator=curator)
        combined.parts = singles
        return combined

    def _render(self) -> str:
        where = []
        if self.curator is not None:
            where.append(f"curator {self.curator!r}")
        if self.field:
            where.append(f"field {self.field!r}")
        prefix = ", ".join(where)
        return f"{prefix}: {self.problem}" if prefix else self.problem


def format_location(loc: Sequence[str | int]) -> str:
    """Render a pydantic error location as ``selectors[0].filters[1].upper``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def from_validation_error(
    error: ValidationError, *, curator: str | None = None, field_prefix: str | None = None
) -> CuratorConfigError:
    """Translate pydantic's error into ours, keeping every problem it found."""
    problems: list[tuple[str, str]] = []
    for item in _merge_union_members(error.errors(include_url=False)):
        loc = format_location(_strip_union_tags(item["loc"]))
        if field_prefix:
            loc = f"{field_prefix}.{loc}" if loc else field_prefix
        nested = (item.get("ctx") or {}).get("error")
        if isinstance(nested, CuratorConfigError):
            # A nested spec (a filter given as a mapping) validated itself and raised
            # ours: keep its own field paths instead of one opaque message.
            problems.extend((_join_location(loc, part.field), part.problem) for part in nested.split())
            continue
        problems.append((loc, _describe(item)))
    if len(problems) == 1:
        return CuratorConfigError(problems[0][1], curator=curator, field=problems[0][0] or None)
    detail = "; ".join(f"{loc or '<spec>'}: {msg}" for loc, msg in problems)
    combined = CuratorConfigError(detail, curator=curator, field=None)
    combined.parts = tuple(CuratorConfigError(msg, curator=curator, field=loc or None) for loc, msg in problems)
    return combined


# What pydantic calls the members of a plain (smart) union such as `int | float | datetime`.
_MEMBER_WORDS = {"bool": "true/false", "int": "an integer", "float": "a number", "str": "a string", "datetime": "a datetime"}


def _merge_union_members(items: list[dict]) -> list[dict]:
    # A value that fits no member of `int | float | datetime` yields one error per
    # member (`upper.int`, `upper.float`, ...); users want one line about `upper`.
    merged: list[dict] = []
    by_loc: dict[tuple, dict] = {}
    for item in items:
        loc = tuple(item["loc"])
        if not loc or loc[-1] not in _MEMBER_WORDS:
            merged.append(item)
            continue
        if loc[:-1] in by_loc:
            by_loc[loc[:-1]]["kinds"].append(_MEMBER_WORDS[loc[-1]])
            continue
        entry = {**item, "loc": loc[:-1], "kinds": [_MEMBER_WORDS[loc[-1]]]}
        by_loc[loc[:-1]] = entry
        merged.append(entry)
    for entry in by_loc.values():
        kinds = entry["kinds"]
        if len(kinds) > 1:
            entry["msg"] = f"Input should be {', '.join(kinds[:-1])} or {kinds[-1]}"
    return merged


def _join_location(prefix: str, field: str | None) -> str:
    if not field:
        return prefix
    if not prefix:
        return field
    return f"{prefix}{field}" if field.startswith("[") else f"{prefix}.{field}"


def _strip_union_tags(loc: Sequence[str | int]) -> list[str | int]:
    # Discriminated unions add the tag ("bounds", "uniform", ...) to the location;
    # users think of `filters[0].upper`, not `filters[0].bounds.upper`.
    from curation_pipeline.curators.selectors import UNION_TAGS

    # A tag only ever follows a list index (`filters[0]`) or `method`; a field that
    # shares a tag's name (`EqualsFilter.equals`) is kept.
    return [
        part
        for i, part in enumerate(loc)
        if not (part in UNION_TAGS and i > 0 and (isinstance(loc[i - 1], int) or loc[i - 1] == "method"))
    ]


def _describe(item: dict) -> str:
    msg = item["msg"].removeprefix("Value error, ")
    value = item.get("input")
    # Say what was given when it is a plain value the user typed.
    if isinstance(value, (str, int, float, bool)) and repr(value) not in msg:
        msg = f"{msg} (got {value!r})"
    return msg
