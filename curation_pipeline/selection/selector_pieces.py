"""The row groups a selector reads: one lookup for the engine and for what it plans (staging)."""

from __future__ import annotations

from curation_pipeline.curators.selectors import OrderedSampler, Selector
from curation_pipeline.fields import RECORD_ID
from curation_pipeline.selection.filters import Predicate
from curation_pipeline.selection.scan import Piece, Source


def selector_pieces(source: Source, selector: Selector, predicate: Predicate | None) -> list[Piece]:
    """The pieces of ``source`` ``selector`` (with ``predicate``, its filters) reads: those its filter's statistics do not rule out.

    An ordered rule also asks each piece's range of its field, and of
    ``record_id`` to settle ties, found from the same footers.
    """
    expression = None if predicate is None else predicate.expression()
    fields = () if predicate is None else predicate.fields
    method = selector.method
    ranges = (method.field, RECORD_ID) if isinstance(method, OrderedSampler) else ()
    return source.pieces(expression, fields, predicate, ranges)
