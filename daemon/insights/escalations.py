"""Escalations and their outcomes: per rule that fired in the window, how many tickets it
escalated and what each one's persisted rule state says now (still active, resolved, or
marked a false alarm by an agent); and which rules are still active on each ticket.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from daemon.insights.common import (
    FALSE_ALARM_COLUMNS,
    Scope,
    false_alarm,
    feedback_of,
    where_source,
    with_history,
)
from daemon.store import T_ESCALATION, T_FEEDBACK, T_RULE


def outcomes(conn: Connection, scope: Scope) -> list[dict[str, Any]]:
    """Per rule: firings in the window, tickets, and each ticket's outcome now."""
    fired = sa.select(
        T_ESCALATION.c.rule, T_ESCALATION.c.source, T_ESCALATION.c.ticket_id,
        sa.func.count().label("fires"),
    ).where((T_ESCALATION.c.kind == "fire") & T_ESCALATION.c.backfill.is_(False)
            & (T_ESCALATION.c.at > scope.start) & (T_ESCALATION.c.at <= scope.now)
            & where_source(T_ESCALATION, scope)
            ).group_by(T_ESCALATION.c.rule, T_ESCALATION.c.source,
                       T_ESCALATION.c.ticket_id).subquery()
    query = sa.select(fired.c.rule, fired.c.fires, T_RULE.c.state,
                      sa.cast(T_RULE.c.history, sa.Text).label("history"),
                      *FALSE_ALARM_COLUMNS).select_from(fired.outerjoin(
                          T_RULE, (T_RULE.c.source == fired.c.source)
                          & (T_RULE.c.ticket_id == fired.c.ticket_id)
                          & (T_RULE.c.rule == fired.c.rule)).outerjoin(
                          T_FEEDBACK, feedback_of(fired.c)))
    rules: dict[str, dict[str, Any]] = {}
    for row in conn.execute(query).mappings():
        entry = rules.setdefault(row["rule"], {"rule": row["rule"], "fired": 0,
                                               "tickets": 0, "active": 0, "resolved": 0,
                                               "false_alarm": 0})
        entry["fired"] += int(row["fires"])
        entry["tickets"] += 1
        if false_alarm(with_history(row)):
            entry["false_alarm"] += 1
        elif row["state"] == "resolved":
            entry["resolved"] += 1
        else:
            entry["active"] += 1
    return [rules[name] for name in sorted(rules)]


def active_rules(conn: Connection, scope: Scope) -> dict[tuple[str, str], list[str]]:
    """Per (source, ticket): the rules firing on it now that no agent marked false."""
    # The history is read as text and parsed only when it may hold a mark: there is
    # one row per firing (ticket, rule), thousands on a busy helpdesk.
    rows = conn.execute(sa.select(
        T_RULE.c.source, T_RULE.c.ticket_id, T_RULE.c.rule,
        sa.cast(T_RULE.c.history, sa.Text).label("history"), *FALSE_ALARM_COLUMNS,
    ).select_from(T_RULE.outerjoin(T_FEEDBACK, feedback_of(T_RULE.c))).where(
        (T_RULE.c.state == "firing") & where_source(T_RULE, scope))).mappings()
    out: dict[tuple[str, str], list[str]] = defaultdict(list)
    for row in rows:
        if not false_alarm(with_history(row)):
            out[(row["source"], row["ticket_id"])].append(row["rule"])
    return out
