"""Reading a few rows of a Parquet row group without decoding all of it.

pyarrow decodes a row group's column chunks whole: to take 3 rows of a
65,536-row group it decompresses and decodes all 65,536. Files that carry a
page index (the stream writes one, and so do most recent writers) say where
each data page starts and which rows it holds. :class:`PagedFile` copies the
pages that hold the wanted rows (plus each chunk's dictionary page) into a
small in-memory Parquet file with a footer of its own, lets pyarrow decode
that, and takes the rows from it. The bytes of the pages are copied, never
re-encoded, so values come out exactly as the whole-group read gives them.

Only flat schemas (one leaf column per field, nothing repeated) in
unencrypted files are handled; :meth:`PagedFile.open` returns None for
anything else, and :meth:`PagedFile.take` returns None when the pages needed
hold most of the group anyway. Callers then read the group whole.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from curation_pipeline.selection import thrift_compact as tc

_MAGIC = b"PAR1"

# Above this share of a row group's rows, decoding the group whole is as
# cheap as decoding the pages (pyarrow's cost per page and per chunk adds up).
WORTH_IT = 0.6
# Pages are assumed to hold at least this many rows when judging, before
# reading any footer, whether a page-wise read can pay (see worth_paging).
_MIN_PAGE_ROWS = 2048

# FileMetaData fields copied into the small footers, by field id: version,
# schema, key/value metadata (the Arrow schema), created_by, column orders.
_FILE_VERSION, _FILE_SCHEMA, _FILE_KEY_VALUES, _FILE_CREATED_BY, _FILE_COLUMN_ORDERS = 1, 2, 5, 6, 7
_FILE_ROW_GROUPS = 4
_FILE_ENCRYPTION = (8, 9)
# ColumnMetaData fields copied as they are: type, encodings, path, codec, key/value metadata.
_COLUMN_COPIED = (1, 2, 3, 4, 8)


def worth_paging(rows: np.ndarray, num_rows: int) -> bool:
    """Whether rows at sorted indices ``rows`` may sit in few enough pages to read page-wise.

    For callers deciding whether to open a file's page index at all;
    :meth:`PagedFile.take` then judges by the index itself. Judged without
    the index: the 2,048-row blocks the rows fall in are a lower bound of
    what their pages cover, if no page is smaller. Winners spread over a
    whole group (k=10,000 of a day) fail this at once, so they cost no
    footer parsing.
    """
    if not rows.size:
        return False
    blocks = np.unique(rows // _MIN_PAGE_ROWS).size
    return blocks * _MIN_PAGE_ROWS <= WORTH_IT * num_rows


@dataclass(frozen=True)
class _Chunk:
    """What the footer says of one column chunk."""

    copied: tuple[tuple[int, int, bytes], ...]  # (field id, type, raw value) of _COLUMN_COPIED
    dictionary_offset: int | None
    index_offset: int
    index_length: int


@dataclass(frozen=True)
class _Pages:
    """A column chunk's data pages: file offsets, sizes (header included), first rows."""

    offsets: np.ndarray
    sizes: np.ndarray
    first_rows: np.ndarray


@dataclass(frozen=True)
class _Footer:
    """What the small footers copy from the file's ``FileMetaData``."""

    version: tuple[int, bytes]
    schema_root: list[tuple[int, int, bytes]]  # the root SchemaElement's fields but num_children
    schema_leaves: list[bytes]
    key_values: tuple[int, bytes] | None
    created_by: tuple[int, bytes] | None
    column_orders: list[bytes] | None
    row_groups: list[tuple[int, list[_Chunk]]]  # (rows, chunks)


class PagedFile:
    """One Parquet file with a page index, read page-wise. Safe to share between threads."""

    def __init__(self, filesystem: pafs.FileSystem, path: str, footer: _Footer, names: list[str]) -> None:
        self._filesystem = filesystem
        self._path = path
        self._footer = footer
        self._names = names
        self._lock = threading.Lock()
        self._index_block: tuple[int, bytes] | None = None
        self._pages: dict[tuple[int, int], _Pages] = {}

    @classmethod
    def open(cls, filesystem: pafs.FileSystem, path: str, metadata: pq.FileMetaData) -> PagedFile | None:
        """``path`` ready for page-wise reads, or None when it has no usable page index.

        ``metadata`` is the footer pyarrow already parsed (for the schema
        checks); the footer's bytes are read once more here for what pyarrow
        does not expose.
        """
        schema = metadata.schema
        names = metadata.schema.to_arrow_schema().names
        if len(names) != len(schema) or any(schema.column(i).max_repetition_level for i in range(len(schema))):
            return None  # nested or repeated columns: pages do not map to rows one to one
        if metadata.num_row_groups == 0:
            return None
        with filesystem.open_input_file(path) as file:
            size = file.size()
            length = metadata.serialized_size
            if length + 12 > size:
                return None
            tail = file.read_at(length + 8, size - length - 8)
        if tail[-4:] != _MAGIC or int.from_bytes(tail[-8:-4], "little") != length:
            return None  # encrypted footer ("PARE") or a footer we do not recognise
        try:
            footer = _parse_footer(tail[:-8], len(names))
        except (tc.ThriftError, IndexError):
            return None
        if footer is None or len(footer.row_groups) != metadata.num_row_groups:
            return None
        return cls(filesystem, path, footer, names)

    def take(self, row_group: int, rows: np.ndarray, read_dictionary: Sequence[str] = ()) -> pa.Table | None:
        """The rows at sorted indices ``rows`` of ``row_group``, every column; None if not worth it.

        Columns in ``read_dictionary`` come back dictionary-encoded, as
        ``pq.ParquetFile(read_dictionary=...)`` gives them.
        """
        num_rows, chunks = self._footer.row_groups[row_group]
        if not rows.size or int(rows[-1]) >= num_rows or int(rows[0]) < 0:
            return None
        try:
            # One column's pages first: where columns share page boundaries (the
            # stream's files), they tell whether reading page-wise pays at all.
            first = self._page_locations(row_group, 0)
            plan_of = {first.first_rows.tobytes(): _plan(first, rows, num_rows)}
            if next(iter(plan_of.values())).rows > WORTH_IT * num_rows:
                return None
            pages = [self._page_locations(row_group, column) for column in range(len(chunks))]
        except (tc.ThriftError, IndexError):
            return None  # an offset index we cannot read: the whole-group read still can
        # Columns whose pages start at the same rows share one small file.
        groups: dict[bytes, list[int]] = {}
        for column, located in enumerate(pages):
            groups.setdefault(located.first_rows.tobytes(), []).append(column)
        for boundaries, columns in groups.items():
            if boundaries not in plan_of:
                plan_of[boundaries] = _plan(pages[columns[0]], rows, num_rows)
        plans = [plan_of[boundaries] for boundaries in groups]
        decoded = sum(len(columns) * plan.rows for columns, plan in zip(groups.values(), plans))
        if decoded > WORTH_IT * num_rows * len(chunks):
            return None  # a column in one big page is decoded whole, and that is fine if others are not
        spans = [
            span
            for columns, plan in zip(groups.values(), plans)
            for column in columns
            for span in self._spans(chunks[column], pages[column], plan.pages)
        ]
        if any(end <= start for start, end in spans):
            return None  # a dictionary page after the data pages, or an empty page: not a layout we copy
        low = min(start for start, _ in spans)
        high = max(end for _, end in spans)
        with self._filesystem.open_input_file(self._path) as file:
            blob = file.read_at(high - low, low)
        if len(blob) != high - low:
            return None  # the file shrank under us: let the whole-group read report it
        taken: dict[int, pa.ChunkedArray] = {}
        wanted = set(read_dictionary)
        for columns, plan in zip(groups.values(), plans):
            data = self._small_file(columns, chunks, pages, plan, blob, low)
            names = [self._names[column] for column in columns]
            try:
                reader = pq.ParquetFile(pa.BufferReader(data), read_dictionary=[n for n in names if n in wanted])
                table = reader.read(use_threads=False)
            except (pa.ArrowException, OSError):
                return None  # pages that do not decode: the whole-group read reports what is wrong
            if table.num_rows != plan.rows:
                return None  # the index disagrees with the pages: trust the whole-group read
            picked = table.take(pa.array(plan.positions))
            for index, column in enumerate(columns):
                taken[column] = picked.column(index)
        return pa.table([taken[column] for column in range(len(chunks))], names=self._names)

    # -- the page index ---------------------------------------------------------

    def _page_locations(self, row_group: int, column: int) -> _Pages:
        key = (row_group, column)
        found = self._pages.get(key)
        if found is None:
            chunk = self._footer.row_groups[row_group][1][column]
            start, block = self._index()
            offset = chunk.index_offset - start
            found = _parse_offset_index(block[offset : offset + chunk.index_length])
            self._pages[key] = found
        return found

    def _index(self) -> tuple[int, bytes]:
        """Every offset index of the file, read in one go (they sit together before the footer)."""
        with self._lock:
            if self._index_block is None:
                chunks = [chunk for _, row in self._footer.row_groups for chunk in row]
                start = min(chunk.index_offset for chunk in chunks)
                end = max(chunk.index_offset + chunk.index_length for chunk in chunks)
                with self._filesystem.open_input_file(self._path) as file:
                    self._index_block = (start, file.read_at(end - start, start))
            return self._index_block

    # -- the small file ----------------------------------------------------------

    @staticmethod
    def _spans(chunk: _Chunk, pages: _Pages, wanted: np.ndarray) -> list[tuple[int, int]]:
        spans = [(int(pages.offsets[p]), int(pages.offsets[p] + pages.sizes[p])) for p in wanted]
        if chunk.dictionary_offset is not None:
            spans.append((chunk.dictionary_offset, int(pages.offsets[0])))
        return spans

    def _small_file(
        self,
        columns: list[int],
        chunks: list[_Chunk],
        pages: list[_Pages],
        plan: _Plan,
        blob: bytes,
        low: int,
    ) -> bytes:
        """A one-row-group Parquet file of ``columns``, holding only the pages of ``plan``."""
        body = bytearray(_MAGIC)
        placed = []
        for column in columns:
            chunk, located = chunks[column], pages[column]
            start = len(body)
            dictionary = None
            if chunk.dictionary_offset is not None:
                dictionary = start
                body += blob[chunk.dictionary_offset - low : int(located.offsets[0]) - low]
            data_start = len(body)
            for page in plan.pages:
                offset = int(located.offsets[page]) - low
                body += blob[offset : offset + int(located.sizes[page])]
            placed.append((chunk, start, dictionary, data_start, len(body) - start))
        footer = _encode_footer(self._footer, columns, plan.rows, placed)
        body += footer
        body += len(footer).to_bytes(4, "little")
        body += _MAGIC
        return bytes(body)


@dataclass(frozen=True)
class _Plan:
    """The pages holding the wanted rows, and where each wanted row lands among them."""

    pages: np.ndarray
    rows: int
    positions: np.ndarray


def _plan(pages: _Pages, rows: np.ndarray, num_rows: int) -> _Plan:
    page_of_row = np.searchsorted(pages.first_rows, rows, side="right") - 1
    wanted, slot = np.unique(page_of_row, return_inverse=True)
    lengths = np.diff(np.append(pages.first_rows, num_rows))[wanted]
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    positions = starts[slot] + (rows - pages.first_rows[page_of_row])
    return _Plan(wanted, int(lengths.sum()), positions)


def _parse_offset_index(data: bytes) -> _Pages:
    """An ``OffsetIndex``: its page locations, as three arrays.

    Written out rather than through :class:`thrift_compact.FieldWalker`: this
    runs for every column of every row group holding a winner.
    """
    values: list[int] = []
    pos = 0
    field_id = 0
    while True:
        field_id, type_, pos = tc.field_header(data, pos, field_id)
        if type_ == 0:
            break
        if field_id != 1 or type_ != tc.LIST:
            pos = tc.skip_value(data, pos, type_)
            continue
        count, element, pos = tc.read_list_header(data, pos)
        if element != tc.STRUCT:
            raise tc.ThriftError("page locations are not structs")
        for _ in range(count):
            found = [0, 0, 0, 0]  # PageLocation: 1 offset, 2 compressed_page_size, 3 first_row_index
            inner = 0
            while True:
                inner, kind, pos = tc.field_header(data, pos, inner)
                if kind == 0:
                    break
                if kind in (tc.I32, tc.I64) and 1 <= inner <= 3:
                    found[inner], pos = tc.read_int(data, pos)
                else:
                    pos = tc.skip_value(data, pos, kind)
            values += found[1:]
    offsets, sizes, first_rows = values[0::3], values[1::3], values[2::3]
    if not offsets or first_rows[0] != 0 or any(b <= a for a, b in zip(first_rows, first_rows[1:])):
        raise tc.ThriftError("offset index without pages, or pages out of order")
    if min(sizes) <= 0:
        raise tc.ThriftError("offset index with an empty page")
    return _Pages(np.array(offsets, np.int64), np.array(sizes, np.int64), np.array(first_rows, np.int64))


# -- the footer ---------------------------------------------------------------------


def _parse_footer(data: bytes, leaves: int) -> _Footer | None:
    """What the small footers need of ``FileMetaData``; None when the file is not eligible."""
    fields: dict[int, tuple[int, bytes]] = {}
    row_groups: list[tuple[int, list[_Chunk]]] = []
    schema: tuple[list[tuple[int, int, bytes]], list[bytes]] | None = None
    column_orders: list[bytes] | None = None
    walker = tc.FieldWalker(data, 0)
    for field_id, type_ in walker:
        if field_id in _FILE_ENCRYPTION:
            return None
        if field_id == _FILE_ROW_GROUPS:
            count, _ = walker.list_header()
            for _ in range(count):
                inner = tc.FieldWalker(data, walker.pos)
                parsed = _parse_row_group(inner, leaves)
                walker.pos = inner.pos
                if parsed is None:
                    return None
                row_groups.append(parsed)
        elif field_id == _FILE_SCHEMA:
            schema = _parse_schema(walker)
        elif field_id == _FILE_COLUMN_ORDERS:
            column_orders = _list_elements(walker)
        elif field_id in (_FILE_VERSION, _FILE_KEY_VALUES, _FILE_CREATED_BY):
            start, end = walker.raw()
            fields[field_id] = (type_, data[start:end])
    if schema is None or _FILE_VERSION not in fields or len(schema[1]) != leaves:
        return None
    if column_orders is not None and len(column_orders) != leaves:
        return None
    return _Footer(
        version=fields[_FILE_VERSION],
        schema_root=schema[0],
        schema_leaves=schema[1],
        key_values=fields.get(_FILE_KEY_VALUES),
        created_by=fields.get(_FILE_CREATED_BY),
        column_orders=column_orders,
        row_groups=row_groups,
    )


def _parse_schema(walker: tc.FieldWalker) -> tuple[list[tuple[int, int, bytes]], list[bytes]]:
    """The root element's fields (but num_children) and each leaf element's raw bytes."""
    data = walker.data
    count, _ = walker.list_header()
    root = tc.FieldWalker(data, walker.pos)
    root_fields = []
    for field_id, type_ in root:
        start, end = root.raw()
        if field_id != 5:  # num_children, rewritten for the columns a small file holds
            root_fields.append((field_id, type_, data[start:end]))
    pos = root.pos
    leaves = []
    for _ in range(count - 1):
        end = tc.skip_value(data, pos, tc.STRUCT)
        leaves.append(data[pos:end])
        pos = end
    walker.pos = pos
    return root_fields, leaves


def _list_elements(walker: tc.FieldWalker) -> list[bytes]:
    data = walker.data
    count, element = walker.list_header()
    items = []
    pos = walker.pos
    for _ in range(count):
        end = tc.skip_value(data, pos, element)
        items.append(data[pos:end])
        pos = end
    walker.pos = pos
    return items


def _parse_row_group(walker: tc.FieldWalker, leaves: int) -> tuple[int, list[_Chunk]] | None:
    rows = None
    chunks: list[_Chunk] = []
    for field_id, _ in walker:
        if field_id == 1:
            count, _ = walker.list_header()
            pos = walker.pos
            for _ in range(count):
                chunk, pos = _parse_chunk(walker.data, pos)
                if chunk is None:
                    return None
                chunks.append(chunk)
            walker.pos = pos
        elif field_id == 3:
            rows = walker.read_int()
    if rows is None or len(chunks) != leaves:
        return None
    return rows, chunks


# ColumnChunk and ColumnMetaData are parsed with tc.field_header directly, not
# a FieldWalker: a footer holds one of each per row group and column.


def _parse_chunk(data: bytes, pos: int) -> tuple[_Chunk | None, int]:
    """One ColumnChunk, and the position after it.

    The chunk is None if its data lives in another file, is encrypted, or
    has no offset index.
    """
    meta = None
    index_offset = index_length = None
    eligible = True
    field_id = 0
    while True:
        field_id, type_, pos = tc.field_header(data, pos, field_id)
        if type_ == 0:
            break
        if field_id == 3 and type_ == tc.STRUCT:
            meta, pos = _parse_column_meta(data, pos)
        elif field_id in (4, 5) and type_ in (tc.I32, tc.I64):
            value, pos = tc.read_int(data, pos)
            if field_id == 4:
                index_offset = value
            else:
                index_length = value
        else:
            if field_id in (1, 8, 9):  # file_path (data in another file), crypto metadata
                eligible = False
            pos = tc.skip_value(data, pos, type_)
    if not eligible or meta is None or index_offset is None or not index_length:
        return None, pos
    return _Chunk(meta[0], meta[1], index_offset, index_length), pos


def _parse_column_meta(data: bytes, pos: int) -> tuple[tuple[tuple[tuple[int, int, bytes], ...], int | None], int]:
    """ColumnMetaData's fields copied as they are, the dictionary page's offset if any; position after."""
    copied = []
    dictionary_offset = None
    field_id = 0
    while True:
        field_id, type_, pos = tc.field_header(data, pos, field_id)
        if type_ == 0:
            break
        if field_id in _COLUMN_COPIED:
            end = tc.skip_value(data, pos, type_)
            copied.append((field_id, type_, data[pos:end]))
            pos = end
        elif field_id == 11 and type_ == tc.I64:
            dictionary_offset, pos = tc.read_int(data, pos)
        else:
            pos = tc.skip_value(data, pos, type_)
    # A dictionary page sits at the chunk's start, up to the first data page
    # (whose offset the offset index gives, as data_page_offset would).
    return (tuple(copied), dictionary_offset or None), pos


def _encode_footer(footer: _Footer, columns: list[int], rows: int, placed: list) -> bytes:
    """``FileMetaData`` for a small file of ``columns``, one row group of ``rows`` rows."""
    out = bytearray()
    meta = tc.StructWriter(out)
    meta.raw_field(_FILE_VERSION, *footer.version)
    whole = len(columns) == len(footer.schema_leaves)
    # Schema: the root with its child count, then the leaves kept.
    meta.list_field(_FILE_SCHEMA, tc.STRUCT, len(columns) + 1)
    root = tc.StructWriter(out)
    for field_id, type_, value in footer.schema_root:
        if field_id > 5 and root.last_field < 5:
            root.int_field(5, tc.I32, len(columns))
        root.raw_field(field_id, type_, value)
    if root.last_field < 5:
        root.int_field(5, tc.I32, len(columns))
    root.end()
    for column in columns:
        out += footer.schema_leaves[column]
    meta.int_field(3, tc.I64, rows)
    meta.list_field(_FILE_ROW_GROUPS, tc.STRUCT, 1)
    group = tc.StructWriter(out)
    group.list_field(1, tc.STRUCT, len(placed))
    total = 0
    for chunk, start, dictionary, data_start, length in placed:
        column_chunk = tc.StructWriter(out)
        column_chunk.int_field(2, tc.I64, start)
        column_meta = column_chunk.struct_field(3)
        for field_id, type_, value in chunk.copied:
            if field_id == 8:
                _write_sizes(column_meta, rows, length)
            column_meta.raw_field(field_id, type_, value)
        if column_meta.last_field < 5:
            _write_sizes(column_meta, rows, length)
        column_meta.int_field(9, tc.I64, data_start)
        if dictionary is not None:
            column_meta.int_field(11, tc.I64, dictionary)
        column_meta.end()
        column_chunk.end()
        total += length
    group.int_field(2, tc.I64, total)
    group.int_field(3, tc.I64, rows)
    group.end()
    # The Arrow schema in the key/value metadata describes every column: keep
    # it only when the small file has them all (types then come from Parquet's own).
    if whole and footer.key_values is not None:
        meta.raw_field(_FILE_KEY_VALUES, *footer.key_values)
    if footer.created_by is not None:
        meta.raw_field(_FILE_CREATED_BY, *footer.created_by)
    if footer.column_orders is not None:
        meta.list_field(_FILE_COLUMN_ORDERS, tc.STRUCT, len(columns))
        for column in columns:
            out += footer.column_orders[column]
    meta.end()
    return bytes(out)


def _write_sizes(column_meta: tc.StructWriter, rows: int, length: int) -> None:
    """num_values (rows: flat columns only), total uncompressed and compressed sizes."""
    column_meta.int_field(5, tc.I64, rows)
    # The uncompressed size is not known without reading page headers; readers
    # use the compressed size to find the chunk, so the same figure stands in.
    column_meta.int_field(6, tc.I64, length)
    column_meta.int_field(7, tc.I64, length)
