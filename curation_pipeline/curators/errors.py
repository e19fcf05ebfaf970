"""The curator layer's one error type, with the curator and field it concerns."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import ValidationError


class CuratorConfigError(ValueError):
    """A curator or selector specification is invalid.

    Attributes name where the problem is: ``curator`` (its name, when known),
    ``field`` (a dotted path such as ``selectors[0].limit``) and ``problem``.
    """

    def __init__(self, problem: str, *, curator: str | None = None, field: str | None = None):
        self.curator = curator
        self.field = field
        self.problem = problem
        super().__init__(self._render())

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
    problems = []
    first_field = None
    for item in error.errors(include_url=False):
        loc = format_location(_strip_union_tags(item["loc"]))
        if field_prefix:
            loc = f"{field_prefix}.{loc}" if loc else field_prefix
        first_field = first_field or loc
        problems.append((loc, _describe(item)))
    if len(problems) == 1:
        return CuratorConfigError(problems[0][1], curator=curator, field=problems[0][0] or None)
    detail = "; ".join(f"{loc or '<spec>'}: {msg}" for loc, msg in problems)
    return CuratorConfigError(detail, curator=curator, field=None)


def _strip_union_tags(loc: Sequence[str | int]) -> list[str | int]:
    # Discriminated unions add the tag ("bounds", "uniform", ...) to the location;
    # users think of `filters[0].upper`, not `filters[0].bounds.upper`.
    from curation_pipeline.curators.selectors import UNION_TAGS

    return [part for part in loc if not (isinstance(part, str) and part in UNION_TAGS)]


def _describe(item: dict) -> str:
    msg = item["msg"].removeprefix("Value error, ")
    value = item.get("input")
    # Say what was given when it is a plain value the user typed.
    if isinstance(value, (str, int, float, bool)) and repr(value) not in msg:
        msg = f"{msg} (got {value!r})"
    return msg
