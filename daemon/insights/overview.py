"""The overview's figures: the article's three numbers, per-day volume and mean, and the
same figures per source and per language.  The database adds up each ticket's customer
messages of the window in one pass (`ticket_figures`); the summary and the breakdowns
add those rows up, so they agree with each other by construction.  Only the declining
count comes from the conversations (the rules' trend is not SQL).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from daemon.insights.common import (
    NEGATIVE_BELOW,
    Scope,
    TrendSettings,
    in_window,
    rounded,
    where_source,
)
from daemon.insights.conversations import Conversation
from daemon.store import T_MESSAGE


def summary(conn: Connection, scope: Scope, trend: TrendSettings,
            tickets: list[TicketFigures], conversations: list[Conversation]
            ) -> dict[str, Any]:
    """The article's three numbers (declining as the rules define it) and volume."""
    agent_replies = conn.execute(sa.select(sa.func.count()).where(
        in_window(scope) & (T_MESSAGE.c.author_role == "agent") & T_MESSAGE.c.public)).scalar()
    figures = _figures(tickets)
    return {"avg_sentiment": figures["avg_sentiment"] if figures["scored_messages"] else 0,
            "scored_messages": figures["scored_messages"],
            "negative_tickets": figures["negative_tickets"],
            "declining_conversations": sum(1 for c in conversations
                                           if c.trend.trend == "declining"),
            "active_tickets": len(conversations),
            "agent_replies": int(agent_replies or 0),
            "trend_method": trend.method,
            "decline_threshold": trend.decline_threshold}


def daily(conn: Connection, scope: Scope, is_sqlite: bool) -> list[dict[str, Any]]:
    """Per UTC day of the window: customer messages and their mean score (read from
    ix_message_recent alone, without touching the rows)."""
    first_day = (scope.now - timedelta(days=scope.days - 1)).date()
    since = datetime.combine(first_day, datetime.min.time(), tzinfo=scope.now.tzinfo)
    # SQLite keeps times as 'YYYY-MM-DD HH:MM:SS...' text: its prefix is the UTC day,
    # much cheaper than date() on every row.
    day = (sa.func.substr(T_MESSAGE.c.created_at, 1, 10) if is_sqlite
           else sa.func.date(T_MESSAGE.c.created_at)).label("day")
    rows = conn.execute(sa.select(
        day, sa.func.count(), sa.func.avg(T_MESSAGE.c.score),
        sa.func.count(T_MESSAGE.c.score),
    ).where((T_MESSAGE.c.created_at >= since) & (T_MESSAGE.c.created_at <= scope.now)
            & (T_MESSAGE.c.author_role == "customer")
            & where_source(T_MESSAGE, scope)).group_by(day)).all()
    by_day = {str(r[0]): r for r in rows}
    out = []
    for offset in range(scope.days):
        current: date = first_day + timedelta(days=offset)
        row = by_day.get(current.isoformat())
        scored = int(row[3] or 0) if row else 0
        out.append({"day": current.isoformat(),
                    "customer_messages": int(row[1] or 0) if row else 0,
                    "scored_messages": scored,
                    "avg_sentiment": rounded(row[2]) if row and scored else None})
    return out


def by_source(tickets: list[TicketFigures],
              conversations: list[Conversation]) -> list[dict[str, Any]]:
    """Per source: scored customer messages, mean, tickets, negative and declining ones."""
    declining: dict[str, int] = defaultdict(int)
    for conversation in conversations:
        if conversation.trend.trend == "declining":
            declining[conversation.source] += 1
    groups: dict[str, list[TicketFigures]] = defaultdict(list)
    for figures in tickets:
        if figures.scored:
            groups[figures.source].append(figures)
    return _ordered([{"source": source, **_figures(group),
                      "declining_conversations": declining.get(source, 0)}
                     for source, group in groups.items()], "source")


def by_language(tickets: list[TicketFigures]) -> list[dict[str, Any]]:
    """Per language: the same figures, and the customer messages the scorer could not
    read (a language it does not know), which no average includes."""
    groups: dict[str, list[TicketFigures]] = defaultdict(list)
    unread: dict[str | None, int] = defaultdict(int)
    for figures in tickets:
        if figures.scored:
            groups[figures.language if figures.language is not None else "unknown"].append(
                figures)
        if figures.unread:
            unread[figures.language] += figures.unread
    out = [{"language": language, **_figures(group),
            "unsupported": unread.pop(language, 0)} for language, group in groups.items()]
    out += [{"language": value or "unknown", "scored_messages": 0, "avg_sentiment": None,
             "tickets": 0, "negative_tickets": 0, "unsupported": n}
            for value, n in unread.items()]
    return _ordered(out, "language")


@dataclass(frozen=True, slots=True)
class TicketFigures:
    """One ticket's customer messages of the window in one language: how many were
    scored, their total and lowest score, and how many the scorer could not read."""

    source: str
    ticket_id: str
    language: str | None
    scored: int
    total: float
    lowest: float | None
    unread: int


def ticket_figures(conn: Connection, scope: Scope) -> list[TicketFigures]:
    """Per ticket and language, the customer messages of the window: one pass over the
    window feeds the summary and both breakdowns, which add these rows up."""
    readable = T_MESSAGE.c.score.is_not(None) & T_MESSAGE.c.language_supported.is_not(False)
    readable_score = sa.case((readable, T_MESSAGE.c.score), else_=None)
    rows = conn.execute(sa.select(
        T_MESSAGE.c.source, T_MESSAGE.c.ticket_id, T_MESSAGE.c.language,
        sa.func.count(readable_score), sa.func.sum(readable_score),
        sa.func.min(readable_score),
        sa.func.count(sa.case((T_MESSAGE.c.language_supported.is_(False), 1), else_=None)),
    ).where(in_window(scope) & (T_MESSAGE.c.author_role == "customer")).group_by(
        T_MESSAGE.c.source, T_MESSAGE.c.ticket_id, T_MESSAGE.c.language)).all()
    return [TicketFigures(source, ticket_id, language, int(scored), float(total or 0.0),
                          lowest, int(unread))
            for source, ticket_id, language, scored, total, lowest, unread in rows]


def _figures(tickets: list[TicketFigures]) -> dict[str, Any]:
    """Scored messages, their mean, tickets and negative tickets over these rows."""
    scored = sum(t.scored for t in tickets)
    scored_tickets = {(t.source, t.ticket_id) for t in tickets if t.scored}
    negative = {(t.source, t.ticket_id) for t in tickets
                if t.lowest is not None and t.lowest < NEGATIVE_BELOW}
    return {"scored_messages": scored,
            "avg_sentiment": rounded(math.fsum(t.total for t in tickets) / scored)
            if scored else None,
            "tickets": len(scored_tickets), "negative_tickets": len(negative)}


def _ordered(rows: list[dict[str, Any]], column: str) -> list[dict[str, Any]]:
    rows.sort(key=lambda r: (-r["scored_messages"], str(r[column])))
    return rows
