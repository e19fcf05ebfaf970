"""Curators from plain data: the inverse of :meth:`Curator.to_dict`, also used for YAML items."""

from __future__ import annotations

import datetime as dt
import inspect
from collections.abc import Mapping
from typing import Any

from curation_pipeline.curators.curator import Curator
from curation_pipeline.curators.errors import CuratorConfigError
from curation_pipeline.curators.stock import STOCK_CURATORS

#: Every curator type by the name used in ``type:``.
CURATOR_TYPES: dict[str, type[Curator]] = {cls.__name__: cls for cls in (Curator, *STOCK_CURATORS)}


def curator_from_dict(data: Mapping[str, Any]) -> Curator:
    """Build the curator ``data`` describes: ``{"type": "UniformCurator", "name": ..., "limit": 100, ...}``.

    ``type`` is ``Curator`` or a stock curator's class name; the other keys are
    that class's constructor arguments (intervals may be text such as ``1d``,
    ``start_on`` an ISO string, selectors mappings).

    Raises:
        CuratorConfigError: every problem found (unknown type or fields, missing
            fields, invalid values), each naming the curator and field.
    """
    label = data.get("name") if isinstance(data, Mapping) else None
    label = label if isinstance(label, str) and label else None
    if not isinstance(data, Mapping):
        raise CuratorConfigError(f"a curator must be a mapping of its fields, got {data!r}")
    cls = _curator_type(data.get("type"), "type" in data, label)
    arguments = {key: value for key, value in data.items() if key != "type"}
    _check_arguments(cls, arguments, label)
    return cls(**arguments)


#: Fields Gantry's server adds to a curator it serialises; they describe the record, not the curator.
GANTRY_RECORD_FIELDS = ("id", "curator_id", "created_at", "modified_at", "api_client")


def curator_from_gantry(data: Mapping[str, Any]) -> Curator:
    """Build the curator a Gantry-serialised mapping describes (``curator.json()`` read back).

    As :func:`curator_from_dict`, and: ``type`` defaults to ``Curator`` (Gantry
    serialises every curator with its selectors); ``curation_interval`` and
    ``curation_delay`` may be numbers of seconds (pydantic's form of a
    timedelta); Gantry's record fields (:data:`GANTRY_RECORD_FIELDS`) are
    dropped. Selectors may use Gantry's ``sample`` key and untyped filters, as
    everywhere.

    Raises:
        CuratorConfigError: as :func:`curator_from_dict`.
    """
    if not isinstance(data, Mapping):
        raise CuratorConfigError(f"a curator must be a mapping of its fields, got {data!r}")
    converted = {key: value for key, value in data.items() if key not in GANTRY_RECORD_FIELDS}
    converted.setdefault("type", "Curator")
    for key in ("curation_interval", "curation_delay"):
        value = converted.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            converted[key] = dt.timedelta(seconds=value)
    return curator_from_dict(converted)


def _curator_type(value: object, given: bool, label: str | None) -> type[Curator]:
    valid = ", ".join(CURATOR_TYPES)
    if not given:
        raise CuratorConfigError(f"missing curator type; valid types: {valid}", curator=label, field="type")
    if not isinstance(value, str) or value not in CURATOR_TYPES:
        raise CuratorConfigError(f"unknown curator type {value!r}; valid types: {valid}", curator=label, field="type")
    return CURATOR_TYPES[value]


def _check_arguments(cls: type[Curator], arguments: dict[str, Any], label: str | None) -> None:
    parameters = list(inspect.signature(cls.__init__).parameters.values())[1:]
    known = [p.name for p in parameters]
    problems = [
        CuratorConfigError(f"unknown field for {cls.__name__}; valid fields: {', '.join(known)}", curator=label, field=key)
        for key in arguments
        if key not in known
    ]
    problems += [
        CuratorConfigError(f"required field of {cls.__name__} is missing", curator=label, field=p.name)
        for p in parameters
        if p.default is inspect.Parameter.empty and p.name not in arguments
    ]
    if problems:
        raise CuratorConfigError.combine(problems, curator=label)
