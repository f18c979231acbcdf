"""Sources and replicas: per-source cursor, lease with fencing token, poll health.

Several replicas on one PostgreSQL share sources through leases, claimed with
`SELECT ... FOR UPDATE SKIP LOCKED` and renewed; the fencing token increments whenever a
lease changes hands and every cursor write checks it, so a replica paused past its lease
cannot move a cursor it no longer owns.  SQLite is single-replica: a lock on the
database file refuses a second daemon (daemon.localfiles).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from daemon.store.database import Database
from daemon.store.models import T_REPLICA, T_SOURCE, clip
from vocab import aware


class LeaseLost(Exception):
    """This replica no longer owns the source: its writes were refused."""


class Sources:
    """Cursors, leases and health of the configured sources; the replicas alive."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def ensure(self, names: Iterable[str]) -> None:
        rows = [{"source": name, "fencing_token": 0, "consecutive_failures": 0, "polls": 0,
                 "messages": 0} for name in names]
        if not rows:
            return
        with self._db.transaction() as conn:
            conn.execute(self._db.insert_ignore(T_SOURCE, ["source"]), rows)

    def state(self, source: str, conn: Connection | None = None) -> dict[str, Any]:
        query = sa.select(T_SOURCE).where(T_SOURCE.c.source == source)
        if conn is not None:
            row = conn.execute(query).mappings().first()
        else:
            with self._db.reading() as reader:
                row = reader.execute(query).mappings().first()
        return dict(row) if row else {}

    def states(self) -> list[dict[str, Any]]:
        with self._db.reading() as conn:
            return [dict(r) for r in conn.execute(
                sa.select(T_SOURCE).order_by(T_SOURCE.c.source)).mappings()]

    def claim(self, source: str, owner: str, now: datetime, duration: timedelta) -> int | None:
        """Claim or renew the lease on `source`; its fencing token, or None if held elsewhere.

        The token increments whenever ownership changes hands, so writes made under an
        older token (a replica paused past its lease) are refused by `check_fence`.
        """
        now_n = aware(now)
        with self._db.transaction() as conn:
            query = sa.select(T_SOURCE).where(T_SOURCE.c.source == source)
            if self._db.is_postgres:
                query = query.with_for_update(skip_locked=True)
            row = conn.execute(query).mappings().first()
            if row is None:
                return None  # unknown source, or another replica is claiming it right now
            held_elsewhere = (row["owner"] not in (None, owner) and row["lease_until"] is not None
                              and row["lease_until"] > now_n)
            if held_elsewhere:
                return None
            token = int(row["fencing_token"])
            if row["owner"] != owner or row["lease_until"] is None or row["lease_until"] <= now_n:
                token += 1
            conn.execute(T_SOURCE.update().where(T_SOURCE.c.source == source).values(
                owner=owner, lease_until=aware(now + duration), fencing_token=token))
            return token

    def renew(self, source: str, owner: str, token: int, now: datetime,
              duration: timedelta) -> bool:
        """Extend a lease we hold; False when it ran out or changed hands (fencing)."""
        with self._db.transaction() as conn:
            result = conn.execute(T_SOURCE.update().where(
                (T_SOURCE.c.source == source) & (T_SOURCE.c.owner == owner)
                & (T_SOURCE.c.fencing_token == token)
                & (T_SOURCE.c.lease_until > aware(now))
            ).values(lease_until=aware(now + duration)))
            return bool(result.rowcount)

    def release_all(self) -> None:
        """Void every lease (single-daemon SQLite start-up, under the lock file)."""
        with self._db.transaction() as conn:
            conn.execute(T_SOURCE.update().values(lease_until=None))

    def release(self, source: str, owner: str) -> None:
        with self._db.transaction() as conn:
            conn.execute(T_SOURCE.update().where(
                (T_SOURCE.c.source == source) & (T_SOURCE.c.owner == owner)
            ).values(lease_until=None))

    def check_fence(self, conn: Connection, source: str, token: int | None) -> None:
        """Raise LeaseLost unless `token` is still the source's fencing token (locks the row)."""
        if token is None:
            return
        query = sa.select(T_SOURCE.c.fencing_token).where(T_SOURCE.c.source == source)
        if self._db.is_postgres:
            query = query.with_for_update()
        current = conn.execute(query).scalar()
        if current != token:
            raise LeaseLost(f"source {source}: lease lost (token {token}, now {current})")

    def advance_cursor(self, conn: Connection, source: str, cursor: str, now: datetime,
                       fetched: int) -> None:
        conn.execute(T_SOURCE.update().where(T_SOURCE.c.source == source).values(
            cursor=cursor, cursor_updated_at=aware(now), last_poll_at=aware(now),
            last_success_at=aware(now), last_error=None, consecutive_failures=0,
            polls=T_SOURCE.c.polls + 1, messages=T_SOURCE.c.messages + fetched))

    def record_failure(self, source: str, error: str, now: datetime,
                       not_before: datetime | None, token: int | None = None) -> int:
        """Count a failed poll; under a lease only while `token` is still current."""
        with self._db.transaction() as conn:
            where = T_SOURCE.c.source == source
            if token is not None:
                where = where & (T_SOURCE.c.fencing_token == token)
            conn.execute(T_SOURCE.update().where(where).values(
                last_poll_at=aware(now), last_error=clip(T_SOURCE.c.last_error, error),
                consecutive_failures=T_SOURCE.c.consecutive_failures + 1,
                not_before=aware(not_before), polls=T_SOURCE.c.polls + 1))
            value = conn.execute(sa.select(T_SOURCE.c.consecutive_failures).where(
                T_SOURCE.c.source == source)).scalar()
            return int(value or 0)

    # -- replicas ----------------------------------------------------------------------

    def touch_replica(self, owner: str, now: datetime, window: timedelta) -> int:
        """Record that `owner` is alive; the number of replicas seen within `window`."""
        with self._db.transaction() as conn:
            self._db.upsert(conn, T_REPLICA, ["owner"], [
                {"owner": owner, "started_at": aware(now), "last_seen": aware(now)}],
                ["last_seen"])
            conn.execute(T_REPLICA.delete().where(T_REPLICA.c.last_seen < aware(
                now - 10 * window)))
            live = conn.execute(sa.select(sa.func.count()).where(
                T_REPLICA.c.last_seen >= aware(now - window))).scalar()
            return max(1, int(live or 0))

    def remove_replica(self, owner: str) -> None:
        with self._db.transaction() as conn:
            conn.execute(T_REPLICA.delete().where(T_REPLICA.c.owner == owner))

    def live_replicas(self, now: datetime, window: timedelta) -> list[str]:
        with self._db.reading() as conn:
            return list(conn.execute(sa.select(T_REPLICA.c.owner).where(
                T_REPLICA.c.last_seen >= aware(now - window))).scalars())
