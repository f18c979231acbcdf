"""The tickets most at risk now: active in the window with a reason to worry (a decline,
a negative recent average, a very negative last message, a worrying signal, a rule
still firing), worst recent average first, each with the reasons in a lead's words.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from daemon.insights.common import (
    NEGATIVE_BELOW,
    VERY_NEGATIVE_BELOW,
    Scope,
    excerpt,
    iso,
)
from daemon.insights.conversations import Conversation, series
from daemon.insights.escalations import active_rules
from daemon.store import T_MESSAGE, T_TICKET

#: Signals worth a sentence on the at-risk page, in words a lead reads.
SIGNAL_WORDS = {"churn_risk": "talks about cancelling", "legal_threat": "mentions legal steps",
                "manager_request": "asks for a manager", "abusive": "is abusive",
                "urgent": "says it is urgent", "repeat_contact": "says they have written before"}


def at_risk(conn: Connection, scope: Scope, conversations: list[Conversation],
            limit: int) -> list[dict[str, Any]]:
    """Tickets active in the window with a reason to worry, worst recent average first."""
    active = active_rules(conn, scope)
    candidates = []
    for conversation in conversations:
        key = (conversation.source, conversation.ticket_id)
        reasons = reasons_for(conversation, active.get(key, []))
        if reasons:
            candidates.append((conversation, reasons))
    candidates.sort(key=lambda c: (c[0].trend.current_avg, c[0].scores[-1], c[0].source,
                                   c[0].ticket_id))
    chosen = candidates[:limit]
    keys = [(c.source, c.ticket_id) for c, _ in chosen]
    tickets = _tickets(conn, keys)
    scored = series(conn, keys, scope.now)
    bodies = _bodies(conn, [c.last_id for c, _ in chosen])
    return [_row(conversation, reasons, tickets.get((conversation.source,
                                                     conversation.ticket_id), {}),
                 scored[(conversation.source, conversation.ticket_id)],
                 bodies.get(conversation.last_id),
                 active.get((conversation.source, conversation.ticket_id), []))
            for conversation, reasons in chosen]


def _row(conversation: Conversation, reasons: list[str], ticket: dict[str, Any],
         scored: list[Any], body: str | None, rules: list[str]) -> dict[str, Any]:
    trend = conversation.trend
    return {
        "source": conversation.source, "ticket_id": conversation.ticket_id,
        "url": ticket.get("url") or "", "subject": ticket.get("subject") or "",
        "customer": ticket.get("requester"), "priority": ticket.get("priority"),
        "status": ticket.get("status"), "assignee": ticket.get("assignee"),
        "group": ticket.get("assignee_group"),
        "recent_avg": trend.current_avg, "last_score": round(conversation.scores[-1], 2),
        "trend": trend.trend, "direction": trend.direction,
        "messages": conversation.count,
        "scores": [round(score, 3) for score, _ in scored[-30:]],
        "last_message_at": iso(scored[-1][1]) if scored else None,
        "last_message_excerpt": excerpt(body),
        "active_rules": sorted(rules),
        "reasons": reasons}


def reasons_for(conversation: Conversation, active_rules: Sequence[str]) -> list[str]:
    """Why a ticket is at risk, in plain words; empty when nothing is worrying."""
    reasons = []
    trend = conversation.trend
    if trend.trend == "declining":
        reasons.append(f"Getting worse: sentiment fell {abs(trend.direction):.2f} since "
                       f"the start of the conversation (recent average "
                       f"{trend.current_avg:+.2f}).")
    elif trend.current_avg < NEGATIVE_BELOW:
        reasons.append(f"Recent messages are negative on average "
                       f"({trend.current_avg:+.2f}).")
    last = conversation.scores[-1]
    if last < VERY_NEGATIVE_BELOW:
        reasons.append(f"The latest message is very negative ({last:+.2f}).")
    said = [SIGNAL_WORDS[s] for s in sorted(conversation.last_signals) if s in SIGNAL_WORDS]
    if said:
        reasons.append("In the latest message the customer " + ", ".join(said) + ".")
    if active_rules:
        reasons.append("Escalated and still active: " + ", ".join(sorted(active_rules)) + ".")
    return reasons


def _tickets(conn: Connection, keys: Sequence[tuple[str, str]]
             ) -> dict[tuple[str, str], dict[str, Any]]:
    out: dict[tuple[str, str], dict[str, Any]] = {}
    by_source: dict[str, list[str]] = defaultdict(list)
    for source, ticket_id in keys:
        by_source[source].append(ticket_id)
    for source, ids in by_source.items():
        for start in range(0, len(ids), 500):
            for row in conn.execute(sa.select(T_TICKET).where(
                    (T_TICKET.c.source == source)
                    & T_TICKET.c.ticket_id.in_(ids[start:start + 500]))).mappings():
                out[(source, row["ticket_id"])] = dict(row)
    return out


def _bodies(conn: Connection, ids: Sequence[int]) -> dict[int, str | None]:
    if not ids:
        return {}
    return {row_id: body for row_id, body in conn.execute(sa.select(
        T_MESSAGE.c.id, T_MESSAGE.c.body).where(T_MESSAGE.c.id.in_(list(ids))))}
