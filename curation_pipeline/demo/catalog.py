"""The demo catalogue: one curator of each stock type, plus a general one, over the demo stream.

The demo application ``demo`` (see :mod:`curation_pipeline.demo.stream`) logs
product reviews run through a sentiment model: ``inputs.text``,
``inputs.price``, ``inputs.stars``, ``outputs.label`` (skewed classes),
``outputs.confidence`` (0..1), ``feedback.label`` (null for most records),
``tags.env`` (``prod``/``staging``) and ``tags.model_version``.

Curators start 7 days before today's UTC midnight so the demo has past intervals
to backfill. That start depends on the clock, so it is computed when
:func:`demo_curators` is called (the Dagster wiring calls it), never at import.
"""

from __future__ import annotations

import datetime as dt

from curation_pipeline.curators import (
    AscendedSortCurator,
    BalancedStratificationCurator,
    BoundedRangeCurator,
    BoundsFilter,
    ContainsFilter,
    Curator,
    DescendedSortCurator,
    EqualityCurator,
    NewestCurator,
    OldestCurator,
    OrderedSampler,
    ProportionalStratificationCurator,
    Selector,
    StratifiedSampler,
    StrictStratificationCurator,
    TagFilter,
    UniformCurator,
    validate_catalog,
)
from curation_pipeline.demo.stream import DEMO_APPLICATION

BACKFILL_DAYS = 7


def demo_start(now: dt.datetime | None = None) -> dt.datetime:
    """Today's UTC midnight minus :data:`BACKFILL_DAYS` days (``now`` defaults to the current time)."""
    now = dt.datetime.now(dt.timezone.utc) if now is None else now
    if now.tzinfo is None:
        now = now.replace(tzinfo=dt.timezone.utc)
    today = now.astimezone(dt.timezone.utc).date()
    return dt.datetime(today.year, today.month, today.day, tzinfo=dt.timezone.utc) - dt.timedelta(days=BACKFILL_DAYS)


def demo_curators(now: dt.datetime | None = None) -> list[Curator]:
    """The demo catalogue: 11 enabled daily curators of the ``demo`` application, validated.

    Args:
        now: the moment the catalogue is built for; defaults to the current time.
    """
    common = {"start_on": demo_start(now), "curation_interval": dt.timedelta(days=1), "curate_past_intervals": True}
    app = DEMO_APPLICATION
    curators = [
        # Late records of the last week are added to its windows automatically (the others wait for a user).
        UniformCurator("demo-uniform", app, 100, recurate_late_within=dt.timedelta(days=7), **common),
        NewestCurator("demo-newest", app, 50, **common),
        OldestCurator("demo-oldest", app, 50, **common),
        AscendedSortCurator("demo-least-confident", app, 100, "outputs.confidence", **common),
        DescendedSortCurator("demo-longest-reviews", app, 50, "inputs.review_length", **common),
        BoundedRangeCurator("demo-borderline", app, 100, "outputs.confidence", 0.6, 0.4, **common),
        EqualityCurator("demo-staging", app, 100, "tags.env", "staging", **common),
        StrictStratificationCurator("demo-strict-by-label", app, 100, "outputs.label", **common),
        ProportionalStratificationCurator("demo-proportional-by-category", app, 100, "inputs.product_category", **common),
        BalancedStratificationCurator("demo-balanced-by-label", app, 100, "outputs.label", **common),
        Curator(
            "demo-review-queue",
            app,
            selectors=[
                # Production records the model was least sure about: candidates for labelling.
                Selector(
                    method=OrderedSampler(field="outputs.confidence", sort="ascending"),
                    limit=50,
                    filters=[BoundsFilter(field="outputs.confidence", upper=0.5)],
                    tags=[TagFilter(name="env", value="prod")],
                ),
                # Records with human feedback, every feedback label equally represented.
                # Null never passes a filter, so containing "" means "has a feedback label".
                Selector(
                    method=StratifiedSampler(field="feedback.label", mode="balanced"),
                    limit=50,
                    filters=[ContainsFilter(field="feedback.label", contains="")],
                ),
            ],
            **common,
        ),
    ]
    return validate_catalog(curators)

