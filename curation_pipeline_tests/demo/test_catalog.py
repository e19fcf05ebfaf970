"""The demo catalogue: one curator of each stock type plus a general one, over the demo stream's columns."""

from __future__ import annotations

import datetime as dt

from curation_pipeline.curators import (
    AscendedSortCurator,
    BalancedStratificationCurator,
    BoundedRangeCurator,
    Curator,
    DescendedSortCurator,
    EqualityCurator,
    NewestCurator,
    OldestCurator,
    ProportionalStratificationCurator,
    StrictStratificationCurator,
    UniformCurator,
)
from curation_pipeline.demo import demo_curators, demo_start

NOW = dt.datetime(2024, 6, 10, 15, 45, tzinfo=dt.timezone.utc)


def test_demo_catalogue_has_one_of_each_type_plus_a_general_curator() -> None:
    curators = demo_curators(NOW)
    assert [type(c) for c in curators] == [
        UniformCurator,
        NewestCurator,
        OldestCurator,
        AscendedSortCurator,
        DescendedSortCurator,
        BoundedRangeCurator,
        EqualityCurator,
        StrictStratificationCurator,
        ProportionalStratificationCurator,
        BalancedStratificationCurator,
        Curator,
    ]
    assert {c.application_name for c in curators} == {"demo"}
    assert all(c.enabled and c.curate_past_intervals for c in curators)
    assert {c.curation_interval for c in curators} == {dt.timedelta(days=1)}
    assert {c.start_on for c in curators} == {dt.datetime(2024, 6, 3, tzinfo=dt.timezone.utc)}
    assert len({c.dataset_name for c in curators}) == 11
    assert len(curators[-1].selectors) == 2


def test_demo_start_is_midnight_utc_seven_days_back() -> None:
    late_evening_west = dt.datetime(2024, 6, 10, 22, 0, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
    assert demo_start(late_evening_west) == dt.datetime(2024, 6, 4, tzinfo=dt.timezone.utc)
    assert demo_start(dt.datetime(2024, 6, 10)) == dt.datetime(2024, 6, 3, tzinfo=dt.timezone.utc)


def test_demo_catalogue_reads_real_demo_columns() -> None:
    columns = {"record_id", "__time", "inputs.text", "inputs.product_category", "inputs.review_length"}
    columns |= {"outputs.label", "outputs.confidence", "feedback.label", "tags.env", "tags.model_version"}
    used = set().union(*(c.fields() for c in demo_curators(NOW)))
    assert used <= columns


def test_the_catalogue_is_built_when_called_not_at_import() -> None:
    import curation_pipeline.demo.catalog as catalog

    assert not hasattr(catalog, "CURATORS")
    later = NOW + dt.timedelta(days=1)
    assert {c.start_on for c in demo_curators(later)} == {dt.datetime(2024, 6, 4, tzinfo=dt.timezone.utc)}
