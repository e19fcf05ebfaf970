"""Day folder names are matched whole."""

from __future__ import annotations

from datetime import date

from curation_pipeline.stream.layout import parse_date_dir


def test_a_trailing_newline_is_not_a_day_folder() -> None:
    """``^...$`` with ``match`` accepted ``date=2024-05-01\\n``; the whole name must match."""
    assert parse_date_dir("date=2024-05-01") == date(2024, 5, 1)
    for name in ("date=2024-05-01\n", "date=2024-05-01 ", "xdate=2024-05-01"):
        assert parse_date_dir(name) is None
