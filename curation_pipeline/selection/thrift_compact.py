"""The Thrift compact protocol, as far as Parquet footers and page indexes need it.

Parquet stores its footer (``FileMetaData``) and page indexes in this
encoding. pyarrow parses them but does not expose the page index, so
:mod:`curation_pipeline.selection.parquet_pages` reads it here, and writes
small footers of its own. Only what that needs is here: walking a struct's
fields, skipping values, reading integers, and writing fields back, either
fresh or as raw bytes copied from another footer.
"""

from __future__ import annotations

from curation_pipeline.selection.errors import SelectionError

# Compact-protocol type codes.
BOOL_TRUE = 1
BOOL_FALSE = 2
BYTE = 3
I16 = 4
I32 = 5
I64 = 6
DOUBLE = 7
BINARY = 8
LIST = 9
SET = 10
MAP = 11
STRUCT = 12

_INTEGERS = (I16, I32, I64)


class ThriftError(SelectionError, ValueError):
    """Bytes that are not the compact-protocol structure expected.

    The page-wise reader catches it and falls back to whole row groups; it
    derives from the selection error root in case a future caller lets it out.
    """


def read_varint(data: bytes, pos: int) -> tuple[int, int]:
    """The unsigned LEB128 integer at ``pos``, and the position after it."""
    result = 0
    shift = 0
    try:
        while True:
            byte = data[pos]
            pos += 1
            result |= (byte & 0x7F) << shift
            if byte < 0x80:
                return result, pos
            shift += 7
            if shift > 70:
                raise ThriftError("varint longer than 10 bytes")
    except IndexError:
        raise ThriftError("truncated varint") from None


def read_int(data: bytes, pos: int) -> tuple[int, int]:
    """The zigzag-encoded signed integer (i16, i32 or i64) at ``pos``."""
    raw, pos = read_varint(data, pos)
    return (raw >> 1) ^ -(raw & 1), pos


class FieldWalker:
    """Iterates the fields of one struct, tracking the read position.

    ``for field_id, type_ in walker:`` leaves ``walker.pos`` at the field's
    value; the caller reads it with the ``read_*`` methods or calls
    :meth:`skip`. After the loop, ``walker.pos`` is just past the struct.
    """

    __slots__ = ("data", "pos", "_last", "_pending")

    def __init__(self, data: bytes, pos: int) -> None:
        self.data = data
        self.pos = pos
        self._last = 0
        self._pending: int | None = None  # type of a value not consumed yet

    def __iter__(self) -> FieldWalker:
        return self

    def __next__(self) -> tuple[int, int]:
        if self._pending is not None:
            self.skip()
        try:
            field_id, type_, self.pos = field_header(self.data, self.pos, self._last)
        except IndexError:
            raise ThriftError("truncated struct") from None
        if type_ == 0:
            raise StopIteration
        self._last = field_id
        # A boolean's value is its type code: nothing left to consume.
        self._pending = None if type_ in (BOOL_TRUE, BOOL_FALSE) else type_
        return field_id, type_

    def skip(self) -> None:
        """Skip the current field's value."""
        if self._pending is not None:
            self.pos = skip_value(self.data, self.pos, self._pending)
            self._pending = None

    def read_int(self) -> int:
        """The current field's value, an i16/i32/i64."""
        if self._pending not in _INTEGERS:
            raise ThriftError(f"expected an integer field, found type {self._pending}")
        value, self.pos = read_int(self.data, self.pos)
        self._pending = None
        return value

    def raw(self) -> tuple[int, int]:
        """``(start, end)`` of the current field's value bytes, skipping them."""
        start = self.pos
        self.skip()
        return start, self.pos

    def list_header(self) -> tuple[int, int]:
        """``(size, element type)`` of the current field's list; ``pos`` moves to its first element."""
        if self._pending not in (LIST, SET):
            raise ThriftError(f"expected a list field, found type {self._pending}")
        size, element, self.pos = read_list_header(self.data, self.pos)
        self._pending = None
        return size, element

    def enter(self) -> FieldWalker:
        """A walker over the current field's struct value; resume this one at its ``pos`` after."""
        if self._pending != STRUCT:
            raise ThriftError(f"expected a struct field, found type {self._pending}")
        self._pending = None
        return FieldWalker(self.data, self.pos)


def field_header(data: bytes, pos: int, last: int) -> tuple[int, int, int]:
    """``(field id, type, position of the value)`` of the field header at ``pos``; type 0 ends the struct.

    ``last`` is the previous field's id (0 at the struct's start). A
    boolean field's value is its type (:data:`BOOL_TRUE` / :data:`BOOL_FALSE`).
    """
    header = data[pos]
    pos += 1
    if header == 0:
        return last, 0, pos
    delta = header >> 4
    if delta:
        return last + delta, header & 0x0F, pos
    field_id, pos = read_int(data, pos)
    return field_id, header & 0x0F, pos


def read_list_header(data: bytes, pos: int) -> tuple[int, int, int]:
    """``(size, element type, position of the first element)`` of the list at ``pos``."""
    try:
        header = data[pos]
    except IndexError:
        raise ThriftError("truncated list") from None
    pos += 1
    size = header >> 4
    if size == 15:
        size, pos = read_varint(data, pos)
    return size, header & 0x0F, pos


def skip_value(data: bytes, pos: int, type_: int) -> int:
    """The position just past the value of type ``type_`` at ``pos``."""
    if type_ == STRUCT:
        return skip_struct(data, pos)
    if type_ in _INTEGERS:
        while data[pos] & 0x80:
            pos += 1
        return pos + 1
    if type_ == BINARY:
        length, pos = read_varint(data, pos)
        return pos + length
    if type_ in (BOOL_TRUE, BOOL_FALSE):
        return pos
    if type_ == BYTE:
        return pos + 1
    if type_ == DOUBLE:
        return pos + 8
    if type_ in (LIST, SET):
        size, element, pos = read_list_header(data, pos)
        if element in (BOOL_TRUE, BOOL_FALSE, BYTE):
            return pos + size  # one byte each (booleans in a list included)
        if element == DOUBLE:
            return pos + 8 * size
        if element in _INTEGERS:  # histograms and null counts: long lists of varints
            for _ in range(size):
                while data[pos] & 0x80:
                    pos += 1
                pos += 1
            return pos
        if element == STRUCT:
            for _ in range(size):
                pos = skip_struct(data, pos)
            return pos
        for _ in range(size):
            pos = skip_value(data, pos, element)
        return pos
    if type_ == MAP:
        size, pos = read_varint(data, pos)
        if size == 0:
            return pos
        kinds = data[pos]
        pos += 1
        for _ in range(size):
            pos = skip_value(data, pos, kinds >> 4)
            pos = skip_value(data, pos, kinds & 0x0F)
        return pos
    raise ThriftError(f"unknown compact type {type_}")


def skip_struct(data: bytes, pos: int) -> int:
    """The position just past the struct at ``pos``.

    Footers are mostly integers and strings inside structs: those are
    skipped inline here, one call per struct rather than one per field
    (a 16-row-group footer holds some ten thousand fields).
    """
    try:
        while True:
            header = data[pos]
            pos += 1
            if header == 0:
                return pos
            if not header & 0xF0:  # long-form field id follows
                while data[pos] & 0x80:
                    pos += 1
                pos += 1
            type_ = header & 0x0F
            if type_ in _INTEGERS:
                while data[pos] & 0x80:
                    pos += 1
                pos += 1
            elif type_ == BINARY:
                length = shift = 0
                while True:
                    byte = data[pos]
                    pos += 1
                    length |= (byte & 0x7F) << shift
                    if byte < 0x80:
                        break
                    shift += 7
                pos += length
            elif type_ not in (BOOL_TRUE, BOOL_FALSE):
                pos = skip_value(data, pos, type_)
    except IndexError:
        raise ThriftError("truncated struct") from None


class StructWriter:
    """Writes one struct's fields, in increasing field-id order, into ``out``."""

    __slots__ = ("out", "_last")

    def __init__(self, out: bytearray) -> None:
        self.out = out
        self._last = 0

    @property
    def last_field(self) -> int:
        """The id of the field written last (0 before the first)."""
        return self._last

    def _header(self, field_id: int, type_: int) -> None:
        delta = field_id - self._last
        if 0 < delta <= 15:
            self.out.append((delta << 4) | type_)
        else:
            self.out.append(type_)
            write_int(self.out, field_id)
        self._last = field_id

    def int_field(self, field_id: int, type_: int, value: int) -> None:
        """An i16/i32/i64 field."""
        self._header(field_id, type_)
        write_int(self.out, value)

    def raw_field(self, field_id: int, type_: int, value: bytes | memoryview) -> None:
        """A field whose value bytes come ready-encoded (e.g. copied from another footer)."""
        self._header(field_id, type_)
        self.out += value

    def struct_field(self, field_id: int) -> StructWriter:
        """Open a struct-valued field; write its fields, then call :meth:`end` on the result."""
        self._header(field_id, STRUCT)
        return StructWriter(self.out)

    def list_field(self, field_id: int, element_type: int, size: int) -> None:
        """Open a list-valued field of ``size`` elements; the caller writes the elements."""
        self._header(field_id, LIST)
        write_list_header(self.out, element_type, size)

    def end(self) -> None:
        """Close the struct."""
        self.out.append(0)


def write_varint(out: bytearray, value: int) -> None:
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)


def write_int(out: bytearray, value: int) -> None:
    """A zigzag-encoded signed 64-bit integer."""
    write_varint(out, ((value << 1) ^ (value >> 63)) & 0xFFFFFFFFFFFFFFFF)


def write_list_header(out: bytearray, element_type: int, size: int) -> None:
    if size < 15:
        out.append((size << 4) | element_type)
    else:
        out.append(0xF0 | element_type)
        write_varint(out, size)
