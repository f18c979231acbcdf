"""The conversations a view covers: every ticket with a scored customer message in the
window, with the trend the rules would compute from its whole scored series up to `now`.

This is the hot path of the overview and the at-risk page (thousands of tickets in a
30-day window), so it reads one `ticket_series` row per active ticket (the store keeps
it equal to the ticket's scored customer messages) rather than every message.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from daemon.insights.common import Scope, TrendSettings, signals, where_source
from daemon.store import CUSTOMER_SCORED, T_MESSAGE, T_SERIES
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


def conversations(conn: Connection, scope: Scope, trend: TrendSettings) -> list[Conversation]:
    """Every ticket with a scored customer message in the window, with its whole scored
    customer series up to `now` (what the rules saw last) and its trend, in ticket order.

    Read from `ticket_series` (one row per ticket, kept equal to what `message` holds by
    every write, daemon/store/series.py): a ticket whose latest scored message is in the
    window is active, and its row is its series up to `now`.  The few tickets with a
    message after `now` (a helpdesk clock ahead, a `now` in the past) are read from
    `message`, cut at `now`."""
    rows = conn.execute(sa.select(
        T_SERIES.c.source, T_SERIES.c.ticket_id, sa.cast(T_SERIES.c.scores, sa.Text),
        T_SERIES.c.last_id, sa.cast(T_SERIES.c.last_signals, sa.Text),
    ).where((T_SERIES.c.last_at > scope.start) & (T_SERIES.c.last_at <= scope.now)
            & where_source(T_SERIES, scope))).all()
    out = []
    for source, ticket_id, scores_text, last_id, raw in rows:
        scores = [float(score) for score in json.loads(scores_text)]
        conversation = Conversation(source, ticket_id, len(scores), scores, last_id,
                                    signals(raw))
        conversation.trend = trend.trend(scores)
        out.append(conversation)
    later = conn.execute(sa.select(T_SERIES.c.source, T_SERIES.c.ticket_id).where(
        (T_SERIES.c.last_at > scope.now) & where_source(T_SERIES, scope))).all()
    if later:
        out += from_messages(conn, scope, trend, [(s, t) for s, t in later])
    out.sort(key=lambda c: (c.source, c.ticket_id))
    return out


def from_messages(conn: Connection, scope: Scope, trend: TrendSettings,
                  keys: Sequence[tuple[str, str]]) -> list[Conversation]:
    """`conversations` of these tickets read from `message` (one query per 500)."""
    out: list[Conversation] = []
    for start in range(0, len(keys), 500):
        chunk = keys[start:start + 500]
        query = sa.select(
            T_MESSAGE.c.source, T_MESSAGE.c.ticket_id, T_MESSAGE.c.id, T_MESSAGE.c.score,
            sa.cast(T_MESSAGE.c.signals, sa.Text),
            sa.case((T_MESSAGE.c.created_at > scope.start, 1), else_=0),
        ).where(sa.tuple_(T_MESSAGE.c.source, T_MESSAGE.c.ticket_id).in_(list(chunk))
                & CUSTOMER_SCORED & (T_MESSAGE.c.created_at <= scope.now)
                ).order_by(T_MESSAGE.c.source, T_MESSAGE.c.ticket_id,
                           T_MESSAGE.c.created_at, T_MESSAGE.c.id)
        rows = conn.execute(query).all()
        first = 0  # the current ticket's first row
        for end in range(1, len(rows) + 1):
            if end < len(rows) and rows[end][:2] == rows[first][:2]:
                continue
            source, ticket_id, last_id, _, raw, recent = rows[end - 1]
            if recent:  # its latest scored message up to `now` is in the window
                scores = [float(row[3]) for row in rows[first:end]]
                conversation = Conversation(source, ticket_id, end - first, scores,
                                            last_id, signals(raw))
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
