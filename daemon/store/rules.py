"""Rule state and escalations: per-(ticket, rule) history, the escalation log, and the
agents' marks on escalations (rules.feedback)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from daemon.store.database import Database, chunks
from daemon.store.models import T_ESCALATION, T_FEEDBACK, T_RULE, T_TICKET
from vocab import aware

_SOURCE_P: sa.BindParameter[str] = sa.bindparam("source")
_IDS_P: sa.BindParameter[list[str]] = sa.bindparam("ids", expanding=True)
_RULE_STATES = sa.select(T_RULE.c.ticket_id, T_RULE.c.rule, T_RULE.c.history).where(
    (T_RULE.c.source == _SOURCE_P) & T_RULE.c.ticket_id.in_(_IDS_P))
_FEEDBACK = sa.select(T_FEEDBACK).where(
    (T_FEEDBACK.c.source == _SOURCE_P) & T_FEEDBACK.c.ticket_id.in_(_IDS_P))
_FIRE = (T_ESCALATION.c.source == _SOURCE_P) & (T_ESCALATION.c.kind == "fire")
_FIRES_ON_TICKETS = sa.select(T_ESCALATION.c.ticket_id, sa.func.count()).where(
    _FIRE & T_ESCALATION.c.ticket_id.in_(_IDS_P)).group_by(T_ESCALATION.c.ticket_id)
_FIRES_FOR_REQUESTERS = sa.select(
    T_TICKET.c.requester, T_ESCALATION.c.ticket_id, sa.func.count()).select_from(
    T_ESCALATION.join(T_TICKET, (T_TICKET.c.source == T_ESCALATION.c.source)
                      & (T_TICKET.c.ticket_id == T_ESCALATION.c.ticket_id))).where(
    _FIRE & (T_TICKET.c.source == _SOURCE_P)
    & T_TICKET.c.requester.in_(sa.bindparam("requesters", expanding=True))).group_by(
    T_TICKET.c.requester, T_ESCALATION.c.ticket_id)
_FEEDBACK_UPDATES = ["fire_count", "tag_seen", "false_alarm_at", "false_alarm_via",
                     "muted_message_id", "missed_at", "flag_present", "updated_at"]


class Rules:
    """What the rules remember per ticket, and what they decided."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def states(self, conn: Connection, source: str,
               ticket_ids: Sequence[str]) -> dict[str, dict[str, dict[str, Any]]]:
        """ticket -> rule -> its stored history (rules.lifecycle.RuleHistory as JSON)."""
        out: dict[str, dict[str, dict[str, Any]]] = {}
        for chunk in chunks(list(ticket_ids)):
            for ticket_id, rule, history in conn.execute(
                    _RULE_STATES, {"source": source, "ids": chunk}):
                out.setdefault(ticket_id, {})[rule] = dict(history or {})
        return out

    def save_states(self, conn: Connection, rows: list[dict[str, Any]]) -> None:
        self._db.upsert(conn, T_RULE, ["source", "ticket_id", "rule"], rows,
                        ["state", "history", "updated_at", "due_at"])

    def due_tickets(self, source: str, now: datetime, limit: int = 1000) -> list[str]:
        """Tickets with a firing rule whose resolve timer has run out."""
        with self._db.reading() as conn:
            return list(conn.execute(sa.select(T_RULE.c.ticket_id).where(
                (T_RULE.c.source == source) & (T_RULE.c.state == "firing")
                & T_RULE.c.due_at.is_not(None) & (T_RULE.c.due_at <= aware(now))
            ).distinct().limit(limit)).scalars())

    def feedback(self, conn: Connection, source: str,
                 ticket_ids: Sequence[str]) -> dict[str, dict[str, dict[str, Any]]]:
        """ticket -> rule -> the agents'-marks record (rules.feedback.FeedbackState)."""
        out: dict[str, dict[str, dict[str, Any]]] = {}
        for chunk in chunks(list(ticket_ids)):
            for row in conn.execute(_FEEDBACK, {"source": source, "ids": chunk}).mappings():
                record = dict(row)
                for key in ("false_alarm_at", "missed_at"):
                    record[key] = aware(record[key])
                out.setdefault(row["ticket_id"], {})[row["rule"]] = record
        return out

    def save_feedback(self, conn: Connection, rows: list[dict[str, Any]]) -> None:
        self._db.upsert(conn, T_FEEDBACK, ["source", "ticket_id", "rule"], rows,
                        _FEEDBACK_UPDATES)

    def log_escalations(self, conn: Connection, rows: list[dict[str, Any]]) -> None:
        self._db.write_many(conn, T_ESCALATION, T_ESCALATION.insert(), rows)

    def escalations_before(self, conn: Connection, source: str,
                           requesters: Mapping[str, str | None]) -> dict[str, tuple[int, int]]:
        """ticket -> (its escalations, those of its requester's other tickets on the same
        source) logged so far, for the tickets of `requesters` (ticket -> requester): what
        an alert tells the agent (daemon.alerting).  Two indexed reads for a whole batch."""
        out = dict.fromkeys(requesters, (0, 0))
        on_ticket: dict[str, int] = {}
        for chunk in chunks(list(requesters)):
            on_ticket.update((ticket_id, int(count)) for ticket_id, count in conn.execute(
                _FIRES_ON_TICKETS, {"source": source, "ids": chunk}))
        per_customer: dict[str, dict[str, int]] = {}
        for chunk in chunks(sorted({r for r in requesters.values() if r})):
            for requester, ticket_id, count in conn.execute(
                    _FIRES_FOR_REQUESTERS, {"source": source, "requesters": chunk}):
                per_customer.setdefault(requester, {})[ticket_id] = int(count)
        for ticket_id, requester in requesters.items():
            others = per_customer.get(requester or "", {})
            out[ticket_id] = (int(on_ticket.get(ticket_id, 0)),
                              sum(n for other, n in others.items() if other != ticket_id))
        return out
