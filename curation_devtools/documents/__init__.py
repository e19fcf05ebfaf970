"""The GraphQL documents the client sends, one operation per ``.graphql`` file of this package."""

from __future__ import annotations

from functools import cache
from importlib.resources import files


@cache
def document(name: str) -> str:
    """The text of ``<name>.graphql`` (an operation and the fragments it uses)."""
    return (files(__name__) / f"{name}.graphql").read_text(encoding="utf-8")
