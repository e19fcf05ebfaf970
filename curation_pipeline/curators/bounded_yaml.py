"""YAML read within bounds: curator files come from users, so their size is limited.

A curator catalogue is a few kilobytes. Left unbounded, a 513-byte file of
nested aliases (a "billion laughs") expands to 9**9 strings once anything
walks it (validation, error messages), and a deeply nested one overflows the
stack. :class:`BoundedSafeLoader` is PyYAML's safe loader with every such
amplification capped; what passes stays within a small multiple of
:data:`MAX_FILE_BYTES` however the result is walked.

PyYAML has no alias or depth limit of its own (its billion-laughs issue, #235,
has been open since 2018), and no other YAML library is a dependency, so the
composer counts. It is the one place that sees every alias together with the
node it repeats: the expansion is measured there before anything walks it.
Counting aliases alone would not do: that nine-level bomb has only 72 of them.
"""

from __future__ import annotations

from typing import Any

import yaml

from curation_pipeline.curators.errors import CuratorConfigError

#: The largest curator file read, in bytes (1 MiB: a catalogue of thousands of curators).
MAX_FILE_BYTES = 1 << 20
#: The most YAML nodes a file may hold, each alias counted as every node it repeats.
#: A curator is about 15 nodes, so this is thousands of curators; the bound keeps the
#: objects built from the file, and anything that walks them, small.
MAX_EXPANDED_NODES = 100_000
#: The most characters a file may hold, each alias counted as the text it repeats. The
#: node bound alone lets one long scalar be repeated 100,000 times (gigabytes once
#: printed); this one keeps the expanded text to four full-size files.
MAX_EXPANDED_CHARS = 4 * MAX_FILE_BYTES
#: The deepest nesting of collections, aliases expanded. A catalogue needs about 8
#: (curators, a curator, selectors, a selector, filters, a filter, a value); the bound
#: keeps every recursive walk of the result far from Python's recursion limit.
MAX_DEPTH = 32


class YamlLimitError(CuratorConfigError):
    """A YAML text exceeds one of this module's limits; ``line`` (1-based) is where, when known."""

    def __init__(self, problem: str, line: int | None = None):
        super().__init__(problem)
        self.line = line


def check_size(text: str) -> None:
    """Refuse ``text`` when, UTF-8 encoded, it is longer than :data:`MAX_FILE_BYTES`.

    Raises:
        YamlLimitError: naming the limit and the line where it is crossed.
    """
    # Never more characters than bytes: a text this long is too large without encoding it.
    head = text[: MAX_FILE_BYTES + 1].encode("utf-8", "surrogatepass")
    if len(head) > MAX_FILE_BYTES:
        raise too_large(head)


def too_large(head: bytes) -> YamlLimitError:
    """The error for a file whose first bytes ``head`` already exceed :data:`MAX_FILE_BYTES`."""
    line = head[:MAX_FILE_BYTES].count(b"\n") + 1
    return YamlLimitError(f"file is larger than {MAX_FILE_BYTES:,} bytes (limit MAX_FILE_BYTES)", line)


class BoundedSafeLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses, with a :class:`YamlLimitError`, a document nested
    deeper than :data:`MAX_DEPTH` or expanding (aliases repeated) beyond
    :data:`MAX_EXPANDED_NODES` nodes or :data:`MAX_EXPANDED_CHARS` characters.

    Aliases below the limits (``<<: *common`` merges, a shared selector list) work
    as usual; an alias to a node that contains it (an endless expansion) is refused.
    """

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._depth = 0  # nesting of the node being composed
        self._deepest = 0  # deepest level reached, aliases expanded, in the current subtree
        self._nodes = 0  # nodes so far, aliases expanded
        # Characters so far, aliases expanded: the text (when given as a str) plus what aliases add.
        self._chars = len(stream) if isinstance(stream, str) else 0
        # anchor -> (nodes, characters, height) of the node it names, aliases expanded.
        self._expanded: dict[str, tuple[int, int, int]] = {}

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            self._count_alias(event)
            return super().compose_node(parent, index)
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise self._limit(f"nested deeper than {MAX_DEPTH} levels (limit MAX_DEPTH)", event)
        outer_deepest, self._deepest = self._deepest, self._depth
        nodes, chars = self._nodes, self._chars
        self._add(1, 0, event)
        node = super().compose_node(parent, index)
        if event.anchor is not None:
            span = node.end_mark.index - node.start_mark.index
            self._expanded[event.anchor] = (
                self._nodes - nodes,
                span + self._chars - chars,
                self._deepest - self._depth + 1,
            )
        self._deepest = max(outer_deepest, self._deepest)
        self._depth -= 1
        return node

    def _count_alias(self, event: yaml.AliasEvent) -> None:
        anchor = event.anchor
        if anchor in self.anchors and anchor not in self._expanded:
            # Its node is still being composed: the alias sits inside it.
            raise self._limit(f"alias *{anchor} repeats a node that contains it (an endless expansion)", event)
        if anchor not in self._expanded:
            return  # undefined: PyYAML reports it
        nodes, chars, height = self._expanded[anchor]
        deepest = self._depth + height
        if deepest > MAX_DEPTH:
            raise self._limit(f"nested deeper than {MAX_DEPTH} levels (limit MAX_DEPTH) at alias *{anchor}", event)
        self._deepest = max(self._deepest, deepest)
        self._add(nodes, chars, event)

    def _add(self, nodes: int, chars: int, event: yaml.Event) -> None:
        self._nodes += nodes
        self._chars += chars
        at = f" at alias *{event.anchor}" if isinstance(event, yaml.AliasEvent) else ""
        if self._nodes > MAX_EXPANDED_NODES:
            problem = f"more than {MAX_EXPANDED_NODES:,} YAML nodes, each alias counted as the nodes it repeats"
            raise self._limit(f"{problem} (limit MAX_EXPANDED_NODES){at}", event)
        if self._chars > MAX_EXPANDED_CHARS:
            problem = f"more than {MAX_EXPANDED_CHARS:,} characters, each alias counted as the text it repeats"
            raise self._limit(f"{problem} (limit MAX_EXPANDED_CHARS){at}", event)

    @staticmethod
    def _limit(problem: str, event: yaml.Event) -> YamlLimitError:
        return YamlLimitError(problem, event.start_mark.line + 1)


def read_yaml(text: str) -> tuple[Any, yaml.Node | None]:
    """The data of the one YAML document in ``text`` and its node tree (for line numbers).

    Raises:
        YamlLimitError: ``text`` exceeds a limit of this module.
        yaml.YAMLError: ``text`` is not valid YAML.
        ValueError: a value PyYAML builds itself is invalid (a date such as ``2024-02-30``).
    """
    check_size(text)
    data = yaml.load(text, Loader=BoundedSafeLoader)  # a safe loader, bounded
    # Composed again: constructing merges (`<<:`) rewrites the nodes, and the
    # duplicate-key check needs the keys as written.
    root = yaml.compose(text, Loader=BoundedSafeLoader)
    return data, root
