"""How good the escalations are, by the agents' own marks: per rule, how often it fired,
how often an agent called it a false alarm, how many tickets it missed, its precision;
and how often the scorer's model verdict was overruled by the evidence.

Counts are over the window (no upper bound: a mark made after `now` still counts);
a false alarm counts in the window it was marked in.  `precision` is
(fired - false alarms) / fired, null when the rule did not fire.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from daemon.insights.common import Scope
from daemon.store import T_ESCALATION, T_MESSAGE

_COLUMN = {"fire": "fired", "false_alarm": "false_alarms", "missed": "missed"}


def rule_quality(conn: Connection, scope: Scope) -> dict[str, Any]:
    """`{"rules": {NAME: {fired, false_alarms, missed, precision}}, "scorer_disagreements": N}`."""
    where = (T_ESCALATION.c.at > scope.start) \
        & T_ESCALATION.c.kind.in_(tuple(_COLUMN))
    message_where = (T_MESSAGE.c.created_at > scope.start) & T_MESSAGE.c.score.is_not(None)
    if scope.source:
        where = where & (T_ESCALATION.c.source == scope.source)
        message_where = message_where & (T_MESSAGE.c.source == scope.source)
    counts = conn.execute(sa.select(T_ESCALATION.c.rule, T_ESCALATION.c.kind,
                                    sa.func.count()).where(where).group_by(
        T_ESCALATION.c.rule, T_ESCALATION.c.kind)).all()
    # JSON lists are stored as text on SQLite and json on PostgreSQL: the signal's
    # quoted name is found in both renderings.
    disagreements = conn.execute(sa.select(sa.func.count()).where(
        message_where & sa.cast(T_MESSAGE.c.signals, sa.Text).like(
            '%"scorer_disagreement"%'))).scalar() or 0
    table: dict[str, dict[str, Any]] = {}
    for rule, kind, count in counts:
        table.setdefault(rule, {"fired": 0, "false_alarms": 0, "missed": 0})
        table[rule][_COLUMN[kind]] += int(count)
    for row in table.values():
        fired = row["fired"]
        row["precision"] = (round(max(0, fired - row["false_alarms"]) / fired, 3)
                            if fired else None)
    return {"rules": dict(sorted(table.items())), "scorer_disagreements": int(disagreements)}
