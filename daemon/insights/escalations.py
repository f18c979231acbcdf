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
    Scope,
    feedback_of,
    marked_false_alarm,
    possibly_marked,
    where_source,
)
from daemon.store import T_ESCALATION, T_FEEDBACK, T_RULE


def outcomes(conn: Connection, scope: Scope) -> list[dict[str, Any]]:
    """Per rule: firings in the window, tickets, and each ticket's outcome now."""
    fired = sa.select(
        T_ESCALATION.c.rule, T_ESCALATION.c.source, T_ESCALATION.c.ticket_id,
        sa.func.count().label("fires"),
    ).where((T_ESCALATION.c.kind == "fire")
            & (T_ESCALATION.c.at > scope.start) & (T_ESCALATION.c.at <= scope.now)
            & where_source(T_ESCALATION, scope)
            ).group_by(T_ESCALATION.c.rule, T_ESCALATION.c.source,
                       T_ESCALATION.c.ticket_id).subquery()
    query = sa.select(fired.c.rule, fired.c.fires, T_RULE.c.state,
                      T_FEEDBACK.c.false_alarm_at, possibly_marked(T_RULE.c.history),
                      ).select_from(fired.outerjoin(
                          T_RULE, (T_RULE.c.source == fired.c.source)
                          & (T_RULE.c.ticket_id == fired.c.ticket_id)
                          & (T_RULE.c.rule == fired.c.rule)).outerjoin(
                          T_FEEDBACK, feedback_of(fired.c)))
    rules: dict[str, dict[str, Any]] = {}
    for rule, fires, state, false_alarm_at, history in conn.execute(query).all():
        entry = rules.get(rule)
        if entry is None:
            entry = rules[rule] = {"rule": rule, "fired": 0, "tickets": 0, "active": 0,
                                   "resolved": 0, "false_alarm": 0}
        entry["fired"] += int(fires)
        entry["tickets"] += 1
        if marked_false_alarm(false_alarm_at, history):
            entry["false_alarm"] += 1
        elif state == "resolved":
            entry["resolved"] += 1
        else:
            entry["active"] += 1
    return [rules[name] for name in sorted(rules)]


def active_rules(conn: Connection, scope: Scope) -> dict[tuple[str, str], list[str]]:
    """Per (source, ticket): the rules firing on it now that no agent marked false."""
    rows = conn.execute(sa.select(
        T_RULE.c.source, T_RULE.c.ticket_id, T_RULE.c.rule, T_FEEDBACK.c.false_alarm_at,
        possibly_marked(T_RULE.c.history),
    ).select_from(T_RULE.outerjoin(T_FEEDBACK, feedback_of(T_RULE.c))).where(
        (T_RULE.c.state == "firing") & where_source(T_RULE, scope))).all()
    out: dict[tuple[str, str], list[str]] = defaultdict(list)
    for source, ticket_id, rule, false_alarm_at, history in rows:
        if not marked_false_alarm(false_alarm_at, history):
            out[(source, ticket_id)].append(rule)
    return out
