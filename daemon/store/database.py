"""The one engine every concern of the store shares: connections, transactions, dialect.

SQLite or PostgreSQL.  A write transaction is `Database.transaction()` (serialised
in-process on SQLite, where writers would only queue); the concerns' methods that take a
`conn` join the caller's transaction, so one poll's messages, rule state and outbox rows
commit together.  Writes of many rows go through `write_many`, which fits them to their
columns' limits first (daemon.store.models).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from daemon.localfiles import private_file, sqlite_file
from daemon.store.models import fit

CHUNK = 500


def chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


class Database:
    """The engine and its dialect.  Thread-safe."""

    def __init__(self, url: str, *, echo: bool = False,
                 stuck_after: timedelta = timedelta(seconds=30)) -> None:
        """`stuck_after` bounds, on PostgreSQL, how long a session may sit idle inside a
        transaction and how long a statement waits for a lock.  A replica frozen in the
        middle of a transaction (SIGSTOP, a suspended VM) would otherwise keep its row
        locks forever: `SKIP LOCKED` claims would skip its sources and every fenced write
        would queue behind it.  The daemon passes its lease duration, the time after which
        the other replicas take a silent one's sources anyway."""
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self.is_postgres = url.startswith("postgresql")
        # Parameters are customer text: never in a log line or an exception message.
        kwargs: dict[str, Any] = {"echo": echo, "future": True, "hide_parameters": True}
        if self.is_sqlite:
            database = sqlite_file(url)
            if database is not None:  # customer text: 0600 (its -wal and -shm follow it)
                private_file(database)
            # Prepared statements kept per connection (sqlite3's default is 128): an IN list
            # of each length is a statement of its own, hundreds of KB when long.
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30,
                                      "cached_statements": 32}
        else:
            kwargs["pool_pre_ping"] = True
            kwargs["pool_size"] = 5
            kwargs["connect_args"] = {"connect_timeout": 10}
            if "application_name" not in sa.engine.make_url(url).query:
                kwargs["connect_args"]["application_name"] = "helpdesk-sentinel"  # pg_stat_activity
        self.engine: Engine = sa.create_engine(url, **kwargs)
        if self.is_sqlite:
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        if self.is_postgres:
            sa.event.listen(self.engine, "connect", _session_guards(stuck_after))
        self._write_lock = threading.RLock()

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One write transaction (serialised on SQLite, where writers would only queue)."""
        if self.is_sqlite:
            with self._write_lock, self.engine.begin() as conn:
                yield conn
        else:
            with self.engine.begin() as conn:
                yield conn

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            yield conn

    def insert_ignore(self, table: sa.Table, conflict: list[str]) -> Any:
        """INSERT that skips rows whose `conflict` key exists already."""
        insert: Any = postgresql.insert(table) if self.is_postgres else sqlite.insert(table)
        return insert.on_conflict_do_nothing(index_elements=conflict)

    def upsert(self, conn: Connection, table: sa.Table, keys: list[str],
               rows: list[dict[str, Any]], update: list[str]) -> None:
        """Insert `rows`, or update the `update` columns of those whose `keys` exist."""
        insert: Any = postgresql.insert(table) if self.is_postgres else sqlite.insert(table)
        statement = insert.on_conflict_do_update(
            index_elements=keys, set_={name: insert.excluded[name] for name in update})
        self.write_many(conn, table, statement, rows)

    def write_many(self, conn: Connection, table: sa.Table, statement: Any,
                   rows: list[dict[str, Any]]) -> None:
        """One executemany of `statement` over `rows`, fitted to their columns' limits."""
        if rows:
            conn.execute(statement, fit(table, rows))

    def lock(self, conn: Connection, key: int) -> None:
        """Serialise a job across replicas until this transaction ends (SQLite
        transactions are serialised already)."""
        if self.is_postgres:
            conn.execute(sa.text(f"SELECT pg_advisory_xact_lock({int(key)})"))


def _session_guards(stuck_after: timedelta) -> Any:
    guard_ms = max(1000, int(stuck_after.total_seconds() * 1000))

    def guards(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute(f"SET idle_in_transaction_session_timeout = {guard_ms}")
        cursor.execute(f"SET lock_timeout = {guard_ms}")
        cursor.close()
        dbapi_connection.commit()
    return guards


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
