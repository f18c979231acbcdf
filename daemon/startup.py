"""What the daemon does once before it schedules anything: locks, database, demo sources.

With SQLite one daemon owns the database file and the state directory (lock files; use
PostgreSQL for replicas); a database still starting up is waited for, paced by one
`Backoff` and bounded by `database.startup_wait`; and sources that read a sandbox started
empty with this process are read from `start_from` again.
"""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from typing import IO

import sqlalchemy as sa

from daemon.config import ConfigError
from daemon.coordinator import db_error
from daemon.localfiles import AlreadyLocked, database_lock_path, exclusive_lock, sqlite_file
from daemon.logs import get_logger
from daemon.store import T_SOURCE, DatabaseUnavailable, Store
from vocab.backoff import Backoff

log = get_logger("sentinel.service")

#: Pauses while a database at start-up refuses connections (bounded by startup_wait).
STARTUP_BACKOFF = Backoff(base=0.5, cap=5.0)
#: Attempts are bounded by the deadline long before this.
_MAX_STARTUP_ATTEMPTS = 10_000


def take_sqlite_locks(state_dir: Path, store: Store) -> list[IO[str]]:
    """One daemon per SQLite database file (and per state directory: the cache)."""
    locks: list[IO[str]] = []
    wanted = [(state_dir / "sentinel.lock", "state directory")]
    database = sqlite_file(store.url)
    if database is not None:
        wanted.insert(0, (database_lock_path(database), f"database {database}"))
    try:
        for path, what in wanted:
            try:
                locks.append(exclusive_lock(path))
            except AlreadyLocked:
                raise ConfigError([f"{path}: another helpdesk-sentinel is running on this "
                                   f"{what} (SQLite supports one daemon; use PostgreSQL "
                                   "for several replicas)"]) from None
    except ConfigError:
        for handle in locks:
            handle.close()
        raise
    return locks


def prepare_database(store: Store, sources: list[str], startup_wait: timedelta) -> None:
    """Schema and source rows; a database still starting up is waited for (bounded)."""
    deadline = time.monotonic() + startup_wait.total_seconds()
    for attempt in range(_MAX_STARTUP_ATTEMPTS):
        try:
            store.create_schema()
            store.sources.ensure(sources)
            if store.is_sqlite:
                # The lock file proves no other daemon runs here: source leases and
                # outbox claims left by a killed process are void now, not later.
                store.outbox.release_claims()
                store.sources.release_all()
            return
        except sa.exc.OperationalError as exc:  # refused, reset, shutting down
            pause = STARTUP_BACKOFF.delay(attempt)
            if time.monotonic() + pause > deadline:
                raise DatabaseUnavailable(db_error(exc)) from None
            log.warning("database_unavailable", error=db_error(exc), retry_in_s=pause)
            time.sleep(pause)
    raise DatabaseUnavailable("gave up waiting for the database")


def restart_sandbox_sources(store: Store, names: list[str]) -> None:
    """A `sandbox://` source talks to a sandbox started empty with this process, so
    what its stored cursor and backoff describe is gone: read it from `start_from`
    again (its ids are new, see connectors.sandbox.live_id_offset).  Stored messages,
    escalations and the outbox stay; real sources are never touched."""
    if not names:
        return
    with store.transaction() as conn:
        conn.execute(T_SOURCE.update().where(T_SOURCE.c.source.in_(names)).values(
            cursor=None, cursor_updated_at=None, not_before=None, last_error=None,
            consecutive_failures=0))
    log.info("sandbox_sources_restarted", sources=names)
