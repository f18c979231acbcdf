"""How good the escalations are, by the agents' own marks: per rule, how often it fired,
how often an agent called it a false alarm, how many tickets it missed, its precision;
and how often the scorer's model verdict was overruled by the evidence.

Kept apart from the dashboard's other numbers (daemon.report calls `rule_quality` and
`render_rule_quality`).  Counts are over the report's window, backfill excluded; a false
alarm counts in the window it was marked in.  `precision` is (fired - false alarms) /
fired, null when the rule did not fire.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from daemon.store import T_ESCALATION, T_MESSAGE, Store


def rule_quality(store: Store, *, days: int, source: str | None, now: datetime,
                 rule_names: list[str] | None = None) -> dict[str, Any]:
    """`{"rules": {NAME: {fired, false_alarms, missed, precision}}, "scorer_disagreements": N}`."""
    start = now - timedelta(days=days)
    where = (T_ESCALATION.c.at > start) \
        & T_ESCALATION.c.kind.in_(("fire", "false_alarm", "missed"))
    if source:
        where = where & (T_ESCALATION.c.source == source)
    message_where = (T_MESSAGE.c.created_at > start) & T_MESSAGE.c.score.is_not(None)
    if source:
        message_where = message_where & (T_MESSAGE.c.source == source)
    with store.reading() as conn:
        counts = conn.execute(sa.select(T_ESCALATION.c.rule, T_ESCALATION.c.kind,
                                        sa.func.count()).where(where).group_by(
            T_ESCALATION.c.rule, T_ESCALATION.c.kind)).all()
        # JSON lists are stored as text on SQLite and json on PostgreSQL: the signal's
        # quoted name is found in both renderings.
        disagreements = conn.execute(sa.select(sa.func.count()).where(
            message_where & sa.cast(T_MESSAGE.c.signals, sa.Text).like(
                '%"scorer_disagreement"%'))).scalar() or 0
    table: dict[str, dict[str, Any]] = {name: {"fired": 0, "false_alarms": 0, "missed": 0}
                                        for name in rule_names or ()}
    column = {"fire": "fired", "false_alarm": "false_alarms", "missed": "missed"}
    for rule, kind, count in counts:
        table.setdefault(rule, {"fired": 0, "false_alarms": 0, "missed": 0})
        table[rule][column[kind]] += int(count)
    for row in table.values():
        fired = row["fired"]
        row["precision"] = (round(max(0, fired - row["false_alarms"]) / fired, 3)
                            if fired else None)
    return {"rules": dict(sorted(table.items())), "scorer_disagreements": int(disagreements)}


def render_rule_quality(report: dict[str, Any]) -> list[str]:
    """The text report's lines for `rule_quality`."""
    rows = report.get("rules") or {}
    lines = ["Escalation quality (agents' marks)"]
    if not rows:
        lines.append("  no rules fired and no marks yet")
    else:
        width = max(len("rule"), *(len(name) for name in rows))
        lines.append(f"{'rule'.ljust(width)}  fired  false alarms  missed  precision")
        lines.append(f"{'-' * width}  -----  ------------  ------  ---------")
        for name, row in rows.items():
            precision = "-" if row["precision"] is None else f"{row['precision']:.2f}"
            lines.append(f"{name.ljust(width)}  {row['fired']:>5}  {row['false_alarms']:>12}  "
                         f"{row['missed']:>6}  {precision:>9}")
    lines.append(f"Scorer disagreements (model verdict overruled by the evidence): "
                 f"{report.get('scorer_disagreements', 0)}")
    return lines
