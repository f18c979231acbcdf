"""The conversations a view covers: every ticket with a scored customer message in the
window, with the trend the rules would compute from its whole scored series up to `now`.

This is the hot path of the overview and the at-risk page (thousands of tickets in a
30-day window), so it reads only (source, ticket, id, score, signals) in one query, in
the order of the covering index ix_message_series, and parses signals only for each
ticket's latest message.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from daemon.insights.common import CUSTOMER_SCORED, Scope, TrendSettings, signals, where_source
from daemon.store import T_MESSAGE
from rules.trend import Trend


@dataclass(slots=True)
class Conversation:
    """One active ticket's scored customer messages up to `now`, oldest first."""

    source: str
    ticket_id: str
    count: int
    scores: list[float]
    last_id: int
    last_signals: tuple[str, ...]
    trend: Trend = field(init=False)


def active_tickets(scope: Scope) -> Any:
    """(source, ticket_id) of tickets with a scored customer message in the window."""
    return sa.select(T_MESSAGE.c.source, T_MESSAGE.c.ticket_id).where(
        CUSTOMER_SCORED & (T_MESSAGE.c.created_at > scope.start)
        & (T_MESSAGE.c.created_at <= scope.now) & where_source(T_MESSAGE, scope)
    ).distinct().subquery()


def conversations(conn: Connection, scope: Scope, trend: TrendSettings) -> list[Conversation]:
    """Every ticket with a scored customer message in the window, with its whole scored
    customer series up to `now` (what the rules saw last) and its trend.

    One query, in ticket order: the signals come as text on every row (most are "[]")
    and only each ticket's latest is parsed, which costs less than a second round of
    queries for the latest messages (numbering the rows in SQL with window functions,
    to send fewer, cost SQLite more than it saved)."""
    active = active_tickets(scope)
    query = sa.select(
        T_MESSAGE.c.source, T_MESSAGE.c.ticket_id, T_MESSAGE.c.id, T_MESSAGE.c.score,
        sa.cast(T_MESSAGE.c.signals, sa.Text),
    ).join(active, (T_MESSAGE.c.source == active.c.source)
           & (T_MESSAGE.c.ticket_id == active.c.ticket_id)).where(
        CUSTOMER_SCORED & (T_MESSAGE.c.created_at <= scope.now)
    ).order_by(T_MESSAGE.c.source, T_MESSAGE.c.ticket_id, T_MESSAGE.c.created_at,
               T_MESSAGE.c.id)
    # fetchall: one driver call; iterating the result fetches row by row (slower).
    rows = conn.execute(query).all()
    out: list[Conversation] = []
    first = 0  # the current ticket's first row
    for end in range(1, len(rows) + 1):
        if end < len(rows) and rows[end][1] == rows[first][1] and rows[end][0] == rows[first][0]:
            continue
        source, ticket_id, last_id, _, raw = rows[end - 1]
        scores = [float(row[3]) for row in rows[first:end]]
        conversation = Conversation(source, ticket_id, end - first, scores, last_id,
                                    signals(raw))
        conversation.trend = trend.trend(scores)
        out.append(conversation)
        first = end
    return out


def series(conn: Connection, keys: Sequence[tuple[str, str]], now: datetime
           ) -> dict[tuple[str, str], list[tuple[float, datetime]]]:
    """Whole scored customer series (score, time) of a few tickets, oldest first."""
    out: dict[tuple[str, str], list[tuple[float, datetime]]] = {k: [] for k in keys}
    by_source: dict[str, list[str]] = defaultdict(list)
    for source, ticket_id in keys:
        by_source[source].append(ticket_id)
    for source, ids in by_source.items():
        for start in range(0, len(ids), 500):
            rows = conn.execute(sa.select(
                T_MESSAGE.c.ticket_id, T_MESSAGE.c.score, T_MESSAGE.c.created_at).where(
                (T_MESSAGE.c.source == source)
                & T_MESSAGE.c.ticket_id.in_(ids[start:start + 500])
                & CUSTOMER_SCORED & (T_MESSAGE.c.created_at <= now)
            ).order_by(T_MESSAGE.c.ticket_id, T_MESSAGE.c.created_at, T_MESSAGE.c.id))
            for ticket_id, score, created_at in rows:
                out[(source, ticket_id)].append((float(score), created_at))
    return out
