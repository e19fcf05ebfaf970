"""Hostile curator input is refused within bounds, always as a located CuratorConfigError.

Alias bombs, deep nesting, oversized files, strings where Gantry wants integers,
and text that is not Unicode: each is refused quickly, with the limit or rule
named, never as a raw exception or a runaway expansion.
"""

from __future__ import annotations

import os
import time
import tracemalloc
from pathlib import Path

import pytest
from click.testing import CliRunner

from curation_pipeline.cli import main
from curation_pipeline.curators import (
    AscendedSortCurator,
    Curator,
    CuratorConfigError,
    CuratorFileError,
    NewestCurator,
    Selector,
    UniformCurator,
    load_curators,
    load_curators_text,
)
from curation_pipeline.curators.bounded_yaml import (
    MAX_DEPTH,
    MAX_EXPANDED_CHARS,
    MAX_EXPANDED_NODES,
    MAX_FILE_BYTES,
)


def billion_laughs() -> str:
    """Nine levels of nine aliases: about 300 bytes whose last item expands to 9**9 strings.

    Every item is a list, so each is reported as "not a mapping", with its value:
    unbounded, that report alone is gigabytes long.
    """
    lines = ["curators:", "  - &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"  - &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, 9)]
    return "\n".join(lines) + "\n"


BOMB = billion_laughs()


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.delenv("CURATION_CURATORS_FILE", raising=False)
    return CliRunner()


def only_problem(text: str, source: str = "cat.yaml") -> str:
    with pytest.raises(CuratorFileError) as caught:
        load_curators_text(text, source=source)
    assert isinstance(caught.value, CuratorConfigError)
    assert len(caught.value.problems) == 1, caught.value
    return str(caught.value.problems[0])


# --- alias expansion -----------------------------------------------------------------


def test_alias_bomb_is_refused_quickly_in_little_memory(tmp_path: Path) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(BOMB)
    assert path.stat().st_size < 513
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(CuratorFileError) as caught:
            load_curators(path)
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert elapsed < 5
    assert peak < 50 * 2**20
    message = str(caught.value)
    assert len(message) < 1000
    # Line 7 holds l5, the first level whose aliases pass 100,000 nodes (9**6 > 10**5 > 9**5).
    assert message.splitlines()[1] == (
        f"  {path}:7: more than {MAX_EXPANDED_NODES:,} YAML nodes, each alias counted as the nodes it repeats "
        "(limit MAX_EXPANDED_NODES) at alias *l4"
    )


def test_alias_bomb_through_the_cli_gives_the_bounded_error(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(BOMB)
    started = time.perf_counter()
    result = runner.invoke(main, ["curators", "validate", str(path)])
    assert time.perf_counter() - started < 5
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert len(result.output) < 1000
    assert f"{path}:7: more than {MAX_EXPANDED_NODES:,} YAML nodes" in result.output
    assert "(limit MAX_EXPANDED_NODES)" in result.output


def test_a_long_scalar_repeated_by_aliases_is_bounded_by_characters() -> None:
    # Few nodes (10 + 10 + 10 + 1), but 1,000 copies of 10,000 characters.
    text = f'curators: [&a "{"x" * 10_000}",\n'
    text += "  &b [" + ", ".join(["*a"] * 10) + "],\n"
    text += "  &c [" + ", ".join(["*b"] * 10) + "],\n"
    text += "  &d [" + ", ".join(["*c"] * 10) + "]]\n"
    problem = only_problem(text)
    assert problem.startswith(f"cat.yaml:4: more than {MAX_EXPANDED_CHARS:,} characters, each alias counted")
    assert "(limit MAX_EXPANDED_CHARS) at alias *c" in problem


def test_an_alias_inside_its_own_anchor_is_refused() -> None:
    assert only_problem("curators: &loop\n  - *loop\n") == (
        "cat.yaml:2: alias *loop repeats a node that contains it (an endless expansion)"
    )


def test_anchors_aliases_and_merges_below_the_limits_work() -> None:
    text = """\
curators:
  - &base {type: UniformCurator, name: a, application_name: demo, limit: 5, curation_interval: 6h}
  - {<<: *base, name: b}
  - <<: *base
    name: c
    limit: 7
  - type: Curator
    name: d
    application_name: demo
    selectors: &shared
      - {limit: 3, tags: [{name: env, value: prod}]}
  - {type: Curator, name: e, application_name: demo, selectors: *shared}
"""
    a, b, c, d, e = load_curators_text(text)
    assert b == UniformCurator("b", "demo", 5, curation_interval="6h")
    assert (c.name, c.limit, c.curation_interval) == ("c", 7, a.curation_interval)
    assert d.selectors == e.selectors


def test_many_merges_of_one_block_stay_below_the_limits() -> None:
    items = [f"  - {{<<: *base, name: c{i}}}" for i in range(1, 500)]
    text = "curators:\n  - &base {type: NewestCurator, name: c0, application_name: demo, limit: 5}\n"
    curators = load_curators_text(text + "\n".join(items) + "\n")
    assert len(curators) == 500
    assert curators[-1] == NewestCurator("c499", "demo", 5)


# --- nesting -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("curators: " + "[" * 5000 + "]" * 5000 + "\n", 1),
        ("curators: " + "{a: " * 5000 + "b" + "}" * 5000 + "\n", 1),
        ("curators:\n" + "".join("  " * i + "-\n" for i in range(1, 100)), MAX_DEPTH + 1),
    ],
    ids=["flow-sequences", "flow-mappings", "block-sequences"],
)
def test_deep_nesting_is_refused_not_a_recursion_error(text: str, line: int) -> None:
    assert only_problem(text) == f"cat.yaml:{line}: nested deeper than {MAX_DEPTH} levels (limit MAX_DEPTH)"


def test_nesting_built_from_aliases_counts_the_expanded_depth() -> None:
    # Each anchor nests the previous one 20 levels deeper: 60 lines, 1,200 levels expanded.
    inner = "x"
    lines = []
    for i in range(60):
        lines.append(f"  - &d{i} " + "[" * 20 + inner + "]" * 20)
        inner = f"*d{i}"
    problem = only_problem("curators:\n" + "\n".join(lines) + "\n")
    assert problem == f"cat.yaml:3: nested deeper than {MAX_DEPTH} levels (limit MAX_DEPTH) at alias *d0"


def test_nesting_at_the_limit_is_read() -> None:
    # The root mapping, the curators list, the curator, its selectors, a selector, its
    # filters and a filter are 7 levels: an equals value whose innermost item is at level
    # MAX_DEPTH is refused by the model, not the reader; one more level, by the reader.
    value = "[" * (MAX_DEPTH - 8) + "1" + "]" * (MAX_DEPTH - 8)
    text = (
        "curators:\n  - {type: Curator, name: a, application_name: demo,\n"
        f"     selectors: [{{limit: 1, filters: [{{type: equals, field: f, equals: {value}}}]}}]}}\n"
    )
    assert "field 'selectors[0].filters[0].equals'" in only_problem(text)
    assert "MAX_DEPTH" in only_problem(text.replace(value, f"[{value}]"))


# --- file size and encoding ----------------------------------------------------------

GOOD = "curators:\n  - {type: UniformCurator, name: sample, application_name: demo, limit: 100}\n"


def padded(size: int) -> str:
    """GOOD followed by comment lines, ``size`` bytes in all."""
    line = "# " + "-" * 97 + "\n"
    text = GOOD + line * ((size - len(GOOD)) // len(line))
    return text + "#" * (size - len(text))


def test_a_file_larger_than_the_limit_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text(padded(MAX_FILE_BYTES + 1))
    with pytest.raises(CuratorFileError) as caught:
        load_curators(path)
    line = padded(MAX_FILE_BYTES)[:MAX_FILE_BYTES].count("\n") + 1
    assert [str(p) for p in caught.value.problems] == [
        f"{path}:{line}: file is larger than {MAX_FILE_BYTES:,} bytes (limit MAX_FILE_BYTES)"
    ]
    assert "limit MAX_FILE_BYTES" in only_problem(padded(MAX_FILE_BYTES + 1))


def test_a_file_of_the_limits_size_is_read(tmp_path: Path) -> None:
    path = tmp_path / "full.yaml"
    path.write_text(padded(MAX_FILE_BYTES))
    assert path.stat().st_size == MAX_FILE_BYTES
    assert [c.name for c in load_curators(path)] == ["sample"]


def test_the_size_limit_counts_bytes_not_characters() -> None:
    text = padded(MAX_FILE_BYTES - 20) + "\n# " + "é" * 10 + "\n"  # 2 bytes each
    assert len(text) < MAX_FILE_BYTES < len(text.encode())
    assert "limit MAX_FILE_BYTES" in only_problem(text)


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_an_endless_file_is_refused(runner: CliRunner) -> None:
    result = runner.invoke(main, ["curators", "validate", "/dev/zero"])
    assert result.exit_code == 1
    assert f"/dev/zero:1: file is larger than {MAX_FILE_BYTES:,} bytes (limit MAX_FILE_BYTES)" in result.output


@pytest.mark.parametrize("raw", [b"\xff", b"\xed\xa0\x80"], ids=["invalid-byte", "encoded-surrogate"])
def test_a_file_that_is_not_utf8_is_a_located_problem(tmp_path: Path, raw: bytes) -> None:
    path = tmp_path / "bytes.yaml"
    path.write_bytes(b"curators:\n  - {type: UniformCurator, name: a" + raw + b", application_name: demo, limit: 5}\n")
    with pytest.raises(CuratorFileError) as caught:
        load_curators(path)
    (problem,) = caught.value.problems
    assert str(problem).startswith(f"{path}:2: not UTF-8 text: byte {raw[0]:#04x} at offset 44 (")


# --- strict types --------------------------------------------------------------------


@pytest.mark.parametrize("value", ["'10'", '"10"', "!!str 10", "true", "2.5", "'1e1'"])
def test_yaml_limit_must_be_an_integer(value: str) -> None:
    text = f"- {{type: UniformCurator, name: a, application_name: demo, limit: {value}}}\n"
    problem = only_problem(text)
    assert problem.startswith("cat.yaml:1: curator 'a', field 'limit': ")
    assert "integer" in problem or "whole number" in problem


def test_yaml_selector_limit_must_be_an_integer() -> None:
    text = "- {type: Curator, name: a, application_name: demo, selectors: [{limit: '10'}]}\n"
    assert only_problem(text) == (
        "cat.yaml:1: curator 'a', field 'selectors[0].limit': Input should be a valid integer (got '10')"
    )


def test_python_limit_must_be_an_integer() -> None:
    with pytest.raises(CuratorConfigError) as caught:
        UniformCurator("a", "demo", "10")  # type: ignore[arg-type]
    assert (caught.value.curator, caught.value.field) == ("a", "limit")
    assert str(caught.value) == "curator 'a', field 'limit': Input should be a valid integer (got '10')"
    with pytest.raises(CuratorConfigError, match=r"field 'selectors\[0\].limit': Input should be a valid integer"):
        Curator("a", "demo", selectors=[{"limit": "10"}])
    with pytest.raises(CuratorConfigError, match=r"field 'limit': Input should be a valid integer"):
        Selector(limit="10")  # type: ignore[arg-type]


def test_a_whole_float_limit_is_still_an_integer() -> None:
    assert Selector(limit=10.0).limit == 10  # type: ignore[arg-type]
    assert type(Selector(limit=10.0).limit) is int  # type: ignore[arg-type]
    (curator,) = load_curators_text("- {type: UniformCurator, name: a, application_name: demo, limit: 10.0}\n")
    assert curator.selectors[0].limit == 10


# --- text that is not Unicode --------------------------------------------------------


@pytest.mark.parametrize(
    ("item", "field"),
    [
        ('{type: AscendedSortCurator, name: a, application_name: demo, limit: 5, sort_field: "\\ud800"}', "sort_field"),
        ('{type: EqualityCurator, name: a, application_name: demo, limit: 5, field: f, equals: "x\\udfff"}', "equals"),
        ('{type: EqualityCurator, name: a, application_name: demo, limit: 5, field: "\\ud800", equals: 1}', "field"),
        (
            '{type: Curator, name: a, application_name: demo, selectors: [{limit: 1, tags: [{name: "\\ud800", value: v}]}]}',
            "selectors[0].tags[0].name",
        ),
        (
            '{type: Curator, name: a, application_name: demo, selectors: [{limit: 1, tags: [{name: n, value: "\\ud800"}]}]}',
            "selectors[0].tags[0].value",
        ),
        (
            '{type: Curator, name: a, application_name: demo, selectors: [{limit: 1, filters: [{type: contains, field: f, contains: "\\ud800"}]}]}',
            "selectors[0].filters[0].contains",
        ),
        (
            '{type: Curator, name: a, application_name: demo, selectors: [{limit: 1, method: {type: stratified, field: "\\ud800"}}]}',
            "selectors[0].method.field",
        ),
    ],
)
def test_yaml_lone_surrogates_are_refused_per_field(item: str, field: str) -> None:
    problem = only_problem(f"- {item}\n")
    assert problem.startswith(f"cat.yaml:1: curator 'a', field '{field}': must be valid Unicode text; ")
    assert "lone surrogate" in problem


@pytest.mark.parametrize(
    ("field", "kind"), [("name", "curator"), ("application_name", "application"), ("curated_dataset_name", "dataset")]
)
def test_yaml_lone_surrogate_names_are_invalid_names(field: str, kind: str) -> None:
    values = {"name": "a", "application_name": "demo", "curated_dataset_name": "a", field: '"a\\ud800"'}
    text = "- {type: UniformCurator, limit: 5, " + ", ".join(f"{k}: {v}" for k, v in values.items()) + "}\n"
    problem = only_problem(text)
    assert f"field '{field}': invalid {kind} name 'a\\ud800': must be 1 to 255 characters" in problem


def test_python_lone_surrogates_are_config_errors() -> None:
    with pytest.raises(CuratorConfigError) as caught:
        AscendedSortCurator("a", "demo", 5, "\ud800")
    assert (caught.value.curator, caught.value.field) == ("a", "sort_field")
    with pytest.raises(CuratorConfigError) as caught:
        UniformCurator("\ud800", "demo", 5)
    assert caught.value.field == "name"
    assert "invalid curator name '\\ud800'" in str(caught.value)


def test_errors_about_lone_surrogates_can_be_printed() -> None:
    with pytest.raises(CuratorFileError) as caught:
        load_curators_text(
            '- {type: UniformCurator, name: "\\ud800", application_name: "\\udfff", limit: 5, "\\ud801": 1}\n'
        )
    str(caught.value).encode("utf-8")  # no UnicodeEncodeError: the values are shown escaped


def test_cli_list_refuses_a_lone_surrogate_field(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "surrogate.yaml"
    path.write_text('- {type: AscendedSortCurator, name: a, application_name: demo, limit: 5, sort_field: "\\ud800"}\n')
    for command in ("validate", "list"):
        result = runner.invoke(main, ["curators", command, str(path)])
        assert result.exit_code == 1, result.output
        assert isinstance(result.exception, SystemExit), result.exception
        assert f"{path}:1: curator 'a', field 'sort_field': must be valid Unicode text" in result.output


def test_dagster_loading_of_curation_curators_file_is_bounded(tmp_path: Path) -> None:
    from curation_pipeline.defs.catalog_loading import load_catalog

    path = tmp_path / "bomb.yaml"
    path.write_text(BOMB)
    started = time.perf_counter()
    with pytest.raises(CuratorFileError, match="limit MAX_EXPANDED_NODES"):
        load_catalog({"CURATION_CURATORS_FILE": str(path)})
    assert time.perf_counter() - started < 5
