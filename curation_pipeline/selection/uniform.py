"""Uniform sampling without replacement over row positions.

The engine never draws one random key per row: it counts the matching rows
(Parquet metadata answers that for row groups the filter keeps whole), then
draws ``k`` distinct positions out of ``N``. Memory and time depend on ``k``,
not on ``N``.
"""

from __future__ import annotations

import numpy as np

from curation_pipeline.selection.seeds import uniform_ints


def sample_positions(population: int, k: int, key: int) -> np.ndarray:
    """``min(k, population)`` distinct positions in ``[0, population)``, sorted ascending.

    Every ``k``-subset is equally likely: positions are drawn uniformly one
    after the other and repeats are discarded, so each new position is uniform
    among those not drawn yet. When ``k`` is over half the population the
    complement (the positions left out) is drawn instead, which keeps the
    number of draws under about ``1.4 * k``.
    """
    if k <= 0 or population <= 0:
        return np.empty(0, dtype=np.int64)
    if k >= population:
        return np.arange(population, dtype=np.int64)
    if 2 * k > population:
        left_out = _distinct_draws(population, population - k, key)
        keep = np.ones(population, dtype=bool)
        keep[left_out] = False
        return np.flatnonzero(keep).astype(np.int64)
    return np.sort(_distinct_draws(population, k, key))


def _distinct_draws(population: int, k: int, key: int) -> np.ndarray:
    """The first ``k`` distinct values of stream ``key`` over ``[0, population)``, in draw order."""
    draws = np.empty(0, dtype=np.int64)
    chunk = max(2 * k, 64)
    while True:
        draws = np.concatenate([draws, uniform_ints(key, draws.size, chunk, population)])
        _, first = np.unique(draws, return_index=True)
        if first.size >= k:
            return draws[np.sort(first)[:k]]
