"""Persistence: the SQLModel tables and every query on them, SQLite or PostgreSQL.

Everything that must survive a restart lives here: per-source cursors and leases, the
messages with their scores, ticket snapshots, per-(ticket, rule) escalation history, an
escalation log for reports, and the outbox of side effects.  Bulk paths (one poll's
messages) use SQLAlchemy Core on the SQLModel tables so a batch is a handful of
statements, not one round trip per row.  Timestamps are stored in UTC (SQLModel's UTCDateTime).

Several replicas on one PostgreSQL share sources through leases (claimed with
`SELECT ... FOR UPDATE SKIP LOCKED`, renewed, with a fencing token checked by every
cursor write) and claim outbox rows the same way.  SQLite is single-replica: a lock on
the database file refuses a second daemon (daemon.localfiles).  The schema is created and
upgraded by daemon.migrate (Alembic revisions): a new column needs a revision too.
"""

from __future__ import annotations

import json
import operator
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlmodel import JSON, Column, Field, SQLModel, Text

from daemon.localfiles import private_file, sqlite_file
from vocab import aware


class SourceState(SQLModel, table=True):
    __tablename__ = "source_state"
    source: str = Field(primary_key=True, max_length=64)
    cursor: str | None = Field(default=None, sa_column=Column(Text))
    cursor_updated_at: datetime | None = None
    owner: str | None = Field(default=None, max_length=128)
    lease_until: datetime | None = None
    fencing_token: int = 0
    last_poll_at: datetime | None = None
    last_success_at: datetime | None = None
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    consecutive_failures: int = 0
    not_before: datetime | None = None
    polls: int = 0
    messages: int = 0


class Replica(SQLModel, table=True):
    """Daemons alive on this database, so each can take its fair share of sources."""

    __tablename__ = "replica"
    owner: str = Field(primary_key=True, max_length=128)
    started_at: datetime
    last_seen: datetime


class StoredMessage(SQLModel, table=True):
    __tablename__ = "message"
    __table_args__ = (
        sa.UniqueConstraint("source", "message_id", name="uq_message_source_id"),
        # Both cover the dashboard's and report's hot reads (daemon/insights.py): a
        # ticket's customer scores in order, and who wrote in a window, without touching
        # the table rows.  They replace ix_message_ticket (source, ticket_id, created_at)
        # and ix_message_created (created_at), whose columns they start with.
        sa.Index("ix_message_series", "source", "ticket_id", "created_at", "author_role",
                 "score"),
        sa.Index("ix_message_recent", "created_at", "author_role", "source", "ticket_id",
                 "score"),
    )
    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=64)
    message_id: str = Field(max_length=128)
    ticket_id: str = Field(max_length=128)
    author_role: str = Field(max_length=16)
    author_id: str | None = Field(default=None, max_length=128)
    author_name: str | None = Field(default=None, max_length=256)
    public: bool = True
    created_at: datetime
    body: str | None = Field(default=None, sa_column=Column(Text))
    body_chars: int = 0
    truncated: bool = False
    score: float | None = None
    label: str | None = Field(default=None, max_length=16)
    confidence: float | None = None
    indicators: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    signals: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    scorer: str | None = Field(default=None, max_length=32)
    model: str | None = Field(default=None, max_length=64)
    needs_rescore: bool = False
    stored_at: datetime
    # The message's language as the scorer detected it (ISO 639-1, "und"; None: scored
    # before languages were detected) and whether the scorer could read it.
    language: str | None = Field(default=None, max_length=8)
    language_supported: bool | None = None


class Ticket(SQLModel, table=True):
    __tablename__ = "ticket"
    source: str = Field(primary_key=True, max_length=64)
    ticket_id: str = Field(primary_key=True, max_length=128)
    subject: str = Field(default="", sa_column=Column(Text))
    url: str = Field(default="", sa_column=Column(Text))
    status: str | None = Field(default=None, max_length=32)
    priority: str | None = Field(default=None, max_length=16)
    tags: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    requester: str | None = Field(default=None, max_length=256)
    assignee: str | None = Field(default=None, max_length=256)
    assignee_group: str | None = Field(default=None, max_length=256)
    updated_at: datetime


class RuleState(SQLModel, table=True):
    __tablename__ = "rule_state"
    source: str = Field(primary_key=True, max_length=64)
    ticket_id: str = Field(primary_key=True, max_length=128)
    rule: str = Field(primary_key=True, max_length=64)
    state: str = Field(max_length=16)
    history: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    updated_at: datetime
    due_at: datetime | None = Field(default=None, index=True)  # a pending resolve is due


class EscalationEvent(SQLModel, table=True):
    __tablename__ = "escalation"
    __table_args__ = (sa.Index("ix_escalation_at", "at"),)
    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=64)
    ticket_id: str = Field(max_length=128)
    rule: str = Field(max_length=64)
    kind: str = Field(max_length=16)
    reason: str = Field(default="", max_length=64)
    numbers: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    at: datetime
    backfill: bool = False


class EscalationFeedback(SQLModel, table=True):
    """Agents' marks on one (ticket, rule), read from the ticket's tags (rules.feedback).

    `rule` "*" is the ticket-level record (a miss, whether the false-alarm tag was there
    at the last look).  The marks themselves are also logged in `escalation`, with kind
    `false_alarm` or `missed`, for reports.
    """

    __tablename__ = "escalation_feedback"
    source: str = Field(primary_key=True, max_length=64)
    ticket_id: str = Field(primary_key=True, max_length=128)
    rule: str = Field(primary_key=True, max_length=64)
    fire_count: int = 0  # the firing the record is about
    tag_seen: bool = False
    false_alarm_at: datetime | None = None
    false_alarm_via: str | None = Field(default=None, max_length=16)
    muted_message_id: str | None = Field(default=None, max_length=128)
    missed_at: datetime | None = None
    flag_present: bool = False
    updated_at: datetime


class OutboxRow(SQLModel, table=True):
    __tablename__ = "outbox"
    __table_args__ = (
        sa.UniqueConstraint("dedupe_key", name="uq_outbox_dedupe"),
        sa.Index("ix_outbox_due", "status", "next_attempt_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    dedupe_key: str = Field(max_length=512)
    source: str = Field(max_length=64)
    ticket_id: str = Field(max_length=128)
    kind: str = Field(max_length=16)  # "change" | "alert"
    target: str = Field(max_length=64)  # source name or notifier name
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    status: str = Field(default="pending", max_length=16)  # pending | done | parked
    attempts: int = 0
    next_attempt_at: datetime
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    created_at: datetime
    delivered_at: datetime | None = None
    claimed_by: str | None = Field(default=None, max_length=128)
    claimed_until: datetime | None = None
    result: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))


class IncidentRow(SQLModel, table=True):
    """An incident: many customers upset about one thing at once (rules/incidents.py)."""

    __tablename__ = "incident"
    __table_args__ = (sa.Index("ix_incident_state_due", "state", "due_at"),
                      sa.Index("ix_incident_opened", "opened_at"))
    incident_id: str = Field(primary_key=True, max_length=32)
    state: str = Field(max_length=16)  # open | resolved
    language: str = Field(max_length=8)
    key_term: str = Field(max_length=128)
    terms: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    topic: str = Field(default="", sa_column=Column(Text))
    opened_at: datetime
    last_member_at: datetime
    resolved_at: datetime | None = None
    updates: int = 0
    last_update_at: datetime | None = None
    members: int = 0
    due_at: datetime | None = None  # an update to announce or the resolve falls due


class IncidentMemberRow(SQLModel, table=True):
    """One ticket in an incident (a ticket is one member however often its customer writes)."""

    __tablename__ = "incident_member"
    __table_args__ = (sa.Index("ix_incident_member_ticket", "source", "ticket_id"),)
    incident_id: str = Field(primary_key=True, max_length=32)
    source: str = Field(primary_key=True, max_length=64)
    ticket_id: str = Field(primary_key=True, max_length=128)
    message_id: str = Field(max_length=128)
    joined_at: datetime  # the member message's time
    phrase: str = Field(default="", sa_column=Column(Text))
    url: str = Field(default="", sa_column=Column(Text))
    subject: str = Field(default="", sa_column=Column(Text))
    announced: bool = False


class IncidentCandidateRow(SQLModel, table=True):
    """A recent negative customer message in no incident yet: the sliding window's pool."""

    __tablename__ = "incident_candidate"
    __table_args__ = (sa.Index("ix_incident_candidate_at", "at"),)
    source: str = Field(primary_key=True, max_length=64)
    message_id: str = Field(primary_key=True, max_length=128)
    ticket_id: str = Field(max_length=128)
    at: datetime
    score: float
    language: str = Field(max_length=8)
    terms: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    words: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    signals: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    label: str = Field(default="", sa_column=Column(Text))
    url: str = Field(default="", sa_column=Column(Text))
    subject: str = Field(default="", sa_column=Column(Text))


T_SOURCE = SourceState.__table__  # type: ignore[attr-defined]
T_MESSAGE = StoredMessage.__table__  # type: ignore[attr-defined]
T_TICKET = Ticket.__table__  # type: ignore[attr-defined]
T_RULE = RuleState.__table__  # type: ignore[attr-defined]
T_ESCALATION = EscalationEvent.__table__  # type: ignore[attr-defined]
T_OUTBOX = OutboxRow.__table__  # type: ignore[attr-defined]
T_REPLICA = Replica.__table__  # type: ignore[attr-defined]
T_INCIDENT = IncidentRow.__table__  # type: ignore[attr-defined]
T_INCIDENT_MEMBER = IncidentMemberRow.__table__  # type: ignore[attr-defined]
T_INCIDENT_CANDIDATE = IncidentCandidateRow.__table__  # type: ignore[attr-defined]
T_FEEDBACK = EscalationFeedback.__table__  # type: ignore[attr-defined]

_CHUNK = 500

# The pipeline's per-batch lookups, built once: the ids go in as one expanding
# parameter (no per-id coercion) and only the columns the pipeline reads come back.
_SOURCE_P: sa.BindParameter[str] = sa.bindparam("source")
_IDS_P: sa.BindParameter[list[str]] = sa.bindparam("ids", expanding=True)
_KNOWN_IDS = sa.select(T_MESSAGE.c.message_id).where(
    (T_MESSAGE.c.source == _SOURCE_P) & T_MESSAGE.c.message_id.in_(_IDS_P))
_RULE_STATES = sa.select(T_RULE.c.ticket_id, T_RULE.c.rule, T_RULE.c.history).where(
    (T_RULE.c.source == _SOURCE_P) & T_RULE.c.ticket_id.in_(_IDS_P))
_SERIES = sa.select(
    T_MESSAGE.c.ticket_id, T_MESSAGE.c.message_id, T_MESSAGE.c.created_at, T_MESSAGE.c.score,
    T_MESSAGE.c.label, T_MESSAGE.c.signals, T_MESSAGE.c.indicators,
    T_MESSAGE.c.language, T_MESSAGE.c.language_supported,
).where((T_MESSAGE.c.source == _SOURCE_P) & T_MESSAGE.c.ticket_id.in_(_IDS_P)
        & (T_MESSAGE.c.author_role == "customer") & T_MESSAGE.c.score.is_not(None)
        ).order_by(T_MESSAGE.c.created_at, T_MESSAGE.c.id)
_FEEDBACK = sa.select(T_FEEDBACK).where(
    (T_FEEDBACK.c.source == _SOURCE_P) & T_FEEDBACK.c.ticket_id.in_(_IDS_P))
_TICKETS = sa.select(T_TICKET).where(
    (T_TICKET.c.source == _SOURCE_P) & T_TICKET.c.ticket_id.in_(_IDS_P))
#: Columns whose values repeat within a batch (worth memoising their conversion: the
#: batch's own time, and JSON lists that hold strings only, so equal tuples mean equal
#: JSON).  A message's `created_at` is its own, so it is converted directly.
_REPEATING = frozenset({"stored_at", "updated_at", "at", "next_attempt_at",
                        "indicators", "signals", "tags"})


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


class DatabaseUnavailable(Exception):
    """The database did not accept connections within the start-up wait."""


class LeaseLost(Exception):
    """This replica no longer owns the source: its writes were refused."""


class Store:
    """All database access.  Thread-safe; on SQLite writes are serialised in-process."""

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
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
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
            guard_ms = max(1000, int(stuck_after.total_seconds() * 1000))

            def _session_guards(dbapi_connection: Any, _record: Any) -> None:
                cursor = dbapi_connection.cursor()
                cursor.execute(f"SET idle_in_transaction_session_timeout = {guard_ms}")
                cursor.execute(f"SET lock_timeout = {guard_ms}")
                cursor.close()
                dbapi_connection.commit()

            sa.event.listen(self.engine, "connect", _session_guards)
        self._write_lock = threading.RLock()
        self._pg_json: Any = None
        if self.is_postgres:  # imported only here: psycopg costs ~20 MB on SQLite daemons
            from psycopg.types.json import Json

            self._pg_json = Json
        self._bulk_sql: dict[tuple[str, tuple[str, ...]],
                             tuple[str, tuple[str, ...], dict[str, Callable[[Any], Any]]]] = {}

    def close(self) -> None:
        self.engine.dispose()

    # -- schema ------------------------------------------------------------------

    def create_schema(self) -> None:
        """Create or upgrade the schema through the Alembic revisions (daemon.migrate);
        safe when several processes run it at once.  Raises SchemaTooNew when the
        database was upgraded by a newer release."""
        from daemon.migrate import upgrade_schema

        upgrade_schema(self.engine)

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

    # -- helpers -----------------------------------------------------------------

    def _insert_ignore(self, table: sa.Table, conflict: list[str]) -> Any:
        if self.is_postgres:
            return postgresql.insert(table).on_conflict_do_nothing(index_elements=conflict)
        return sqlite.insert(table).on_conflict_do_nothing(index_elements=conflict)

    def _upsert(self, table: sa.Table, keys: list[str], rows: list[dict[str, Any]],
                conn: Connection, update: list[str]) -> None:
        def statement() -> Any:
            insert: Any = postgresql.insert(table) if self.is_postgres else sqlite.insert(table)
            return insert.on_conflict_do_update(
                index_elements=keys, set_={name: insert.excluded[name] for name in update})
        self._bulk(conn, f"upsert:{table.name}", table, rows, statement)

    # -- sources: cursor, lease, health ------------------------------------------

    def ensure_sources(self, names: Iterable[str]) -> None:
        rows = [{"source": name, "fencing_token": 0, "consecutive_failures": 0, "polls": 0,
                 "messages": 0} for name in names]
        if not rows:
            return
        with self.transaction() as conn:
            conn.execute(self._insert_ignore(T_SOURCE, ["source"]), rows)

    def source_state(self, source: str, conn: Connection | None = None) -> dict[str, Any]:
        query = sa.select(T_SOURCE).where(T_SOURCE.c.source == source)
        if conn is not None:
            row = conn.execute(query).mappings().first()
        else:
            with self.reading() as reader:
                row = reader.execute(query).mappings().first()
        return dict(row) if row else {}

    def source_states(self) -> list[dict[str, Any]]:
        with self.reading() as conn:
            return [dict(r) for r in conn.execute(
                sa.select(T_SOURCE).order_by(T_SOURCE.c.source)).mappings()]

    def claim_source(self, source: str, owner: str, now: datetime,
                     duration: timedelta) -> int | None:
        """Claim or renew the lease on `source`; its fencing token, or None if held elsewhere.

        The token increments whenever ownership changes hands, so writes made under an
        older token (a replica paused past its lease) are refused by `advance_cursor`.
        """
        now_n = aware(now)
        with self.transaction() as conn:
            query = sa.select(T_SOURCE).where(T_SOURCE.c.source == source)
            if self.is_postgres:
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

    def touch_replica(self, owner: str, now: datetime, window: timedelta) -> int:
        """Record that `owner` is alive; the number of replicas seen within `window`."""
        with self.transaction() as conn:
            self._upsert(T_REPLICA, ["owner"], [{"owner": owner, "started_at": aware(now),
                                                 "last_seen": aware(now)}], conn,
                         ["last_seen"])
            conn.execute(T_REPLICA.delete().where(T_REPLICA.c.last_seen < aware(
                now - 10 * window)))
            live = conn.execute(sa.select(sa.func.count()).where(
                T_REPLICA.c.last_seen >= aware(now - window))).scalar()
            return max(1, int(live or 0))

    def remove_replica(self, owner: str) -> None:
        with self.transaction() as conn:
            conn.execute(T_REPLICA.delete().where(T_REPLICA.c.owner == owner))

    def renew_source(self, source: str, owner: str, token: int, now: datetime,
                     duration: timedelta) -> bool:
        """Extend a lease we hold; False when it ran out or changed hands (fencing)."""
        with self.transaction() as conn:
            result = conn.execute(T_SOURCE.update().where(
                (T_SOURCE.c.source == source) & (T_SOURCE.c.owner == owner)
                & (T_SOURCE.c.fencing_token == token)
                & (T_SOURCE.c.lease_until > aware(now))
            ).values(lease_until=aware(now + duration)))
            return bool(result.rowcount)

    def release_all_sources(self) -> None:
        """Void every lease (single-daemon SQLite start-up, under the lock file)."""
        with self.transaction() as conn:
            conn.execute(T_SOURCE.update().values(lease_until=None))

    def release_source(self, source: str, owner: str) -> None:
        with self.transaction() as conn:
            conn.execute(T_SOURCE.update().where(
                (T_SOURCE.c.source == source) & (T_SOURCE.c.owner == owner)
            ).values(lease_until=None))

    def check_fence(self, conn: Connection, source: str, token: int | None) -> None:
        """Raise LeaseLost unless `token` is still the source's fencing token (locks the row)."""
        if token is None:
            return
        query = sa.select(T_SOURCE.c.fencing_token).where(T_SOURCE.c.source == source)
        if self.is_postgres:
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

    def record_poll_failure(self, source: str, error: str, now: datetime,
                            not_before: datetime | None, token: int | None = None) -> int:
        """Count a failed poll; under a lease only while `token` is still current."""
        with self.transaction() as conn:
            where = T_SOURCE.c.source == source
            if token is not None:
                where = where & (T_SOURCE.c.fencing_token == token)
            conn.execute(T_SOURCE.update().where(where).values(
                last_poll_at=aware(now), last_error=error[:500],
                consecutive_failures=T_SOURCE.c.consecutive_failures + 1,
                not_before=aware(not_before), polls=T_SOURCE.c.polls + 1))
            value = conn.execute(sa.select(T_SOURCE.c.consecutive_failures).where(
                T_SOURCE.c.source == source)).scalar()
            return int(value or 0)

    # -- messages and tickets ------------------------------------------------------

    def known_message_ids(self, conn: Connection, source: str, ids: Sequence[str]) -> set[str]:
        known: set[str] = set()
        for chunk in _chunks(list(ids)):
            known.update(conn.execute(_KNOWN_IDS, {"source": source, "ids": chunk}).scalars())
        return known

    def insert_messages(self, conn: Connection, rows: list[dict[str, Any]]) -> None:
        """Insert a poll's messages, skipping known ones (see `_bulk`)."""
        self._bulk(conn, "insert_messages", T_MESSAGE, rows,
                   lambda: self._insert_ignore(T_MESSAGE, ["source", "message_id"]))

    def _bulk(self, conn: Connection, name: str, table: sa.Table, rows: list[dict[str, Any]],
              statement: Callable[[], Any]) -> None:
        """Run `statement` for many rows in one driver-level executemany.

        The hot path of the pipeline: SQLAlchemy's per-row parameter handling costs more
        than the writes themselves, so the statement is compiled once per set of keys and
        the rows go to the driver as tuples, with the conversions the column types would
        do (UTC timestamps, JSON) done here.  Same statement, same stored values
        (tests/daemon/test_store.py round-trips every table written this way).
        """
        if not rows:
            return
        keys = tuple(rows[0])
        if any(tuple(row) != keys for row in rows):  # mixed shapes: the general path
            conn.execute(statement(), rows)
            return
        prepared = self._bulk_sql.get((name, keys))
        if prepared is None:
            compiled = statement().compile(dialect=self.engine.dialect, column_keys=list(keys))
            order = tuple(compiled.positiontup or ()) if compiled.positional else ()
            converters = {key: fn for key in keys
                          if (fn := self._converter(table.c[key].type)) is not None}
            prepared = self._bulk_sql[(name, keys)] = (str(compiled), order, converters)
        sql, order, converters = prepared
        # Memoised per call where values repeat (a batch shares its `stored_at`;
        # indicator, signal and tag lists recur) and a lookup is cheaper than converting.
        convert = {key: _memoised(fn) if key in _REPEATING else fn
                   for key, fn in converters.items()}
        params: list[Any]
        if not order:  # a driver with named parameters (psycopg)
            params = [{key: convert[key](value) if key in convert else value
                       for key, value in row.items()} for row in rows]
        else:
            get = operator.itemgetter(*order)
            positions = [(index, convert[key]) for index, key in enumerate(order)
                         if key in convert]
            params = []
            for row in rows:
                values = list(get(row)) if len(order) > 1 else [get(row)]
                for index, fn in positions:
                    values[index] = fn(values[index])
                params.append(tuple(values))
        conn.exec_driver_sql(sql, params)

    def _converter(self, column_type: Any) -> Callable[[Any], Any] | None:
        """What SQLAlchemy's type would do to a value before the driver sees it."""
        if isinstance(column_type, sa.DateTime):
            return _sqlite_time if self.is_sqlite else aware
        if isinstance(column_type, sa.JSON):
            if self.is_sqlite:
                return json.dumps
            json_type: Callable[[Any], Any] = self._pg_json
            return json_type
        return None

    def upsert_tickets(self, conn: Connection, rows: list[dict[str, Any]]) -> None:
        self._upsert(T_TICKET, ["source", "ticket_id"], rows, conn,
                     ["subject", "url", "status", "priority", "tags", "requester", "assignee",
                      "assignee_group", "updated_at"])

    def tickets(self, conn: Connection, source: str,
                ticket_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for chunk in _chunks(list(ticket_ids)):
            for row in conn.execute(_TICKETS, {"source": source, "ids": chunk}).mappings():
                out[row["ticket_id"]] = dict(row)
        return out

    def customer_series(self, conn: Connection, source: str,
                        ticket_ids: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
        """Scored customer messages per ticket, oldest first."""
        out: dict[str, list[dict[str, Any]]] = {t: [] for t in ticket_ids}
        for chunk in _chunks(list(ticket_ids)):
            rows = conn.execute(_SERIES, {"source": source, "ids": chunk}).mappings()
            for row in rows:
                out[row["ticket_id"]].append(dict(row))
        return out

    def messages_needing_rescore(self, limit: int) -> list[dict[str, Any]]:
        with self.reading() as conn:
            return [dict(r) for r in conn.execute(
                sa.select(T_MESSAGE.c.id, T_MESSAGE.c.body).where(
                    T_MESSAGE.c.needs_rescore.is_(True) & T_MESSAGE.c.body.is_not(None)
                ).order_by(T_MESSAGE.c.id).limit(limit)).mappings()]

    def update_scores(self, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        with self.transaction() as conn:
            conn.execute(T_MESSAGE.update().where(T_MESSAGE.c.id == sa.bindparam("_id")).values(
                score=sa.bindparam("score"), label=sa.bindparam("label"),
                confidence=sa.bindparam("confidence"), indicators=sa.bindparam("indicators"),
                signals=sa.bindparam("signals"), scorer=sa.bindparam("scorer"),
                model=sa.bindparam("model"), needs_rescore=sa.bindparam("needs_rescore"),
                language=sa.bindparam("language"),
                language_supported=sa.bindparam("language_supported")),
                rows)

    def purge_message_text(self, older_than: datetime) -> int:
        return self.purge_customer_text(older_than)["messages"]

    def purge_customer_text(self, older_than: datetime) -> dict[str, int]:
        """Retention: remove the customer's words and identity from what is older than
        `older_than`; scores, decisions and delivery records stay.

        Messages lose body, author name and indicator phrases; tickets with no message
        since lose subject and requester; delivered or parked outbox rows lose their
        payload (notes and alerts quote the subject, customer and phrases); incident
        members lose their quoted sentence and subject, old incident candidates go."""
        cutoff = aware(older_than)
        with self.transaction() as conn:
            messages = conn.execute(T_MESSAGE.update().where(
                (T_MESSAGE.c.created_at < cutoff)
                & (T_MESSAGE.c.body.is_not(None) | T_MESSAGE.c.author_name.is_not(None)
                   | _json_not_empty(T_MESSAGE.c.indicators, "[]"))
            ).values(body=None, author_name=None, indicators=[]))
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

    # -- rule state and escalations ----------------------------------------------------

    def rule_states(self, conn: Connection, source: str,
                    ticket_ids: Sequence[str]) -> dict[str, dict[str, dict[str, Any]]]:
        out: dict[str, dict[str, dict[str, Any]]] = {}
        for chunk in _chunks(list(ticket_ids)):
            for ticket_id, rule, history in conn.execute(
                    _RULE_STATES, {"source": source, "ids": chunk}):
                out.setdefault(ticket_id, {})[rule] = dict(history or {})
        return out

    def save_rule_states(self, conn: Connection, rows: list[dict[str, Any]]) -> None:
        self._upsert(T_RULE, ["source", "ticket_id", "rule"], rows, conn,
                     ["state", "history", "updated_at", "due_at"])

    def due_tickets(self, source: str, now: datetime, limit: int = 1000) -> list[str]:
        """Tickets with a firing rule whose resolve timer has run out."""
        with self.reading() as conn:
            return list(conn.execute(sa.select(T_RULE.c.ticket_id).where(
                (T_RULE.c.source == source) & (T_RULE.c.state == "firing")
                & T_RULE.c.due_at.is_not(None) & (T_RULE.c.due_at <= aware(now))
            ).distinct().limit(limit)).scalars())

    def feedback_states(self, conn: Connection, source: str,
                        ticket_ids: Sequence[str]) -> dict[str, dict[str, dict[str, Any]]]:
        """ticket -> rule -> the agents'-marks record (rules.feedback.FeedbackState)."""
        out: dict[str, dict[str, dict[str, Any]]] = {}
        for chunk in _chunks(list(ticket_ids)):
            for row in conn.execute(_FEEDBACK, {"source": source, "ids": chunk}).mappings():
                record = dict(row)
                for key in ("false_alarm_at", "missed_at"):
                    record[key] = aware(record[key])
                out.setdefault(row["ticket_id"], {})[row["rule"]] = record
        return out

    def save_feedback_states(self, conn: Connection, rows: list[dict[str, Any]]) -> None:
        self._upsert(T_FEEDBACK, ["source", "ticket_id", "rule"], rows, conn,
                     ["fire_count", "tag_seen", "false_alarm_at", "false_alarm_via",
                      "muted_message_id", "missed_at", "flag_present", "updated_at"])

    def log_escalations(self, conn: Connection, rows: list[dict[str, Any]]) -> None:
        self._bulk(conn, "log_escalations", T_ESCALATION, rows, T_ESCALATION.insert)

    # -- what an alert tells the agent (daemon.alerting); read only when an alert is queued

    def escalations_before(self, conn: Connection, source: str, ticket_id: str,
                           requester: str | None) -> tuple[int, int]:
        """Live escalations (not backfill) of this ticket, and of the requester's other
        tickets on the same source, logged so far."""
        fired = ((T_ESCALATION.c.source == source) & (T_ESCALATION.c.kind == "fire")
                 & T_ESCALATION.c.backfill.is_(False))
        count = sa.select(sa.func.count()).select_from(T_ESCALATION)
        on_ticket = conn.execute(count.where(fired & (T_ESCALATION.c.ticket_id == ticket_id))
                                 ).scalar_one()
        for_customer = 0
        if requester:
            joined = T_ESCALATION.join(T_TICKET, (T_TICKET.c.source == T_ESCALATION.c.source)
                                       & (T_TICKET.c.ticket_id == T_ESCALATION.c.ticket_id))
            for_customer = conn.execute(
                sa.select(sa.func.count()).select_from(joined).where(
                    fired & (T_ESCALATION.c.ticket_id != ticket_id)
                    & (T_TICKET.c.requester == requester))).scalar_one()
        return int(on_ticket), int(for_customer)

    def message_body(self, conn: Connection, source: str, message_id: str) -> str | None:
        """A stored message's normalised text (None once retention removed it)."""
        body = conn.execute(sa.select(T_MESSAGE.c.body).where(
            (T_MESSAGE.c.source == source) & (T_MESSAGE.c.message_id == message_id))
        ).scalar_one_or_none()
        return body if isinstance(body, str) else None

    # -- outbox ----------------------------------------------------------------------

    def enqueue(self, conn: Connection, rows: list[dict[str, Any]]) -> None:
        self._bulk(conn, "enqueue", T_OUTBOX, rows,
                   lambda: self._insert_ignore(T_OUTBOX, ["dedupe_key"]))

    def claim_outbox(self, owner: str, now: datetime, limit: int,
                     hold: timedelta) -> list[dict[str, Any]]:
        """Claim due rows for delivery (SKIP LOCKED on PostgreSQL), oldest first."""
        now_n = aware(now)
        with self.transaction() as conn:
            query = sa.select(T_OUTBOX.c.id).where(
                (T_OUTBOX.c.status == "pending") & (T_OUTBOX.c.next_attempt_at <= now_n)
                & (T_OUTBOX.c.claimed_until.is_(None) | (T_OUTBOX.c.claimed_until < now_n))
            ).order_by(T_OUTBOX.c.id).limit(limit)
            if self.is_postgres:
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
        with self.transaction() as conn:
            where = T_OUTBOX.c.claimed_by.is_not(None) & (T_OUTBOX.c.status == "pending")
            if keep_owners is not None:
                where = where & T_OUTBOX.c.claimed_by.not_in(list(keep_owners))
            if owner is not None:
                where = where & (T_OUTBOX.c.claimed_by == owner)
            result = conn.execute(T_OUTBOX.update().where(where).values(
                claimed_by=None, claimed_until=None))
            return int(result.rowcount or 0)

    def live_replicas(self, now: datetime, window: timedelta) -> list[str]:
        with self.reading() as conn:
            return list(conn.execute(sa.select(T_REPLICA.c.owner).where(
                T_REPLICA.c.last_seen >= aware(now - window))).scalars())

    def outbox_done(self, row_id: int, now: datetime, result: dict[str, Any]) -> None:
        with self.transaction() as conn:
            conn.execute(T_OUTBOX.update().where(T_OUTBOX.c.id == row_id).values(
                status="done", delivered_at=aware(now), attempts=T_OUTBOX.c.attempts + 1,
                claimed_by=None, claimed_until=None, result=result, last_error=None))

    def outbox_failed(self, row_id: int, error: str, next_attempt: datetime | None,
                      park: bool) -> None:
        values: dict[str, Any] = {"attempts": T_OUTBOX.c.attempts + 1, "last_error": error[:500],
                                  "claimed_by": None, "claimed_until": None}
        if park:
            values["status"] = "parked"
        elif next_attempt is not None:
            values["next_attempt_at"] = aware(next_attempt)
        with self.transaction() as conn:
            conn.execute(T_OUTBOX.update().where(T_OUTBOX.c.id == row_id).values(**values))

    def outbox_release(self, row_id: int, next_attempt: datetime) -> None:
        """Give a claimed row back without counting an attempt (its target was busy)."""
        with self.transaction() as conn:
            conn.execute(T_OUTBOX.update().where(T_OUTBOX.c.id == row_id).values(
                claimed_by=None, claimed_until=None, next_attempt_at=aware(next_attempt)))

    def latest_thread_key(self, source: str, ticket_id: str, target: str) -> str | None:
        with self.reading() as conn:
            rows = conn.execute(sa.select(T_OUTBOX.c.result).where(
                (T_OUTBOX.c.source == source) & (T_OUTBOX.c.ticket_id == ticket_id)
                & (T_OUTBOX.c.target == target) & (T_OUTBOX.c.kind == "alert")
                & (T_OUTBOX.c.status == "done")).order_by(T_OUTBOX.c.id.desc()).limit(5)
            ).scalars()
            for result in rows:
                if result and result.get("thread_key"):
                    return str(result["thread_key"])
        return None

    def outbox_stats(self, now: datetime) -> dict[str, Any]:
        with self.reading() as conn:
            counts: dict[str, int] = dict(conn.execute(sa.select(T_OUTBOX.c.status, sa.func.count()).group_by(
                T_OUTBOX.c.status)).all())
            oldest = conn.execute(sa.select(sa.func.min(T_OUTBOX.c.created_at)).where(
                T_OUTBOX.c.status == "pending")).scalar()
        oldest_at = aware(oldest)
        age = (now - oldest_at).total_seconds() if oldest_at else 0.0
        return {"pending": int(counts.get("pending", 0)), "done": int(counts.get("done", 0)),
                "parked": int(counts.get("parked", 0)), "oldest_pending_age_s": max(0.0, age)}

    def outbox_rows(self, status: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        with self.reading() as conn:
            query = sa.select(T_OUTBOX).order_by(T_OUTBOX.c.id).limit(limit)
            if status:
                query = query.where(T_OUTBOX.c.status == status)
            return [dict(r) for r in conn.execute(query).mappings()]

    # -- incidents (daemon/incidents.py) -----------------------------------------------

    def lock_incidents(self, conn: Connection) -> None:
        """Serialise incident evaluation across replicas until this transaction ends
        (SQLite transactions are serialised already)."""
        if self.is_postgres:
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(7364022)"))

    def incident_window(self, conn: Connection, since: datetime,
                        ) -> tuple[list[dict[str, Any]], list[dict[str, Any]],
                                   list[dict[str, Any]]]:
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

    def save_incident_window(self, conn: Connection, *, add_candidates: list[dict[str, Any]],
                             drop_candidates: list[tuple[str, str]], older_than: datetime,
                             incidents: list[dict[str, Any]],
                             members: list[dict[str, Any]]) -> None:
        """Persist one evaluation: the pool's changes, touched incidents and members."""
        conn.execute(T_INCIDENT_CANDIDATE.delete().where(
            T_INCIDENT_CANDIDATE.c.at < aware(older_than)))
        for chunk in _chunks(drop_candidates):
            conn.execute(T_INCIDENT_CANDIDATE.delete().where(
                sa.tuple_(T_INCIDENT_CANDIDATE.c.source, T_INCIDENT_CANDIDATE.c.message_id)
                .in_(list(chunk))))
        if add_candidates:
            conn.execute(self._insert_ignore(T_INCIDENT_CANDIDATE, ["source", "message_id"]),
                         add_candidates)
        self._upsert(T_INCIDENT, ["incident_id"], incidents, conn,
                     ["state", "terms", "topic", "last_member_at", "resolved_at", "updates",
                      "last_update_at", "members", "due_at"])
        self._upsert(T_INCIDENT_MEMBER, ["incident_id", "source", "ticket_id"], members, conn,
                     ["announced"])

    def message_bodies(self, conn: Connection,
                       keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], str]:
        """(source, message_id) -> stored text, for those whose text is still kept."""
        out: dict[tuple[str, str], str] = {}
        for chunk in _chunks(list(keys)):
            for source, message_id, body in conn.execute(sa.select(
                    T_MESSAGE.c.source, T_MESSAGE.c.message_id, T_MESSAGE.c.body).where(
                    sa.tuple_(T_MESSAGE.c.source, T_MESSAGE.c.message_id).in_(list(chunk)))):
                if body is not None:
                    out[(source, message_id)] = body
        return out

    def incidents_due(self, now: datetime) -> bool:
        """Whether an open incident has an update to announce or a resolve due."""
        with self.reading() as conn:
            return conn.execute(sa.select(T_INCIDENT.c.incident_id).where(
                (T_INCIDENT.c.state == "open") & T_INCIDENT.c.due_at.is_not(None)
                & (T_INCIDENT.c.due_at <= aware(now))).limit(1)).first() is not None

    def tickets_in_open_incidents(self, conn: Connection, source: str,
                                  ticket_ids: Sequence[str]) -> set[str]:
        """Which of these tickets are members of an open incident (`inhibited_by: [incident]`)."""
        out: set[str] = set()
        for chunk in _chunks(list(ticket_ids)):
            out.update(conn.execute(sa.select(T_INCIDENT_MEMBER.c.ticket_id).join(
                T_INCIDENT, T_INCIDENT.c.incident_id == T_INCIDENT_MEMBER.c.incident_id).where(
                (T_INCIDENT.c.state == "open") & (T_INCIDENT_MEMBER.c.source == source)
                & T_INCIDENT_MEMBER.c.ticket_id.in_(list(chunk)))).scalars())
        return out

    def list_incidents(self, since: datetime | None = None, state: str | None = None,
                       limit: int = 100) -> list[dict[str, Any]]:
        """Incidents, newest first, each with `member_tickets` (source, ticket_id, url,
        subject, phrase, joined_at) oldest first: for `report` and the dashboard."""
        with self.reading() as conn:
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
            for chunk in _chunks(list(by_id)):
                for member in conn.execute(sa.select(T_INCIDENT_MEMBER).where(
                        T_INCIDENT_MEMBER.c.incident_id.in_(list(chunk))).order_by(
                        T_INCIDENT_MEMBER.c.joined_at, T_INCIDENT_MEMBER.c.ticket_id)).mappings():
                    by_id[member["incident_id"]]["member_tickets"].append(
                        {key: member[key] for key in ("source", "ticket_id", "url", "subject",
                                                      "phrase", "joined_at")})
        for row in incidents:
            for key in ("opened_at", "last_member_at", "resolved_at", "last_update_at",
                        "due_at"):
                row[key] = aware(row[key])
            for member in row["member_tickets"]:
                member["joined_at"] = aware(member["joined_at"])
        return incidents


def _json_not_empty(column: Any, empty: str) -> Any:
    """`column` holds something other than `empty` (JSON has no equality on PostgreSQL,
    so the comparison is on its text, which both databases write without spaces)."""
    return column.is_not(None) & sa.cast(column, sa.Text).not_in([empty, "null"])


def _memoised(convert: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """`convert` with a cache for hashable arguments (lists are keyed as tuples)."""
    seen: dict[Any, Any] = {}

    def converted(value: Any) -> Any:
        key = tuple(value) if isinstance(value, list) else value
        try:
            return seen[key]
        except KeyError:
            result = seen[key] = convert(value)
            return result
        except TypeError:  # unhashable: convert every time
            return convert(value)
    return converted


def _sqlite_time(value: datetime | None) -> str | None:
    """The storage format of SQLAlchemy's SQLite DateTime, in UTC."""
    moment = aware(value)
    return None if moment is None else \
        moment.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
