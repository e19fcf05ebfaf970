"""Stable priorities behind the uniform rule of re-curation."""

from __future__ import annotations

import numpy as np
import pytest

from curation_pipeline.selection.priorities import PRIORITY_SPACE, lowest, record_priorities, smallest_priorities


@pytest.mark.parametrize(("population", "count"), [(1, 1), (10, 3), (10, 10), (10, 25), (10**9, 50)])
def test_smallest_priorities_are_ascending_in_range_and_capped(population: int, count: int) -> None:
    found = smallest_priorities(population, count, key=11)
    assert len(found) == min(population, count)
    assert found == sorted(found)
    assert all(0 <= value < PRIORITY_SPACE for value in found)
    assert smallest_priorities(population, count, key=11) == found
    assert smallest_priorities(population, count, key=12) != found


def test_smallest_priorities_follow_the_order_statistics() -> None:
    """The j-th smallest of N uniforms averages j / (N + 1)."""
    population, count, keys = 40, 4, 1500
    draws = np.array([smallest_priorities(population, count, key) for key in range(keys)], dtype=np.float64)
    means = draws.mean(axis=0) / PRIORITY_SPACE
    expected = np.arange(1, count + 1) / (population + 1)
    # Standard deviations of the means are under 0.0006 (the 4th: sqrt(4 * 37 / (41**2 * 42)) / sqrt(1500)).
    assert np.all(np.abs(means - expected) < 0.003)


def test_priorities_are_pinned_across_releases() -> None:
    """Same digits on every machine: decimal arithmetic and sha256, no platform floats or numpy generators."""
    assert smallest_priorities(1_000_000, 4, 0x5EED) == [
        59916398971501,
        80211638878322,
        98819368689103,
        113933851569104,
    ]
    assert record_priorities(["rec-1", "rec-2"], 0x5EED) == [12338332856037678996, 537407987686945128]


def test_lowest_takes_free_places_then_displaces_by_priority() -> None:
    previous = [f"old-{i}" for i in range(5)]
    late = [f"late-{i}" for i in range(8)]
    # Room for everyone: all earlier picks stay, every late record comes in.
    kept, extra, picked = lowest(previous, 5, late, 20, key=3)
    assert (kept.tolist(), extra, picked) == ([0, 1, 2, 3, 4], 0, late)
    # The limit is full: each late record that comes in displaces one earlier pick.
    kept, extra, picked = lowest(previous, 100, late, 5, key=3)
    assert len(kept) + len(picked) == 5 and extra == 0
    # A late part that grows keeps the earlier winners unless newcomers displace them.
    more = [*late, *(f"late-{i}" for i in range(8, 40))]
    kept_more, _, picked_more = lowest(previous, 100, more, 5, key=3)
    assert set(kept_more) <= set(kept)
    dropped = (set(picked) - set(picked_more)) | (set(kept) - set(kept_more))
    assert len(dropped) == len(set(picked_more) - set(picked))
    # A larger target than the earlier picks (a stratum whose quota grew) asks for old records not picked yet.
    kept, extra, picked = lowest(previous, 100, [], 8, key=3)
    assert (len(kept), extra, picked) == (5, 3, [])
