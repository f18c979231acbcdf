"""Persistence, SQLite or PostgreSQL: one `Store` over one engine, one room per concern.

Everything that must survive a restart lives here.  `Store` holds the engine and hands
out the concerns, each a small object over the same `Database`:

- `store.sources`: cursors, leases with fencing tokens, poll health, live replicas;
- `store.messages`: the messages with their scores, the ticket snapshots;
- `store.rules`: per-(ticket, rule) history, the escalation log, the agents' marks;
- `store.outbox`: side effects queued with the batch, claimed and delivered later;
- `store.incidents`: the incident window, incidents and their members;
- `store.retention`: the customer's words leave every table after a while;
- `store.series`: each ticket's scored customer series in one row and its agents' reply
  pairs, for the readers.

Methods taking a `conn` join the caller's transaction: `with store.transaction() as conn`
a poll's messages, rule state, outbox rows and cursor commit together or not at all.
Timestamps are stored in UTC.  The tables and their column limits are in
`daemon.store.models`; the schema is created and upgraded by daemon.migrate.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from sqlalchemy.engine import Connection, Engine

from daemon.store.database import Database
from daemon.store.incidents import Incidents
from daemon.store.messages import Messages
from daemon.store.models import (
    T_ESCALATION,
    T_FEEDBACK,
    T_INCIDENT,
    T_INCIDENT_CANDIDATE,
    T_INCIDENT_MEMBER,
    T_MESSAGE,
    T_OUTBOX,
    T_REPLICA,
    T_REPLY,
    T_RULE,
    T_SERIES,
    T_SOURCE,
    T_TICKET,
    T_TURN,
    EscalationEvent,
    EscalationFeedback,
    IncidentCandidateRow,
    IncidentMemberRow,
    IncidentRow,
    OutboxRow,
    Replica,
    RuleState,
    SourceState,
    StoredMessage,
    Ticket,
    clip,
    fit,
    fitted,
)
from daemon.store.outbox import Outbox
from daemon.store.replies import AGENT_KEY
from daemon.store.retention import Retention
from daemon.store.rules import Rules
from daemon.store.series import CUSTOMER_SCORED, Series
from daemon.store.sources import LeaseLost, Sources

__all__ = [
    "AGENT_KEY", "CUSTOMER_SCORED", "T_ESCALATION", "T_FEEDBACK", "T_INCIDENT",
    "T_INCIDENT_CANDIDATE", "T_INCIDENT_MEMBER", "T_MESSAGE", "T_OUTBOX", "T_REPLICA",
    "T_REPLY", "T_RULE", "T_SERIES", "T_SOURCE", "T_TICKET", "T_TURN",
    "DatabaseUnavailable", "EscalationEvent", "EscalationFeedback", "IncidentCandidateRow",
    "IncidentMemberRow", "IncidentRow", "LeaseLost", "OutboxRow", "Replica", "RuleState",
    "SourceState", "Store", "StoredMessage", "Ticket", "clip", "fit", "fitted",
]


class DatabaseUnavailable(Exception):
    """The database did not accept connections within the start-up wait."""


class Store:
    """All database access.  Thread-safe; on SQLite writes are serialised in-process."""

    def __init__(self, url: str, *, echo: bool = False,
                 stuck_after: timedelta = timedelta(seconds=30)) -> None:
        """`stuck_after`: see `Database` (PostgreSQL's idle-in-transaction and lock waits)."""
        self.db = Database(url, echo=echo, stuck_after=stuck_after)
        self.sources = Sources(self.db)
        self.messages = Messages(self.db)
        self.rules = Rules(self.db)
        self.outbox = Outbox(self.db)
        self.incidents = Incidents(self.db)
        self.retention = Retention(self.db)
        self.series = Series(self.db)

    @property
    def url(self) -> str:
        return self.db.url

    @property
    def engine(self) -> Engine:
        return self.db.engine

    @property
    def is_sqlite(self) -> bool:
        return self.db.is_sqlite

    @property
    def is_postgres(self) -> bool:
        return self.db.is_postgres

    def close(self) -> None:
        self.db.close()

    def create_schema(self) -> None:
        """Create or upgrade the schema through the Alembic revisions (daemon.migrate);
        safe when several processes run it at once.  Raises SchemaTooNew when the
        database was upgraded by a newer release."""
        from daemon.migrate import upgrade_schema

        upgrade_schema(self.engine)

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One write transaction (serialised on SQLite, where writers would only queue)."""
        with self.db.transaction() as conn:
            yield conn

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        with self.db.reading() as conn:
            yield conn
