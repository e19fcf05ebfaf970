"""Interval text: parsing both spellings, writing the compact one, clear errors."""

from __future__ import annotations

import datetime as dt

import pytest

from curation_pipeline.curators import format_interval, parse_interval
from curation_pipeline.curators.intervals import describe_interval

H = dt.timedelta(hours=1)
M = dt.timedelta(minutes=1)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1d", dt.timedelta(days=1)),
        ("6h", 6 * H),
        ("30m", 30 * M),
        ("90m", 90 * M),
        ("1w", dt.timedelta(weeks=1)),
        ("1h30m", 90 * M),
        ("1h 30m", 90 * M),
        ("2d12h", dt.timedelta(days=2, hours=12)),
        ("45s", dt.timedelta(seconds=45)),
        (" 1d ", dt.timedelta(days=1)),
        ("PT30M", 30 * M),
        ("P1D", dt.timedelta(days=1)),
        ("P1DT6H", dt.timedelta(days=1, hours=6)),
        ("P2W", dt.timedelta(weeks=2)),
        ("pt1h30m", 90 * M),
        (dt.timedelta(hours=3), 3 * H),
    ],
)
def test_parse(text: object, expected: dt.timedelta) -> None:
    assert parse_interval(text) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("P1M", "months and years have no fixed length"),
        ("P1Y2D", "months and years have no fixed length"),
        ("", "not an interval: ''"),
        ("1 day", "not an interval: '1 day'"),
        ("30m1h", "not an interval"),
        ("1.5h", "not an interval"),
        ("P", "not an interval"),
        ("PT", "not an interval"),
        ("0m", "must be positive, got '0m'"),
        ("-1d", "must be positive, got '-1d'"),
        (dt.timedelta(0), "must be positive"),
        (dt.timedelta(hours=-1), "must be positive"),
        (3600, "a bare number is ambiguous"),
        (True, "must be a timedelta or a string"),
        (None, "must be a timedelta or a string"),
    ],
)
def test_parse_errors(value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_interval(value)


def test_zero_is_allowed_for_delays() -> None:
    assert parse_interval("0", allow_zero=True) == dt.timedelta(0)
    assert parse_interval("0m", allow_zero=True) == dt.timedelta(0)
    assert parse_interval("PT0S", allow_zero=True) == dt.timedelta(0)
    with pytest.raises(ValueError, match="must be zero or positive"):
        parse_interval("-5m", allow_zero=True)


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (dt.timedelta(days=1), "1d"),
        (6 * H, "6h"),
        (90 * M, "1h30m"),
        (dt.timedelta(weeks=1), "7d"),
        (dt.timedelta(days=1, minutes=5), "1d5m"),
        (dt.timedelta(seconds=61), "1m1s"),
        (dt.timedelta(0), "0m"),
    ],
)
def test_format_round_trips(delta: dt.timedelta, text: str) -> None:
    assert format_interval(delta) == text
    assert parse_interval(text, allow_zero=True) == delta


@pytest.mark.parametrize("delta", [dt.timedelta(seconds=-1), dt.timedelta(milliseconds=1500)])
def test_format_rejects_what_cannot_be_written(delta: dt.timedelta) -> None:
    with pytest.raises(ValueError, match="cannot write"):
        format_interval(delta)


def test_describe() -> None:
    assert describe_interval(dt.timedelta(days=1)) == "1 day"
    assert describe_interval(6 * H) == "6 hours"
    assert describe_interval(90 * M) == "1 hour 30 minutes"
