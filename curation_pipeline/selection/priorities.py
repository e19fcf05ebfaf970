"""Stable priorities: the uniform rule of re-curation as "the lowest priorities win".

A uniform ``k``-sample of a set is the ``k`` members with the lowest of
independent uniform priorities. Re-curation gives every late record a
priority of its own (a hash of the seed and its ``record_id``), so a record's
chance never depends on which batch brought it or in what order. The old
records' priorities are not hashed: the first curation picked a uniform
``p``-subset of the ``N`` old matches by positions, so their priorities are,
in law, the ``p`` smallest of ``N`` uniform priorities, handed out to the
picks in a random order. Those ``p`` values are drawn here
(:func:`smallest_priorities`), the same every time for the same window.

The outcome, for the same old records and a late part that only grows: an
earlier pick, and a late record picked by an earlier re-curation, leaves only
when records with lower priorities displace it.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal, localcontext

import numpy as np

from curation_pipeline.selection.seeds import stream_key, uniform_ints

PRIORITY_SPACE = 1 << 64
_UNIT_BITS = 53
# Digits of the decimal arithmetic: far beyond the 64 bits a priority keeps.
_DIGITS = 34


def record_priorities(ids: Sequence[str], key: int) -> list[int]:
    """Each record's priority in ``[0, 2**64)``: a hash of ``key`` and its ``record_id``."""
    return [stream_key(key, "priority", record_id) for record_id in ids]


def smallest_priorities(population: int, count: int, key: int) -> list[int]:
    """The ``count`` smallest of ``population`` independent uniform priorities in ``[0, 2**64)``, ascending.

    Drawn one after the other: given the ``j - 1`` smallest, the ``j``-th is
    ``1 - (1 - U_(j-1)) * V ** (1 / (population - j + 1))`` with ``V``
    uniform (the minimum of the ``population - j + 1`` priorities left above
    ``U_(j-1)``). Computed in decimal arithmetic, which gives the same digits
    on every machine; floating-point ``pow`` and ``log`` may differ in the
    last bit between platforms and numpy builds.
    """
    count = max(0, min(count, population))
    units = uniform_ints(key, 0, count, 1 << _UNIT_BITS)
    found: list[int] = []
    with localcontext() as context:
        context.prec = _DIGITS
        scale = Decimal(1 << _UNIT_BITS)
        below = Decimal(0)
        for j, unit in enumerate(units.tolist()):
            v = (Decimal(unit) + Decimal("0.5")) / scale  # in (0, 1)
            below = 1 - (1 - below) * (v.ln() / (population - j)).exp()
            found.append(min(int(below * PRIORITY_SPACE), PRIORITY_SPACE - 1))
    return found


def lowest(
    previous: Sequence[str], old_matches: int, late: Sequence[str], target: int, key: int
) -> tuple[np.ndarray, int, list[str]]:
    """The ``target`` lowest priorities among earlier picks, other old records and late records.

    Args:
        previous: ``record_id`` s of the earlier picks (a uniform subset of the old matches).
        old_matches: how many old records matched (``N``).
        late: distinct ``record_id`` s of the late records that match.
        target: how many records to select (capped at the records there are).
        key: the random stream of this selector (and stratum).

    Returns:
        Positions in ``previous`` of the picks that stay (ascending); how many
        old records not picked before come in (they hold the next lowest old
        priorities, so any uniform draw among the old records not picked fills
        them); the late ids picked, in ``late``'s order.
    """
    wanted = min(target, max(old_matches, len(previous)) + len(late))
    old = smallest_priorities(old_matches, max(len(previous), wanted), stream_key(key, "old"))
    shuffle = record_priorities(previous, stream_key(key, "shuffle"))
    handed = sorted(range(len(previous)), key=lambda i: (shuffle[i], previous[i]))
    candidates = [(old[rank], 0, position) for rank, position in enumerate(handed) if rank < len(old)]
    candidates += [(priority, 1, rank) for rank, priority in enumerate(old[len(previous) :])]
    late_priorities = record_priorities(late, stream_key(key, "late"))
    candidates += [(priority, 2, position) for position, priority in enumerate(late_priorities)]
    chosen = sorted(candidates)[:wanted]
    kept = np.array(sorted(position for _, kind, position in chosen if kind == 0), dtype=np.int64)
    extra = sum(1 for _, kind, _ in chosen if kind == 1)
    picked_late = sorted(position for _, kind, position in chosen if kind == 2)
    return kept, extra, [late[position] for position in picked_late]
