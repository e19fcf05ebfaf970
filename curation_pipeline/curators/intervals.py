"""Curation intervals and delays written as text: ``1d``, ``6h``, ``1h30m``, ``PT30M``.

Two spellings are accepted:

* compact: whole-number parts in the order ``w`` (weeks), ``d``, ``h``, ``m``
  (minutes), ``s``, lower-case, e.g. ``1d``, ``90m``, ``1h30m``, ``1w``;
* ISO-8601 durations with weeks, days and time parts: ``P1D``, ``PT30M``,
  ``P1DT6H``, ``P2W``. Months and years are rejected: they have no fixed length.

A bare number is rejected rather than guessed at (seconds? minutes? days?):
write ``90m`` or ``PT90S``. :func:`format_interval` writes the compact form,
largest unit first, without weeks (``7d``), so every value reads the same way.
"""

from __future__ import annotations

import datetime as dt
import re

_COMPACT = re.compile(
    r"^(?:(?P<w>\d+)w)?\s*(?:(?P<d>\d+)d)?\s*(?:(?P<h>\d+)h)?\s*(?:(?P<m>\d+)m)?\s*(?:(?P<s>\d+)s)?$"
)
_ISO = re.compile(
    r"^P(?:(?P<w>\d+)W)?(?:(?P<d>\d+)D)?(?:T(?=\d)(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+)S)?)?$",
    re.IGNORECASE,
)
_ISO_CALENDAR = re.compile(r"^P[^T]*[YM]", re.IGNORECASE)
_UNITS = {"w": "weeks", "d": "days", "h": "hours", "m": "minutes", "s": "seconds"}
_EXAMPLES = "e.g. '1d', '6h', '1h30m' or ISO-8601 'PT30M', 'P1DT6H'"


def parse_interval(value: object, *, allow_zero: bool = False) -> dt.timedelta:
    """Read an interval from a :class:`~datetime.timedelta` or its text form.

    Args:
        value: a timedelta, a compact string (``1h30m``) or an ISO-8601 duration (``PT90M``).
        allow_zero: accept a zero length (delays may be zero, intervals may not).

    Returns:
        The interval as a timedelta.

    Raises:
        ValueError: the value is not an interval, uses months or years, or is
            negative (or zero unless ``allow_zero``).
    """
    if isinstance(value, dt.timedelta):
        return _check_sign(value, allow_zero, value)
    if isinstance(value, bool) or not isinstance(value, str):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            raise ValueError(f"a bare number is ambiguous as an interval, give a unit ({_EXAMPLES}), got {value!r}")
        raise ValueError(f"an interval must be a timedelta or a string ({_EXAMPLES}), got {value!r}")
    text = value.strip()
    if text == "0" and allow_zero:
        return dt.timedelta(0)
    if text.startswith("-"):
        raise ValueError(f"an interval must be {'zero or ' if allow_zero else ''}positive, got {value!r}")
    if _ISO_CALENDAR.match(text):
        raise ValueError(f"months and years have no fixed length; use weeks or days, got {value!r}")
    match = (_ISO if text[:1] in "Pp" else _COMPACT).match(text)
    if not text or match is None or not any(match.groupdict().values()):
        raise ValueError(f"not an interval: {value!r} ({_EXAMPLES})")
    parts = {_UNITS[unit]: int(number) for unit, number in match.groupdict().items() if number}
    return _check_sign(dt.timedelta(**parts), allow_zero, value)


def _check_sign(delta: dt.timedelta, allow_zero: bool, given: object) -> dt.timedelta:
    if delta < dt.timedelta(0) or (delta == dt.timedelta(0) and not allow_zero):
        wanted = "zero or positive" if allow_zero else "positive"
        raise ValueError(f"an interval must be {wanted}, got {given!r}")
    return delta


def format_interval(delta: dt.timedelta) -> str:
    """Write ``delta`` in the compact form :func:`parse_interval` reads (``1d``, ``1h30m``, ``0m``).

    Raises:
        ValueError: ``delta`` is negative or has a fraction of a second.
    """
    if delta < dt.timedelta(0) or delta.microseconds:
        raise ValueError(f"cannot write {delta!r} as an interval: it must be whole seconds and not negative")
    if delta == dt.timedelta(0):
        return "0m"
    hours, rest = divmod(delta.seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    amounts = zip("dhms", (delta.days, hours, minutes, seconds))
    return "".join(f"{amount}{unit}" for unit, amount in amounts if amount)


def describe_interval(delta: dt.timedelta) -> str:
    """Words for ``delta``, for descriptions: ``1 day``, ``6 hours``, ``1 hour 30 minutes``."""
    hours, rest = divmod(delta.seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    amounts = zip(("day", "hour", "minute", "second"), (delta.days, hours, minutes, seconds))
    words = [f"{amount} {unit}{'' if amount == 1 else 's'}" for unit, amount in amounts if amount]
    return " ".join(words) or "0 minutes"
