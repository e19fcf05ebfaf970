"""Every environment setting is read through curation_pipeline.environment, at call time, from a given mapping."""

from __future__ import annotations

import pytest

from curation_pipeline import environment
from curation_pipeline.errors import CurationError


def test_readers_take_the_mapping_they_are_given():
    env = {"CURATION_CURATORS_FILE": "team.yaml", "CURATION_AUTHOR": "ana", "CURATION_STORE_URL": "s3://b/p"}
    assert environment.curators_file(env) == "team.yaml"
    assert environment.author(env) == "ana"
    assert environment.store_url(env) == "s3://b/p"
    assert environment.curators_file({}) is None and environment.author({"CURATION_AUTHOR": ""}) is None
    assert environment.store_url({}) == environment.DEFAULT_STORE_URL


@pytest.mark.parametrize(("text", "expected"), [(None, 10), ("", 10), ("1", 1), ("25", 25)])
def test_partitions_per_run(text, expected):
    env = {} if text is None else {"CURATION_BACKFILL_PARTITIONS_PER_RUN": text}
    assert environment.partitions_per_run(env, default=10) == expected


@pytest.mark.parametrize("text", ["0", "-2", "ten", "2.5"])
def test_partitions_per_run_refuses_what_is_not_a_positive_whole_number(text):
    with pytest.raises(environment.InvalidSettingError) as info:
        environment.partitions_per_run({"CURATION_BACKFILL_PARTITIONS_PER_RUN": text}, default=10)
    assert isinstance(info.value, (CurationError, ValueError))
    assert "CURATION_BACKFILL_PARTITIONS_PER_RUN" in str(info.value) and repr(text) in str(info.value)
