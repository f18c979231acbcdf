"""Retention: the customer's words and identity leave every table after a while; scores,
decisions and delivery records stay."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from daemon.store.database import Database
from daemon.store.models import (
    T_INCIDENT_CANDIDATE,
    T_INCIDENT_MEMBER,
    T_MESSAGE,
    T_OUTBOX,
    T_TICKET,
)
from daemon.store.series import Series
from vocab import aware


class Retention:
    def __init__(self, db: Database) -> None:
        self._db = db

    def purge_customer_text(self, older_than: datetime) -> dict[str, int]:
        """Remove the customer's words and identity from what is older than `older_than`.

        Messages lose body, author name and indicator phrases; tickets with no message
        since lose subject and requester; delivered or parked outbox rows lose their
        payload (notes and alerts quote the subject, customer and phrases); incident
        members lose their quoted sentence and subject, old incident candidates go."""
        cutoff = aware(older_than)
        with self._db.transaction() as conn:
            # An agent known by name only is told apart by it (`reply_pair.agent`): once
            # the name goes, their tickets' pairs are rewritten with what is left.
            named_only = conn.execute(sa.select(T_MESSAGE.c.source, T_MESSAGE.c.ticket_id).where(
                (T_MESSAGE.c.created_at < cutoff) & (T_MESSAGE.c.author_role == "agent")
                & T_MESSAGE.c.author_id.is_(None) & T_MESSAGE.c.author_name.is_not(None)
            ).distinct()).all()
            Series(self._db).lock(conn, {source for source, _ in named_only})
            messages = conn.execute(T_MESSAGE.update().where(
                (T_MESSAGE.c.created_at < cutoff)
                & (T_MESSAGE.c.body.is_not(None) | T_MESSAGE.c.author_name.is_not(None)
                   | _json_not_empty(T_MESSAGE.c.indicators, "[]"))
            ).values(body=None, author_name=None, indicators=[]))
            Series(self._db).refresh(conn, [(source, ticket) for source, ticket in named_only])
            recent = sa.select(T_MESSAGE.c.id).where(
                (T_MESSAGE.c.source == T_TICKET.c.source)
                & (T_MESSAGE.c.ticket_id == T_TICKET.c.ticket_id)
                & (T_MESSAGE.c.created_at >= cutoff))
            tickets = conn.execute(T_TICKET.update().where(
                (T_TICKET.c.updated_at < cutoff) & ~sa.exists(recent)
                & ((T_TICKET.c.subject != "") | T_TICKET.c.requester.is_not(None))
            ).values(subject="", requester=None))
            outbox = conn.execute(T_OUTBOX.update().where(
                (T_OUTBOX.c.created_at < cutoff) & T_OUTBOX.c.status.in_(["done", "parked"])
                & _json_not_empty(T_OUTBOX.c.payload, "{}")
            ).values(payload={}))
            # Incidents quote their members' sentences and subjects: kept while an incident
            # can still be announced, cleared like the messages they quote afterwards.
            members = conn.execute(T_INCIDENT_MEMBER.update().where(
                (T_INCIDENT_MEMBER.c.joined_at < cutoff)
                & ((T_INCIDENT_MEMBER.c.phrase != "") | (T_INCIDENT_MEMBER.c.subject != ""))
            ).values(phrase="", subject=""))
            candidates = conn.execute(T_INCIDENT_CANDIDATE.delete().where(
                T_INCIDENT_CANDIDATE.c.at < cutoff))
            return {"messages": int(messages.rowcount or 0),
                    "tickets": int(tickets.rowcount or 0),
                    "outbox": int(outbox.rowcount or 0),
                    "incident_members": int(members.rowcount or 0),
                    "incident_candidates": int(candidates.rowcount or 0)}


def _json_not_empty(column: Any, empty: str) -> Any:
    """`column` holds something other than `empty` (JSON has no equality on PostgreSQL,
    so the comparison is on its text, which both databases write without spaces)."""
    return column.is_not(None) & sa.cast(column, sa.Text).not_in([empty, "null"])
