"""Seeds: stable derivation from names, and counter-based random streams.

Everything random in the engine comes from :func:`uniform_ints`, a
splitmix64 stream indexed by a counter. It depends on nothing but its inputs,
so a selection is reproducible across machines and numpy versions (numpy's
own generators make no such promise across releases).
"""

from __future__ import annotations

import hashlib

import numpy as np

_MASK64 = (1 << 64) - 1
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


def derive_seed(*parts: str) -> int:
    """A stable 64-bit seed from string parts, e.g. ``derive_seed(curator_name, partition_key)``.

    The first 8 bytes (big-endian) of the sha256 of the parts joined by the
    unit separator ``\\x1f``; the same parts give the same seed everywhere.
    """
    joined = "\x1f".join(str(part) for part in parts).encode("utf-8")
    return int.from_bytes(hashlib.sha256(joined).digest()[:8], "big")


def stream_key(seed: int, *parts: object) -> int:
    """The 64-bit key of one random stream: a seed plus what the stream is for.

    Each selector, stratum and purpose gets its own stream, so two selectors
    with the same seed still draw independently.
    """
    text = "\x1f".join([str(int(seed))] + [str(part) for part in parts]).encode("utf-8")
    return int.from_bytes(hashlib.sha256(text).digest()[:8], "big")


def splitmix64(values: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser over a uint64 array (wrapping arithmetic)."""
    z = values.astype(np.uint64, copy=True)
    z ^= z >> np.uint64(30)
    z *= _MIX1
    z ^= z >> np.uint64(27)
    z *= _MIX2
    z ^= z >> np.uint64(31)
    return z


def uniform_ints(key: int, start: int, count: int, bound: int) -> np.ndarray:
    """Draws ``start .. start+count-1`` of stream ``key``: integers uniform in ``[0, bound)``.

    53 random bits scaled to ``bound``; the bias is below ``bound / 2**53``,
    far under anything a selection of at most billions of rows can show.
    """
    counters = np.arange(start + 1, start + count + 1, dtype=np.uint64)
    states = counters * _GOLDEN + np.uint64(key & _MASK64)
    bits = splitmix64(states) >> np.uint64(11)
    return np.floor(bits.astype(np.float64) * (float(bound) / 2.0**53)).astype(np.int64)
