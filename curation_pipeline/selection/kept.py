"""What a rule's first pass learns about a piece, kept so its second pass need not read the piece again.

Uniform selection with a filter counts each piece's matches, then maps the
chosen match ordinals to row indices; stratified selection counts each
piece's strata, then locates the chosen ranks. Both second passes would read
the filter or strata column again. Instead the first pass keeps, per piece, a
compact trace of what it read (the matching rows as a bitmap or as row
indices; the rows' strata in a piece-local numbering), within a byte
:class:`Budget` per rule run: pieces past the budget are read again where
they hold a pick (a second pass visits only those), so memory stays bounded
however many rows the window holds.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

# Bytes a rule keeps at once across its pieces. A bitmap costs 1 bit a row: 32 MB
# keeps 256M rows of a filtered uniform rule (a 100M-row day, 12.5 MB, whole);
# strata codes cost 0 to 8 bits a row for up to 255 strata in a piece (one
# stratum: none), so about 64M rows of a field of 5 to 16 values (measured: 1,064
# of the 1,600 row groups of the benchmark's 100M-row day by its 5 labels).
# Beside the engine's ~300 MB peak at 100M rows this stays within its 500 MB
# target; the rest of a larger window is read twice where it holds picks.
KEPT_BYTES = 32 << 20

INT32_MAX = np.iinfo(np.int32).max


class Budget:
    """Bytes pieces may keep between two passes of one rule; safe across the scan's threads."""

    def __init__(self, limit: int | None = None) -> None:
        self.limit = KEPT_BYTES if limit is None else limit
        self.held = 0
        self._refused = False
        self._lock = threading.Lock()

    def take(self, size: int) -> bool:
        """Reserve ``size`` bytes; False (and nothing reserved) when they do not fit."""
        with self._lock:
            if self.held + size > self.limit:
                self._refused = True
                return False
            self.held += size
            return True

    def full(self) -> bool:
        """Whether a piece was refused or nothing more fits, so a first pass need not prepare what it would keep.

        Pieces of a window are alike in size: once one did not fit, later
        ones would mostly not either, and preparing them costs a pass.
        """
        with self._lock:
            return self._refused or self.held >= self.limit


@dataclass(frozen=True)
class RowSet:
    """Sorted distinct row indices, stored as cheaply as they allow.

    Rows ``0 .. size - 1`` (every row of the piece matched) take no bytes; few
    rows are kept as indices (4 bytes each); otherwise a bitmap of 1 bit per
    row up to the last match.
    """

    size: int
    bitmap: np.ndarray | None = None
    indices: np.ndarray | None = None

    @staticmethod
    def of(rows: np.ndarray) -> RowSet:
        """``rows`` (sorted, distinct, non-negative) in their cheapest form."""
        size = int(rows.size)
        if size == 0 or int(rows[-1]) == size - 1:
            return RowSet(size)
        span = int(rows[-1]) + 1
        if 4 * size <= (span + 7) // 8 and span <= INT32_MAX:
            return RowSet(size, indices=rows.astype(np.int32))
        mask = np.zeros(span, dtype=bool)
        mask[rows] = True
        return RowSet(size, bitmap=np.packbits(mask))

    @property
    def every(self) -> bool:
        """Whether the rows are ``0 .. size - 1``, held as nothing but their count."""
        return self.bitmap is None and self.indices is None

    @property
    def nbytes(self) -> int:
        """Bytes held."""
        stored = self.bitmap if self.bitmap is not None else self.indices
        return 0 if stored is None else int(stored.nbytes)

    @property
    def end(self) -> int:
        """A bound past the highest row index held."""
        if self.bitmap is not None:
            return int(self.bitmap.size) * 8
        if self.indices is not None:
            return int(self.indices[-1]) + 1 if self.indices.size else 0
        return self.size

    def rows(self, dtype: type = np.int64) -> np.ndarray:
        """The row indices, sorted, as ``dtype`` (which must hold them)."""
        if self.bitmap is not None:
            return np.flatnonzero(np.unpackbits(self.bitmap)).astype(dtype)  # padding bits are 0
        if self.indices is not None:
            return self.indices.astype(dtype)
        return np.arange(self.size, dtype=dtype)


class RowsSeen:
    """Sorted row indices arriving batch by batch, held only once they stop being ``0, 1, 2, ...``.

    Without a filter every row matches: a foreign writer's 5M-row group
    would otherwise hold 40 MB of indices to learn it needs none.
    """

    def __init__(self) -> None:
        self.size = 0
        self._parts: list[np.ndarray] | None = None

    def add(self, rows: np.ndarray) -> None:
        """The next batch's row indices (sorted, distinct, after those added before)."""
        if self._parts is None:
            if rows.size == 0 or (int(rows[0]) == self.size and int(rows[-1]) == self.size + rows.size - 1):
                self.size += int(rows.size)
                return
            self._parts = [np.arange(self.size, dtype=rows.dtype)]  # as narrow as the rows given
        self._parts.append(rows)
        self.size += int(rows.size)

    def listed(self) -> np.ndarray | None:
        """The rows seen as one array, or None when they are ``0 .. size - 1``."""
        return None if self._parts is None else np.concatenate(self._parts)

    def row_set(self) -> RowSet:
        """The rows seen, in their cheapest form."""
        return RowSet(self.size) if self._parts is None else RowSet.of(np.concatenate(self._parts))


_WIDTHS = (0, 1, 2, 4, 8, 16, 32)


@dataclass(frozen=True)
class PackedCodes:
    """Small non-negative integers (codes below ``distinct``) packed at the fewest bits that hold them.

    A piece holding one stratum needs no bits; up to 16 strata, 4 bits a row.
    """

    size: int
    bits: int
    data: np.ndarray

    @staticmethod
    def of(codes: np.ndarray, distinct: int) -> PackedCodes:
        """``codes`` (each in ``[0, distinct)``) packed."""
        need = max(0, distinct - 1).bit_length()
        bits = next(width for width in _WIDTHS if width >= need)
        size = int(codes.size)
        if bits == 0:
            return PackedCodes(size, 0, np.empty(0, dtype=np.uint8))
        if bits >= 8:
            return PackedCodes(size, bits, codes.astype(np.dtype(f"uint{bits}")))
        per = 8 // bits
        padded = np.zeros(-(-size // per) * per, dtype=np.uint8)
        padded[:size] = codes
        packed = padded[0::per].copy()
        for slot in range(1, per):
            packed |= padded[slot::per] << np.uint8(bits * slot)
        return PackedCodes(size, bits, packed)

    @property
    def nbytes(self) -> int:
        """Bytes held."""
        return int(self.data.nbytes)

    def codes(self) -> np.ndarray:
        """The codes, in order (unsigned integers)."""
        if self.bits == 0:
            return np.zeros(self.size, dtype=np.uint8)
        if self.bits >= 8:
            return self.data
        per = 8 // self.bits
        mask = np.uint8((1 << self.bits) - 1)
        grid = np.empty((self.data.size, per), dtype=np.uint8)
        for slot in range(per):
            grid[:, slot] = (self.data >> np.uint8(self.bits * slot)) & mask
        return grid.reshape(-1)[: self.size]
