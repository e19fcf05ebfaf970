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


# --- Gantry's names and their keys ----------------------------------------------------

from curation_pipeline.curators import validate_catalog  # noqa: E402
from curation_pipeline.names import (  # noqa: E402
    MAX_KEY_LENGTH,
    NameCollisionError,
    check_unique_keys,
    name_key,
)


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("reviews", "reviews"),  # already a key: itself, so existing stores read the same
        ("reviews-2024_v1", "reviews-2024_v1"),
        ("MyCurator", "mycurator"),
        ("My Curator", "my-curator"),
        ("  spaced  out".strip(), "spaced-out"),
        ("Low Confidence (v2.1)", "low-confidence-v2-1"),
        ("Café crème", "cafe-creme"),
    ],
)
def test_gantry_names_are_accepted_and_keyed(name: str, key: str) -> None:
    assert check_name(name, "curator") == name
    assert name_key(name) == key
    assert NAME_PATTERN.fullmatch(name_key(name))


def test_a_255_character_name_has_a_short_stable_key() -> None:
    name = "Reviews To Label " + "x" * 238
    assert len(name) == 255 and check_name(name, "dataset") == name
    key = name_key(name)
    assert len(key) <= MAX_KEY_LENGTH and NAME_PATTERN.fullmatch(key)
    assert key == name_key(name)  # stable: the name alone decides it
    assert key.startswith("reviews-to-label-xxx")
    # Two long names sharing their first 60 characters keep different keys.
    assert name_key(name[:-1] + "y") != key
    with pytest.raises(InvalidNameError, match="must be 1 to 255 characters"):
        check_name(name + "x", "dataset")


def test_names_without_any_key_character_get_a_hashed_key() -> None:
    assert NAME_PATTERN.fullmatch(name_key("日本語"))
    assert name_key("日本語") != name_key("中文")


def test_two_names_with_one_key_are_an_error_naming_both() -> None:
    assert check_unique_keys(["My Data", "Other", "My Data"], "dataset") == {"my-data": "My Data", "other": "Other"}
    with pytest.raises(NameCollisionError) as caught:
        check_unique_keys(["My Data", "my-data"], "dataset")
    assert caught.value.names == ("My Data", "my-data") and caught.value.key == "my-data"
    assert str(caught.value) == "dataset names 'My Data' and 'my-data' both map to the key 'my-data'; rename one of them"


def test_a_catalogue_refuses_curators_whose_names_share_a_key() -> None:
    curators = [
        UniformCurator(name="Review Queue", application_name="demo", limit=5),
        UniformCurator(name="review-queue", application_name="demo", limit=5, curated_dataset_name="other"),
    ]
    with pytest.raises(CuratorConfigError, match="curator names 'Review Queue' and 'review-queue' both map to the key 'review-queue'"):
        validate_catalog(curators)
    datasets = [
        UniformCurator(name="a", application_name="demo", limit=5, curated_dataset_name="My Data"),
        UniformCurator(name="b", application_name="demo", limit=5, curated_dataset_name="my data"),
    ]
    with pytest.raises(CuratorConfigError, match="dataset names 'My Data' and 'my data' both map to the key 'my-data'"):
        validate_catalog(datasets)
    applications = [
        UniformCurator(name="a", application_name="Demo App", limit=5),
        UniformCurator(name="b", application_name="demo-app", limit=5),
    ]
    with pytest.raises(CuratorConfigError, match="application names 'Demo App' and 'demo-app' both map"):
        validate_catalog(applications)
