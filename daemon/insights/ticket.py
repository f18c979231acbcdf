"""One ticket as a lead opens it: its messages with scores and indicators, the trend the
rules see, every rule firing, and each rule's outcome now.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from daemon.insights.common import (
    FALSE_ALARM_COLUMNS,
    TrendSettings,
    excerpt,
    false_alarm,
    feedback_of,
    iso,
    rounded,
)
from daemon.store import T_ESCALATION, T_FEEDBACK, T_MESSAGE, T_RULE, T_TICKET

#: Bounds on what one ticket page reads, however long the conversation.
MAX_MESSAGES = 5000
MAX_EVENTS = 1000


def ticket(conn: Connection, source: str, ticket_id: str, now: datetime,
           trend: TrendSettings) -> dict[str, Any] | None:
    """One ticket: its messages with scores and indicators, rule firings, outcomes."""
    snapshot = conn.execute(sa.select(T_TICKET).where(
        (T_TICKET.c.source == source) & (T_TICKET.c.ticket_id == ticket_id)
    )).mappings().first()
    messages = _messages(conn, source, ticket_id, now)
    if snapshot is None and not messages:
        return None
    scores = [float(m["score"]) for m in messages
              if m["author_role"] == "customer" and m["score"] is not None]
    found = trend.trend(scores)
    info = dict(snapshot) if snapshot else {"source": source, "ticket_id": ticket_id}
    return {
        "source": source, "ticket_id": ticket_id, "url": info.get("url") or "",
        "subject": info.get("subject") or "", "customer": info.get("requester"),
        "priority": info.get("priority"), "status": info.get("status"),
        "assignee": info.get("assignee"), "group": info.get("assignee_group"),
        "tags": list(info.get("tags") or []),
        "trend": {"trend": found.trend, "direction": found.direction,
                  "current_avg": found.current_avg, "method": found.method},
        "messages": [_message(m) for m in messages],
        "events": [{"rule": e["rule"], "kind": e["kind"], "reason": e["reason"],
                    "numbers": dict(e["numbers"] or {}), "at": iso(e["at"])}
                   for e in _events(conn, source, ticket_id)],
        "rules": [{"rule": s["rule"], "outcome": "false alarm" if false_alarm(s) else
                   ("resolved" if s["state"] == "resolved" else "active")}
                  for s in _states(conn, source, ticket_id)],
    }


def _message(m: RowMapping) -> dict[str, Any]:
    return {"message_id": m["message_id"], "role": m["author_role"],
            "author": m["author_name"] or m["author_id"], "public": bool(m["public"]),
            "at": iso(m["created_at"]), "score": rounded(m["score"], 3),
            "label": m["label"], "indicators": list(m["indicators"] or []),
            "signals": list(m["signals"] or []), "excerpt": excerpt(m["body"])}


def _messages(conn: Connection, source: str, ticket_id: str,
              now: datetime) -> Sequence[RowMapping]:
    return conn.execute(sa.select(
        T_MESSAGE.c.message_id, T_MESSAGE.c.author_role, T_MESSAGE.c.author_name,
        T_MESSAGE.c.author_id, T_MESSAGE.c.public, T_MESSAGE.c.created_at,
        T_MESSAGE.c.body, T_MESSAGE.c.score, T_MESSAGE.c.label,
        T_MESSAGE.c.indicators, T_MESSAGE.c.signals,
    ).where((T_MESSAGE.c.source == source) & (T_MESSAGE.c.ticket_id == ticket_id)
            & (T_MESSAGE.c.created_at <= now)).order_by(
        T_MESSAGE.c.created_at, T_MESSAGE.c.id).limit(MAX_MESSAGES)).mappings().all()


def _events(conn: Connection, source: str, ticket_id: str) -> Sequence[RowMapping]:
    return conn.execute(sa.select(
        T_ESCALATION.c.rule, T_ESCALATION.c.kind, T_ESCALATION.c.reason,
        T_ESCALATION.c.numbers, T_ESCALATION.c.at,
    ).where((T_ESCALATION.c.source == source) & (T_ESCALATION.c.ticket_id == ticket_id)
            ).order_by(T_ESCALATION.c.at, T_ESCALATION.c.id).limit(MAX_EVENTS)
    ).mappings().all()


def _states(conn: Connection, source: str, ticket_id: str) -> Sequence[RowMapping]:
    return conn.execute(sa.select(
        T_RULE.c.rule, T_RULE.c.state, T_RULE.c.history, *FALSE_ALARM_COLUMNS).select_from(
        T_RULE.outerjoin(T_FEEDBACK, feedback_of(T_RULE.c))).where(
        (T_RULE.c.source == source) & (T_RULE.c.ticket_id == ticket_id))).mappings().all()
