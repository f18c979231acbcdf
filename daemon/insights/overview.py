"""The overview's figures: the article's three numbers, per-day volume and mean, and the
same figures per source and per language.  Aggregated by the database; only the
declining count comes from the conversations (the rules' trend is not SQL).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from daemon.insights.common import (
    CUSTOMER_SCORED,
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
            conversations: list[Conversation]) -> dict[str, Any]:
    """The article's three numbers (declining as the rules define it) and volume."""
    window = in_window(scope)
    avg, scored = conn.execute(sa.select(sa.func.avg(T_MESSAGE.c.score),
                                         sa.func.count(T_MESSAGE.c.score)).where(
        window & CUSTOMER_SCORED)).one()
    negative = sa.select(T_MESSAGE.c.source, T_MESSAGE.c.ticket_id).where(
        window & CUSTOMER_SCORED & (T_MESSAGE.c.score < NEGATIVE_BELOW)
    ).distinct().subquery()
    negative_tickets = conn.execute(sa.select(sa.func.count()).select_from(negative)).scalar()
    agent_replies = conn.execute(sa.select(sa.func.count()).where(
        window & (T_MESSAGE.c.author_role == "agent") & T_MESSAGE.c.public)).scalar()
    declining = sum(1 for c in conversations if c.trend.trend == "declining")
    return {"avg_sentiment": rounded(avg) if scored else 0,
            "scored_messages": int(scored or 0),
            "negative_tickets": int(negative_tickets or 0),
            "declining_conversations": declining,
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


def by_source(conn: Connection, scope: Scope,
              conversations: list[Conversation]) -> list[dict[str, Any]]:
    """Per source: scored customer messages, mean, negative and declining tickets."""
    out = _breakdown(conn, scope, "source")
    declining: dict[str, int] = defaultdict(int)
    for conversation in conversations:
        if conversation.trend.trend == "declining":
            declining[conversation.source] += 1
    for row in out:
        row["declining_conversations"] = declining.get(row["source"], 0)
    return _ordered(out, "source")


def by_language(conn: Connection, scope: Scope) -> list[dict[str, Any]]:
    """Per language: the same figures, and the customer messages the scorer could not
    read (a language it does not know), which no average includes."""
    key = T_MESSAGE.c.language
    out = _breakdown(conn, scope, "language")
    unread: dict[Any, int] = dict(conn.execute(sa.select(key, sa.func.count()).where(
        in_window(scope) & (T_MESSAGE.c.author_role == "customer")
        & T_MESSAGE.c.language_supported.is_(False)).group_by(key)).all())
    for row in out:
        row["unsupported"] = int(unread.pop(row["language"], 0))
    out += [{"language": value or "unknown", "scored_messages": 0, "avg_sentiment": None,
             "tickets": 0, "negative_tickets": 0, "unsupported": int(n)}
            for value, n in unread.items()]
    return _ordered(out, "language")


def _breakdown(conn: Connection, scope: Scope, column: str) -> list[dict[str, Any]]:
    """Customer messages, mean score, tickets and negative tickets per value of `column`."""
    key = T_MESSAGE.c[column]
    ticket = T_MESSAGE.c.source + "\x1f" + T_MESSAGE.c.ticket_id
    negative = sa.func.count(sa.distinct(sa.case(
        (T_MESSAGE.c.score < NEGATIVE_BELOW, ticket), else_=None)))
    rows = conn.execute(sa.select(key, sa.func.count(), sa.func.avg(T_MESSAGE.c.score),
                                  sa.func.count(sa.distinct(ticket)), negative).where(
        in_window(scope) & CUSTOMER_SCORED).group_by(key)).all()
    return [{column: value if value is not None else "unknown", "scored_messages": int(n),
             "avg_sentiment": rounded(avg), "tickets": int(tickets),
             "negative_tickets": int(neg)} for value, n, avg, tickets, neg in rows]


def _ordered(rows: list[dict[str, Any]], column: str) -> list[dict[str, Any]]:
    rows.sort(key=lambda r: (-r["scored_messages"], str(r[column])))
    return rows
