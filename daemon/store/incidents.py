"""Incidents: the sliding window's pool of candidates, open incidents and their members
(daemon/incidents.py decides; this keeps what it decided)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from daemon.store.database import Database, chunks
from daemon.store.models import T_INCIDENT, T_INCIDENT_CANDIDATE, T_INCIDENT_MEMBER, fit
from vocab import aware

_LOCK_KEY = 7364022  # the advisory lock that serialises incident evaluation
_INCIDENT_UPDATES = ["state", "terms", "topic", "last_member_at", "resolved_at", "updates",
                     "last_update_at", "members", "due_at"]
_TIMES = ("opened_at", "last_member_at", "resolved_at", "last_update_at", "due_at")
_MEMBER_FIELDS = ("source", "ticket_id", "url", "subject", "phrase", "joined_at")


class Incidents:
    """The incident tables."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def lock(self, conn: Connection) -> None:
        """Serialise incident evaluation across replicas until this transaction ends."""
        self._db.lock(conn, _LOCK_KEY)

    def window(self, conn: Connection, since: datetime,
               ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
        """(pooled candidates at or after `since`, open incidents, their members)."""
        candidates = [dict(r) for r in conn.execute(
            sa.select(T_INCIDENT_CANDIDATE).where(T_INCIDENT_CANDIDATE.c.at >= aware(since))
            .order_by(T_INCIDENT_CANDIDATE.c.at)).mappings()]
        incidents = [dict(r) for r in conn.execute(
            sa.select(T_INCIDENT).where(T_INCIDENT.c.state == "open")
            .order_by(T_INCIDENT.c.opened_at, T_INCIDENT.c.incident_id)).mappings()]
        members: list[dict[str, Any]] = []
        ids = [row["incident_id"] for row in incidents]
        if ids:
            members = [dict(r) for r in conn.execute(
                sa.select(T_INCIDENT_MEMBER).where(T_INCIDENT_MEMBER.c.incident_id.in_(ids))
                .order_by(T_INCIDENT_MEMBER.c.joined_at, T_INCIDENT_MEMBER.c.source,
                          T_INCIDENT_MEMBER.c.ticket_id)).mappings()]
        return candidates, incidents, members

    def save_window(self, conn: Connection, *, add_candidates: list[dict[str, Any]],
                    drop_candidates: list[tuple[str, str]], older_than: datetime,
                    incidents: list[dict[str, Any]], members: list[dict[str, Any]]) -> None:
        """Persist one evaluation: the pool's changes, touched incidents and members."""
        conn.execute(T_INCIDENT_CANDIDATE.delete().where(
            T_INCIDENT_CANDIDATE.c.at < aware(older_than)))
        for chunk in chunks(drop_candidates):
            conn.execute(T_INCIDENT_CANDIDATE.delete().where(
                sa.tuple_(T_INCIDENT_CANDIDATE.c.source, T_INCIDENT_CANDIDATE.c.message_id)
                .in_(list(chunk))))
        if add_candidates:
            conn.execute(self._db.insert_ignore(T_INCIDENT_CANDIDATE, ["source", "message_id"]),
                         fit(T_INCIDENT_CANDIDATE, add_candidates))
        self._db.upsert(conn, T_INCIDENT, ["incident_id"], incidents, _INCIDENT_UPDATES)
        self._db.upsert(conn, T_INCIDENT_MEMBER, ["incident_id", "source", "ticket_id"],
                        members, ["announced"])

    def due(self, now: datetime) -> bool:
        """Whether an open incident has an update to announce or a resolve due."""
        with self._db.reading() as conn:
            return conn.execute(sa.select(T_INCIDENT.c.incident_id).where(
                (T_INCIDENT.c.state == "open") & T_INCIDENT.c.due_at.is_not(None)
                & (T_INCIDENT.c.due_at <= aware(now))).limit(1)).first() is not None

    def tickets_in_open(self, conn: Connection, source: str,
                        ticket_ids: Sequence[str]) -> set[str]:
        """Which of these tickets are members of an open incident (`inhibited_by: [incident]`)."""
        out: set[str] = set()
        for chunk in chunks(list(ticket_ids)):
            out.update(conn.execute(sa.select(T_INCIDENT_MEMBER.c.ticket_id).join(
                T_INCIDENT, T_INCIDENT.c.incident_id == T_INCIDENT_MEMBER.c.incident_id).where(
                (T_INCIDENT.c.state == "open") & (T_INCIDENT_MEMBER.c.source == source)
                & T_INCIDENT_MEMBER.c.ticket_id.in_(list(chunk)))).scalars())
        return out

    def overview(self, since: datetime | None = None, state: str | None = None,
             limit: int = 100) -> list[dict[str, Any]]:
        """Incidents, newest first, each with `member_tickets` (source, ticket_id, url,
        subject, phrase, joined_at) oldest first: for `report` and the dashboard."""
        with self._db.reading() as conn:
            query = sa.select(T_INCIDENT).order_by(T_INCIDENT.c.opened_at.desc(),
                                                   T_INCIDENT.c.incident_id).limit(limit)
            if since is not None:
                query = query.where(T_INCIDENT.c.last_member_at >= aware(since))
            if state is not None:
                query = query.where(T_INCIDENT.c.state == state)
            incidents = [dict(r) for r in conn.execute(query).mappings()]
            by_id = {row["incident_id"]: row for row in incidents}
            for row in incidents:
                row["member_tickets"] = []
            for chunk in chunks(list(by_id)):
                for member in conn.execute(sa.select(T_INCIDENT_MEMBER).where(
                        T_INCIDENT_MEMBER.c.incident_id.in_(list(chunk))).order_by(
                        T_INCIDENT_MEMBER.c.joined_at, T_INCIDENT_MEMBER.c.ticket_id)).mappings():
                    by_id[member["incident_id"]]["member_tickets"].append(
                        {key: member[key] for key in _MEMBER_FIELDS})
        for row in incidents:
            for key in _TIMES:
                row[key] = aware(row[key])
            for member in row["member_tickets"]:
                member["joined_at"] = aware(member["joined_at"])
        return incidents
