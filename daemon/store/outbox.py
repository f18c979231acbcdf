"""The outbox: side effects queued in the batch's transaction, claimed and delivered later.

Replicas claim due rows with `SELECT ... FOR UPDATE SKIP LOCKED` on PostgreSQL; a claim
holds for a while, so a replica that dies mid-delivery gives its rows back by itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from daemon.store.database import Database
from daemon.store.models import T_OUTBOX, clip
from vocab import aware


def pending_row(key: str, source: str, ticket_id: str, kind: str, target: str,
                payload: dict[str, Any], now: datetime) -> dict[str, Any]:
    """A row to `Outbox.enqueue`: due now; `key` makes queueing it twice harmless."""
    return {"dedupe_key": key, "source": source, "ticket_id": ticket_id, "kind": kind,
            "target": target, "payload": payload, "status": "pending", "attempts": 0,
            "next_attempt_at": aware(now), "created_at": aware(now), "result": {}}


class Outbox:
    """Queued ticket changes and alerts, and their delivery records."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._insert = db.insert_ignore(T_OUTBOX, ["dedupe_key"])

    def enqueue(self, conn: Connection, rows: list[dict[str, Any]]) -> None:
        """Queue rows in the caller's transaction; a known `dedupe_key` is skipped."""
        self._db.write_many(conn, T_OUTBOX, self._insert, rows)

    def claim(self, owner: str, now: datetime, limit: int,
              hold: timedelta) -> list[dict[str, Any]]:
        """Claim due rows for delivery (SKIP LOCKED on PostgreSQL), oldest first."""
        now_n = aware(now)
        with self._db.transaction() as conn:
            query = sa.select(T_OUTBOX.c.id).where(
                (T_OUTBOX.c.status == "pending") & (T_OUTBOX.c.next_attempt_at <= now_n)
                & (T_OUTBOX.c.claimed_until.is_(None) | (T_OUTBOX.c.claimed_until < now_n))
            ).order_by(T_OUTBOX.c.id).limit(limit)
            if self._db.is_postgres:
                query = query.with_for_update(skip_locked=True)
            ids = list(conn.execute(query).scalars())
            if not ids:
                return []
            conn.execute(T_OUTBOX.update().where(T_OUTBOX.c.id.in_(ids)).values(
                claimed_by=owner, claimed_until=aware(now + hold)))
            return [dict(r) for r in conn.execute(sa.select(T_OUTBOX).where(
                T_OUTBOX.c.id.in_(ids)).order_by(T_OUTBOX.c.id)).mappings()]

    def release_claims(self, *, keep_owners: Iterable[str] | None = None,
                       owner: str | None = None) -> int:
        """Free outbox claims of dead processes (all claims when `keep_owners` is None),
        or only `owner`'s (claims a round lost track of when the database went away)."""
        with self._db.transaction() as conn:
            where = T_OUTBOX.c.claimed_by.is_not(None) & (T_OUTBOX.c.status == "pending")
            if keep_owners is not None:
                where = where & T_OUTBOX.c.claimed_by.not_in(list(keep_owners))
            if owner is not None:
                where = where & (T_OUTBOX.c.claimed_by == owner)
            result = conn.execute(T_OUTBOX.update().where(where).values(
                claimed_by=None, claimed_until=None))
            return int(result.rowcount or 0)

    def done(self, row_id: int, now: datetime, result: dict[str, Any]) -> None:
        with self._db.transaction() as conn:
            conn.execute(T_OUTBOX.update().where(T_OUTBOX.c.id == row_id).values(
                status="done", delivered_at=aware(now), attempts=T_OUTBOX.c.attempts + 1,
                claimed_by=None, claimed_until=None, result=result, last_error=None))

    def failed(self, row_id: int, error: str, next_attempt: datetime | None,
               park: bool) -> None:
        values: dict[str, Any] = {"attempts": T_OUTBOX.c.attempts + 1,
                                  "last_error": clip(T_OUTBOX.c.last_error, error),
                                  "claimed_by": None, "claimed_until": None}
        if park:
            values["status"] = "parked"
        elif next_attempt is not None:
            values["next_attempt_at"] = aware(next_attempt)
        with self._db.transaction() as conn:
            conn.execute(T_OUTBOX.update().where(T_OUTBOX.c.id == row_id).values(**values))

    def release(self, row_id: int, next_attempt: datetime) -> None:
        """Give a claimed row back without counting an attempt (its target was busy)."""
        with self._db.transaction() as conn:
            conn.execute(T_OUTBOX.update().where(T_OUTBOX.c.id == row_id).values(
                claimed_by=None, claimed_until=None, next_attempt_at=aware(next_attempt)))

    def latest_thread_key(self, source: str, ticket_id: str, target: str) -> str | None:
        with self._db.reading() as conn:
            rows = conn.execute(sa.select(T_OUTBOX.c.result).where(
                (T_OUTBOX.c.source == source) & (T_OUTBOX.c.ticket_id == ticket_id)
                & (T_OUTBOX.c.target == target) & (T_OUTBOX.c.kind == "alert")
                & (T_OUTBOX.c.status == "done")).order_by(T_OUTBOX.c.id.desc()).limit(5)
            ).scalars()
            for result in rows:
                if result and result.get("thread_key"):
                    return str(result["thread_key"])
        return None

    def stats(self, now: datetime) -> dict[str, Any]:
        with self._db.reading() as conn:
            counts: dict[str, int] = dict(conn.execute(sa.select(
                T_OUTBOX.c.status, sa.func.count()).group_by(T_OUTBOX.c.status)).all())
            oldest = conn.execute(sa.select(sa.func.min(T_OUTBOX.c.created_at)).where(
                T_OUTBOX.c.status == "pending")).scalar()
        oldest_at = aware(oldest)
        age = (now - oldest_at).total_seconds() if oldest_at else 0.0
        return {"pending": int(counts.get("pending", 0)), "done": int(counts.get("done", 0)),
                "parked": int(counts.get("parked", 0)), "oldest_pending_age_s": max(0.0, age)}

    def rows(self, status: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        with self._db.reading() as conn:
            query = sa.select(T_OUTBOX).order_by(T_OUTBOX.c.id).limit(limit)
            if status:
                query = query.where(T_OUTBOX.c.status == status)
            return [dict(r) for r in conn.execute(query).mappings()]
