"""The words every layer shares: priorities, signals, durations and UTC time.

`rules/` and `connectors/` may not import each other nor `daemon/` (import-linter holds
that in `make lint`), yet all three speak of the same priorities, the same hard signals
and the same durations.  They live here, once, so there is no copy to keep equal.  Pure
definitions: no I/O, no clock reads except the explicit `utcnow()`.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from pydantic import BeforeValidator

#: Priorities normalised across vendors, lowest first.  Each connector maps its own
#: scale onto these (Freshdesk 1-4, RT's numbers, Help Scout's tag or custom field).
PRIORITIES: tuple[str, ...] = ("low", "normal", "high", "urgent")
Priority = Literal["low", "normal", "high", "urgent"]

#: Hard signals a scorer may report beside the score.
SIGNALS: frozenset[str] = frozenset(
    {"churn_risk", "legal_threat", "manager_request", "repeat_contact", "abusive", "urgent",
     "prompt_injection", "unsupported_language", "scorer_disagreement"}
)


def priority_rank(priority: str | None) -> int:
    """Rank of a priority; unknown or missing ranks below `low` (so any rule raises it)."""
    if priority is None or priority not in PRIORITIES:
        return -1
    return PRIORITIES.index(priority)


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: object) -> timedelta:
    """'90s', '15m', '24h', '7d', '1w' or a number of seconds; never negative."""
    if isinstance(value, timedelta):
        if value < timedelta(0):
            raise ValueError("a duration cannot be negative")
        return value
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 15m, 24h or 7d")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError("a duration cannot be negative")
        try:
            return timedelta(seconds=float(value))
        except (OverflowError, ValueError):  # huge, inf or NaN
            raise ValueError("expected a duration such as 15m, 24h or 7d") from None
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match:
            try:
                return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])
            except OverflowError:  # pydantic reports ValueError; anything else escapes
                raise ValueError("duration is too long") from None
    raise ValueError("expected a duration such as 15m, 24h or 7d")


#: A duration field in a typed config: accepts what `parse_duration` accepts.
Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


def utcnow() -> datetime:
    return datetime.now(UTC)


def aware(moment: datetime | None) -> datetime | None:
    """A UTC-aware datetime (a naive one is taken to be UTC already)."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
