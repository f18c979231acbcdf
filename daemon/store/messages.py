"""Messages and tickets: a poll's messages with their scores, the tickets' snapshots.

The pipeline's per-batch lookups are built once: the ids go in as one expanding
parameter (no per-id coercion) and only the columns the pipeline reads come back.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from daemon.store.database import Database, chunks
from daemon.store.models import T_MESSAGE, T_TICKET, fit
from daemon.store.series import Series

_SOURCE_P: sa.BindParameter[str] = sa.bindparam("source")
_IDS_P: sa.BindParameter[list[str]] = sa.bindparam("ids", expanding=True)
_KNOWN_IDS = sa.select(T_MESSAGE.c.message_id).where(
    (T_MESSAGE.c.source == _SOURCE_P) & T_MESSAGE.c.message_id.in_(_IDS_P))
_SERIES = sa.select(
    T_MESSAGE.c.ticket_id, T_MESSAGE.c.message_id, T_MESSAGE.c.created_at, T_MESSAGE.c.score,
    T_MESSAGE.c.label, T_MESSAGE.c.signals, T_MESSAGE.c.indicators,
    T_MESSAGE.c.language, T_MESSAGE.c.language_supported,
).where((T_MESSAGE.c.source == _SOURCE_P) & T_MESSAGE.c.ticket_id.in_(_IDS_P)
        & (T_MESSAGE.c.author_role == "customer") & T_MESSAGE.c.score.is_not(None)
        ).order_by(T_MESSAGE.c.created_at, T_MESSAGE.c.id)
_TICKETS = sa.select(T_TICKET).where(
    (T_TICKET.c.source == _SOURCE_P) & T_TICKET.c.ticket_id.in_(_IDS_P))
_TICKET_UPDATES = ["subject", "url", "status", "priority", "tags", "requester", "assignee",
                   "assignee_group", "updated_at"]


class Messages:
    """The messages table and the ticket snapshots."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._insert = db.insert_ignore(T_MESSAGE, ["source", "message_id"])

    def known_ids(self, conn: Connection, source: str, ids: Sequence[str]) -> set[str]:
        known: set[str] = set()
        for chunk in chunks(list(ids)):
            known.update(conn.execute(_KNOWN_IDS, {"source": source, "ids": chunk}).scalars())
        return known

    def insert(self, conn: Connection, rows: list[dict[str, Any]]) -> None:
        """Insert a poll's messages, skipping known ones."""
        self._db.write_many(conn, T_MESSAGE, self._insert, rows)

    def upsert_tickets(self, conn: Connection, rows: list[dict[str, Any]]) -> None:
        self._db.upsert(conn, T_TICKET, ["source", "ticket_id"], rows, _TICKET_UPDATES)

    def tickets(self, conn: Connection, source: str,
                ticket_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for chunk in chunks(list(ticket_ids)):
            for row in conn.execute(_TICKETS, {"source": source, "ids": chunk}).mappings():
                out[row["ticket_id"]] = dict(row)
        return out

    def customer_series(self, conn: Connection, source: str,
                        ticket_ids: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
        """Scored customer messages per ticket, oldest first."""
        out: dict[str, list[dict[str, Any]]] = {t: [] for t in ticket_ids}
        for chunk in chunks(list(ticket_ids)):
            rows = conn.execute(_SERIES, {"source": source, "ids": chunk}).mappings()
            for row in rows:
                out[row["ticket_id"]].append(dict(row))
        return out

    def body(self, conn: Connection, source: str, message_id: str) -> str | None:
        """A stored message's normalised text (None once retention removed it)."""
        body = conn.execute(sa.select(T_MESSAGE.c.body).where(
            (T_MESSAGE.c.source == source) & (T_MESSAGE.c.message_id == message_id))
        ).scalar_one_or_none()
        return body if isinstance(body, str) else None

    def bodies(self, conn: Connection,
               keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], str]:
        """(source, message_id) -> stored text, for those whose text is still kept."""
        out: dict[tuple[str, str], str] = {}
        for chunk in chunks(list(keys)):
            for source, message_id, body in conn.execute(sa.select(
                    T_MESSAGE.c.source, T_MESSAGE.c.message_id, T_MESSAGE.c.body).where(
                    sa.tuple_(T_MESSAGE.c.source, T_MESSAGE.c.message_id).in_(list(chunk)))):
                if body is not None:
                    out[(source, message_id)] = body
        return out

    def needing_rescore(self, limit: int) -> list[dict[str, Any]]:
        with self._db.reading() as conn:
            return [dict(r) for r in conn.execute(
                sa.select(T_MESSAGE.c.id, T_MESSAGE.c.body).where(
                    T_MESSAGE.c.needs_rescore.is_(True) & T_MESSAGE.c.body.is_not(None)
                ).order_by(T_MESSAGE.c.id).limit(limit)).mappings()]

    def update_scores(self, rows: list[dict[str, Any]]) -> None:
        """New scores for stored messages (`_id` is the row's id), and their tickets'
        `ticket_series` rows, in one transaction."""
        if not rows:
            return
        with self._db.transaction() as conn:
            keys: set[tuple[str, str]] = set()
            for chunk in chunks([row["_id"] for row in rows]):
                keys.update((source, ticket_id) for source, ticket_id in conn.execute(
                    sa.select(T_MESSAGE.c.source, T_MESSAGE.c.ticket_id).where(
                        T_MESSAGE.c.id.in_(list(chunk)))))
            series = Series(self._db)
            series.lock(conn, {source for source, _ in keys})
            conn.execute(T_MESSAGE.update().where(T_MESSAGE.c.id == sa.bindparam("_id")).values(
                score=sa.bindparam("score"), label=sa.bindparam("label"),
                confidence=sa.bindparam("confidence"), indicators=sa.bindparam("indicators"),
                signals=sa.bindparam("signals"), scorer=sa.bindparam("scorer"),
                model=sa.bindparam("model"), needs_rescore=sa.bindparam("needs_rescore"),
                language=sa.bindparam("language"),
                language_supported=sa.bindparam("language_supported")),
                fit(T_MESSAGE, rows))
            series.refresh(conn, keys)  # the readers' copy of the new scores
