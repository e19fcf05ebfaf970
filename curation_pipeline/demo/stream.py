"""A realistic, deterministic demo stream: product reviews run through a sentiment model.

Each day is generated from its own seed (the run's seed and the date), with
vectorised numpy/Arrow operations, and written to ``date=D/demo-D.parquet``;
re-running for the same days replaces those files instead of adding more.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curation_pipeline.fields import RECORD_ID, TIME
from curation_pipeline.location import Location
from curation_pipeline.stream.filesystems import open_store
from curation_pipeline.stream.layout import check_application
from curation_pipeline.stream.records import to_record_table
from curation_pipeline.stream.writer import LogResult, write_day_files

#: The application the demo stream and the demo catalogue use.
DEMO_APPLICATION = "demo"
LABELS = ("positive", "negative", "neutral", "question", "spam")
LABEL_SHARES = (0.50, 0.26, 0.16, 0.07, 0.01)  # one class about half, one rare
CATEGORIES = ("electronics", "books", "home", "toys", "clothing", "grocery", "sports")
FEEDBACK_SHARE = 0.4  # most records never get a human label

_NOUNS = (
    "blender", "charger", "backpack", "novel", "lamp", "headphones", "kettle",
    "jacket", "board game", "coffee", "yoga mat", "phone case", "desk chair", "toaster",
)
_OPENERS = ("The", "My new", "This", "Our", "The second", "Honestly the")
_VERBS = ("is", "feels", "seems", "turned out", "looks", "was")
# One template per label, as slots of vocabulary joined by spaces.
_TEMPLATES: dict[str, tuple[tuple[str, ...], ...]] = {
    "positive": (
        _OPENERS, _NOUNS, _VERBS,
        ("great.", "excellent!", "really sturdy.", "worth every penny.", "better than expected.",
         "fantastic, would buy again.", "perfect for the price."),
    ),
    "negative": (
        _OPENERS, _NOUNS, _VERBS,
        ("broken on arrival.", "flimsy.", "a waste of money.", "disappointing.", "too loud.",
         "overpriced for what it is.", "nothing like the photos."),
    ),
    "neutral": (
        _OPENERS, _NOUNS, _VERBS,
        ("okay.", "as described.", "fine, nothing special.", "average.", "what I expected."),
    ),
    "question": (
        ("Does the", "Can the", "Will the", "How long does the"),
        _NOUNS,
        ("work with a 220V outlet?", "come with a warranty?", "fit in a carry-on?",
         "last with daily use?", "ship to Canada?"),
    ),
    "spam": (
        ("Buy cheap", "Click here for free", "Best deals on", "Win a"),
        _NOUNS,
        ("at www.example-deals.biz", "!!! limited offer", "now, 90% off", "DM me"),
    ),
}
_MICROS_PER_HOUR = 3_600_000_000


def write_demo_stream(
    application: str = DEMO_APPLICATION,
    days: int = 7,
    rows_per_day: int = 100_000,
    end: date | None = None,
    seed: int = 0,
    store_url: str | None = None,
    *,
    now: datetime | None = None,
    location: Location | None = None,
) -> LogResult:
    """Write ``days`` UTC days of demo records, the last one being the day before ``end``.

    ``end`` defaults to the UTC day of ``now`` (itself defaulting to the
    current time), so only complete days are written. The same arguments
    always produce the same files (``date=D/demo-D.parquet``), and re-running
    replaces them. One day is in memory at a time. The store is ``location``
    if given, else the one at ``store_url``.
    """
    application = check_application(application)
    if days < 0 or rows_per_day < 0:
        raise ValueError("days and rows_per_day must be >= 0")
    if end is None:
        end = datetime.now(timezone.utc) if now is None else now
    end_day = _day(end)
    store = open_store(store_url, location=location)
    results = []
    for offset in range(days, 0, -1):
        day = end_day - timedelta(days=offset)
        table = to_record_table(demo_day(application, day, rows_per_day, seed))
        results.append(
            write_day_files(store, application, [(day, table)], lambda d: f"demo-{d.isoformat()}.parquet")
        )
    return LogResult.combine(application, results)


def _day(value: date) -> date:
    # A datetime is a date too; use its UTC day.
    if isinstance(value, datetime):
        return (value.astimezone(timezone.utc) if value.tzinfo else value).date()
    return value


def demo_batch(application: str, day: date, rows: int, seed: int = 1) -> pa.Table:
    """A batch of demo records of ``day`` that the demo stream does not hold: ids ``<app>-b<seed>-<day>-<n>``.

    What a late delivery looks like (a client flushing hours later): records of
    a day already written, logged afterwards. ``seed`` 0 is the demo stream's own.
    """
    if seed == 0:
        raise ValueError("seed 0 is the demo stream's own; a batch needs another seed")
    table = demo_day(application, day, rows, seed)
    ids = pc.utf8_lpad(pc.cast(pa.array(np.arange(rows)), pa.string()), width=7, padding="0")
    batch_ids = pc.binary_join_element_wise(f"{application}-b{seed}-{day:%Y%m%d}-", ids, "")
    return table.set_column(table.schema.get_field_index(RECORD_ID), RECORD_ID, batch_ids)


def demo_day(application: str, day: date, rows: int, seed: int = 0) -> pa.Table:
    """One day of demo records as a table, sorted by ``__time``; same inputs, same table."""
    rng = np.random.default_rng([seed, day.toordinal()])
    times = _times(rng, day, rows)
    truth = rng.choice(len(LABELS), size=rows, p=LABEL_SHARES)
    # Mistakes follow the same prior, so predicted labels keep the skew.
    wrong = rng.random(rows) < 0.15
    predicted = np.where(wrong, rng.choice(len(LABELS), size=rows, p=LABEL_SHARES), truth)
    correct = predicted == truth
    confidence = np.where(correct, rng.beta(8, 2, rows), rng.beta(3, 4, rows))
    text = _texts(rng, truth)
    env = np.where(rng.random(rows) < 0.85, "prod", "staging")
    # Staging runs the candidate model; prod has it on a 10% canary.
    version = np.where((env == "staging") | (rng.random(rows) < 0.10), "v1.5.0", "v1.4.2")
    labels = pa.array(LABELS)
    feedback = pc.take(labels, pa.array(truth))
    has_feedback = pa.array(rng.random(rows) < FEEDBACK_SHARE)
    ids = pc.utf8_lpad(pc.cast(pa.array(np.arange(rows)), pa.string()), width=7, padding="0")
    return pa.table(
        {
            RECORD_ID: pc.binary_join_element_wise(f"{application}-{day:%Y%m%d}-", ids, ""),
            TIME: pa.array(times, pa.timestamp("us", tz="UTC")),
            "inputs.text": text,
            "inputs.product_category": pc.take(pa.array(CATEGORIES), pa.array(rng.integers(0, len(CATEGORIES), rows))),
            "inputs.price": np.round(rng.lognormal(3.2, 0.8, rows), 2),
            "inputs.stars": _stars(rng, truth),
            "inputs.user_tenure_days": rng.geometric(1 / 400, rows).astype(np.int64),
            "inputs.review_length": pc.utf8_length(text),
            "outputs.label": pc.take(labels, pa.array(predicted)),
            "outputs.confidence": np.round(confidence, 4),
            "feedback.label": pc.if_else(has_feedback, feedback, pa.scalar(None, pa.string())),
            "tags.env": pa.array(env, pa.string()),
            "tags.model_version": pa.array(version, pa.string()),
        }
    )


def _times(rng: np.random.Generator, day: date, rows: int) -> np.ndarray:
    # Traffic follows the day: quiet around 06:00 UTC, busiest around 18:00.
    hours = np.arange(24)
    weights = 1.0 + 0.8 * np.sin((hours - 12) / 24 * 2 * np.pi)
    hour = rng.choice(24, size=rows, p=weights / weights.sum())
    start = int(datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp()) * 1_000_000
    micros = start + hour * _MICROS_PER_HOUR + rng.integers(0, _MICROS_PER_HOUR, rows)
    return np.sort(micros)


def _texts(rng: np.random.Generator, truth: np.ndarray) -> pa.Array:
    texts = np.empty(len(truth), dtype=object)
    for index, label in enumerate(LABELS):
        rows = np.flatnonzero(truth == index)
        slots = [
            pc.take(pa.array(words), pa.array(rng.integers(0, len(words), len(rows))))
            for words in _TEMPLATES[label]
        ]
        texts[rows] = pc.binary_join_element_wise(*slots, " ").to_numpy(zero_copy_only=False)
    return pa.array(texts, pa.string())


def _stars(rng: np.random.Generator, truth: np.ndarray) -> np.ndarray:
    # Ratings agree with the review's tone, loosely: a useful feature to stratify on.
    centre = np.array([4.5, 1.6, 3.0, 3.5, 3.0])[truth]
    return np.clip(np.rint(rng.normal(centre, 0.7)), 1, 5).astype(np.int64)
