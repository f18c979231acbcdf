"""What every question to the insights layer shares: the scope of a view, how a decline
is defined, the SQL predicates for "a customer message we can read", and how a stored
value is shown (ISO times, rounded numbers, excerpts, an agent's false-alarm mark).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from daemon.store import T_FEEDBACK, T_MESSAGE
from rules.model import RuleSet
from rules.trend import Trend, compute_trend
from vocab import aware

#: The article's thresholds, used for the "negative" count and the plain-words reasons.
NEGATIVE_BELOW = -0.5
VERY_NEGATIVE_BELOW = -0.7
EXCERPT_CHARS = 240

#: An agent's false-alarm mark on a (ticket, rule): rules.feedback, kept in
#: escalation_feedback and joined to the rule state wherever an outcome is shown.
FALSE_ALARM_COLUMNS = (T_FEEDBACK.c.false_alarm_at,)


class UnknownSource(ValueError):
    """A `--source` (or `?source=`) that no configured or stored source has."""


@dataclass(frozen=True, slots=True)
class TrendSettings:
    """How the rules decide `declining`: taken from the first rule that watches for it."""

    method: str = "article"
    decline_threshold: float = 0.3
    alpha: float = 0.5

    @classmethod
    def from_rules(cls, rules: RuleSet | None) -> TrendSettings:
        for rule in (rules.rules if rules is not None else ()):
            if rule.when.trend == "declining":
                return cls(rule.when.method, rule.when.decline_threshold, rule.when.alpha)
        return cls()

    def trend(self, scores: Sequence[float]) -> Trend:
        return compute_trend(scores, self.method, self.decline_threshold, self.alpha)


@dataclass(frozen=True, slots=True)
class Scope:
    """Which messages a view covers: the last `days` days up to `now`, one source or all."""

    now: datetime
    days: int = 7
    source: str | None = None

    def __post_init__(self) -> None:
        if self.days <= 0:
            raise ValueError("days must be a positive number")
        # Stored times are UTC; comparing with anything else would shift the window.
        object.__setattr__(self, "now", aware(self.now))

    @property
    def start(self) -> datetime:
        return self.now - timedelta(days=self.days)


def where_source(table: sa.Table, scope: Scope) -> sa.ColumnElement[bool]:
    """Rows of the scope's source (every row when the scope has none)."""
    return (table.c.source == scope.source) if scope.source else sa.true()


def in_window(scope: Scope) -> sa.ColumnElement[bool]:
    """Messages written in the scope's window, of its source."""
    window: sa.ColumnElement[bool] = ((T_MESSAGE.c.created_at > scope.start)
                                      & (T_MESSAGE.c.created_at <= scope.now)
                                      & where_source(T_MESSAGE, scope))
    return window


def signals(raw: str | None) -> tuple[str, ...]:
    """A stored JSON list of signals, read as text (most are empty: no parsing then)."""
    if not raw or raw == "[]":
        return ()
    try:
        value = json.loads(raw)
    except ValueError:
        return ()
    return tuple(str(v) for v in value) if isinstance(value, list) else ()


def iso(moment: datetime | None) -> str | None:
    value = aware(moment)
    return value.isoformat() if value else None


def rounded(value: float | None, digits: int = 2) -> float | None:
    # + 0.0 turns a rounded -0.0 into 0.0, which prints as +0.00, not -0.00.
    return None if value is None else round(float(value), digits) + 0.0


def excerpt(body: str | None, limit: int = EXCERPT_CHARS) -> str | None:
    """The start of a message on one line; None when retention removed the text."""
    if body is None:
        return None
    text = " ".join(body.split())
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def feedback_of(columns: Any) -> Any:
    """The join condition from a (source, ticket_id, rule) relation to its agents' marks."""
    return ((T_FEEDBACK.c.source == columns.source)
            & (T_FEEDBACK.c.ticket_id == columns.ticket_id) & (T_FEEDBACK.c.rule == columns.rule))


def possibly_marked(history: Any) -> Any:
    """A rule state's history as text where it may hold a false-alarm mark, else NULL:
    there is one state per escalated (ticket, rule), thousands on a busy helpdesk, and
    almost none is marked, so only those few are sent and parsed."""
    text = sa.cast(history, sa.Text)
    return sa.case((text.like("%false_alarm%") | text.like("%verdict%")
                    | text.like("%feedback%"), text), else_=None)


def marked_false_alarm(false_alarm_at: datetime | None, history: str | None) -> bool:
    """Whether an agent marked a (ticket, rule) a false alarm: the mark kept in
    escalation_feedback, or one in the history (`possibly_marked`'s text)."""
    if false_alarm_at is not None:
        return True
    if not history:
        return False
    try:
        return _history_marked(json.loads(history))
    except ValueError:  # unreadable: no mark can be read from it
        return False


def false_alarm(row: Mapping[Any, Any]) -> bool:
    """Whether a (ticket, rule) state row is marked a false alarm, read from whatever it
    holds: a `false_alarm*` column, or a mark in its (parsed) history."""
    for key, value in row.items():
        if str(key).startswith("false_alarm") and value:
            return True
    return _history_marked(row.get("history"))


def _history_marked(history: Any) -> bool:
    if not isinstance(history, Mapping):
        return False
    if history.get("false_alarm") or history.get("false_alarm_at"):
        return True
    return history.get("verdict") == "false_alarm" or history.get("feedback") == "false_alarm"
