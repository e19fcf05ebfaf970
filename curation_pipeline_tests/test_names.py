"""The naming rule: the whole value must match, for every kind of name."""

from __future__ import annotations

import pytest

from curation_pipeline.curators import CuratorConfigError, CuratorFileError, UniformCurator, load_curators_text
from curation_pipeline.names import NAME_PATTERN, InvalidNameError, check_name

KINDS = ("curator", "dataset", "application")
# Control characters (a trailing newline above all: `$` matches before it), and text that is no Unicode.
HOSTILE = [
    "reviews\n",
    "reviews\r\n",
    "reviews\r",
    "\nreviews",
    "re\nviews",
    "reviews\t",
    "reviews\x00",
    "reviews\x0b",
    "reviews\x1b",
    "reviews\x7f",
    "reviews\x85",
    "reviews\u2028",
    "\ud800",
    "reviews\udfff",
]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("value", ["reviews", "a", "reviews-2024_v1", "x" * 63])
def test_valid_names(kind: str, value: str) -> None:
    assert check_name(value, kind) == value


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("value", HOSTILE)
def test_control_characters_and_surrogates_are_refused(kind: str, value: str) -> None:
    with pytest.raises(InvalidNameError) as caught:
        check_name(value, kind)
    assert str(caught.value).startswith(f"invalid {kind} name {value!r}: must be 1 to 255 characters")
    str(caught.value).encode("utf-8")  # printable: the value is shown escaped


@pytest.mark.parametrize("value", HOSTILE)
def test_the_pattern_matches_whole_names_with_match_too(value: str) -> None:
    # Code that calls NAME_PATTERN.match (listing stream folders) gets the same answer.
    assert NAME_PATTERN.match(value) is None
    assert NAME_PATTERN.match("reviews") is not None


@pytest.mark.parametrize(
    ("field", "kind"), [("name", "curator"), ("application_name", "application"), ("curated_dataset_name", "dataset")]
)
@pytest.mark.parametrize("value", ["reviews\n", "reviews\t", "reviews\x00", "\ud800"])
def test_curator_names_with_control_characters_are_refused(field: str, kind: str, value: str) -> None:
    arguments = {"name": "reviews", "application_name": "demo", "limit": 5, field: value}
    with pytest.raises(CuratorConfigError) as caught:
        UniformCurator(**arguments)
    assert caught.value.field == field
    assert f"invalid {kind} name {value!r}" in str(caught.value)


@pytest.mark.parametrize("field", ["name", "application_name", "curated_dataset_name"])
def test_yaml_names_with_a_trailing_newline_are_refused(field: str) -> None:
    values = {"name": "reviews", "application_name": "demo", "curated_dataset_name": "reviews", field: '"reviews\\n"'}
    text = "- {type: UniformCurator, limit: 5, " + ", ".join(f"{k}: {v}" for k, v in values.items()) + "}\n"
    with pytest.raises(CuratorFileError) as caught:
        load_curators_text(text, source="cat.yaml")
    assert f"field '{field}': invalid " in str(caught.value)
    assert "name 'reviews\\n'" in str(caught.value)
