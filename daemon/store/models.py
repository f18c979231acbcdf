"""The tables: SQLModel classes, their Core `Table`s (T_*) and the limits of their columns.

Every limit on what a column holds lives here, on the column: `max_length` for strings
(the database's own limit) and `info={"max_chars": n}` for texts we keep short by policy
(a subject, an error).  `fit` applies them to a row before it is written, `clip` to one
value, so no caller truncates by hand.  A new column needs an Alembic revision too
(daemon/migrations; a test checks the revisions build exactly these tables).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import JSON, Column, Field, SQLModel, Text


def _short_text(chars: int) -> Any:
    """A TEXT column we keep to `chars` characters (policy, not a database limit)."""
    return Column(Text, info={"max_chars": chars})


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
    last_error: str | None = Field(default=None, sa_column=_short_text(500))
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
        # Both cover the dashboard's and report's hot reads (daemon/insights/): a
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
    __table_args__ = (sa.Index("ix_ticket_requester", "source", "requester"),)
    source: str = Field(primary_key=True, max_length=64)
    ticket_id: str = Field(primary_key=True, max_length=128)
    subject: str = Field(default="", sa_column=_short_text(500))
    url: str = Field(default="", sa_column=Column(Text))
    status: str | None = Field(default=None, max_length=32)
    priority: str | None = Field(default=None, max_length=16)
    tags: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    requester: str | None = Field(default=None, max_length=256)
    assignee: str | None = Field(default=None, max_length=256)
    assignee_group: str | None = Field(default=None, max_length=256)
    updated_at: datetime


class TicketSeries(SQLModel, table=True):
    """Each ticket's scored customer series as the dashboard reads it (every score, oldest
    first, and its latest message), brought up to date in the transaction that changes
    them (daemon/store/series.py: later messages appended, anything else rewritten from
    `message`): the pages read one row per ticket, not every message, and the trend is
    still computed from the scores at read time."""

    __tablename__ = "ticket_series"
    __table_args__ = (sa.Index("ix_ticket_series_last", "last_at"),)
    source: str = Field(primary_key=True, max_length=64)
    ticket_id: str = Field(primary_key=True, max_length=128)
    scores: list[float] = Field(default_factory=list, sa_column=Column(JSON))
    last_id: int
    last_at: datetime
    last_signals: list[str] = Field(default_factory=list, sa_column=Column(JSON))


class ReplyPair(SQLModel, table=True):
    """One agent's public reply (several in a row count once) that a scored customer
    message follows, with the customer's score before it and the next one: what the
    agents' page adds up, kept with `ticket_series` (daemon/store/replies.py)."""

    __tablename__ = "reply_pair"
    __table_args__ = (sa.Index("ix_reply_pair_reply", "last_reply_at"),)
    source: str = Field(primary_key=True, max_length=64)
    ticket_id: str = Field(primary_key=True, max_length=128)
    turn: int = Field(primary_key=True)  # scored customer messages before the reply
    agent: str = Field(primary_key=True, max_length=256)  # id, else name, else "unknown"
    score_before: float
    score_after: float
    last_reply_at: datetime  # the agent's latest reply before the customer's next message
    after_at: datetime  # when the customer's next scored message was written


class TicketTurn(SQLModel, table=True):
    """Where each ticket's `ticket_series` and `reply_pair` rows stand: the latest
    customer or public agent message they were made from, and the turn the conversation
    is in (the scored public customer messages so far and the latest of them).  A batch
    whose messages all come after `last_id`'s extends the two copies from here instead of
    rewriting them (daemon/store/series.py); written with them.  Messages are named by
    id, not copied: their stored times are what orders them."""

    __tablename__ = "ticket_turn"
    source: str = Field(primary_key=True, max_length=64)
    ticket_id: str = Field(primary_key=True, max_length=128)
    last_id: int  # `message.id`
    turns: int = 0  # scored public customer messages: the pairs' `turn` of the next reply
    turn_id: int | None = None  # the latest of them (None: no turn yet)


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
    # ix_escalation_ticket: what an alert counts (a ticket's and a customer's earlier
    # escalations) reads the index, not the whole log.
    __table_args__ = (sa.Index("ix_escalation_at", "at"),
                      sa.Index("ix_escalation_ticket", "source", "ticket_id", "kind"))
    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=64)
    ticket_id: str = Field(max_length=128)
    rule: str = Field(max_length=64)
    kind: str = Field(max_length=16)
    reason: str = Field(default="", max_length=64)
    numbers: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    at: datetime


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
    last_error: str | None = Field(default=None, sa_column=_short_text(500))
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
    phrase: str = Field(default="", sa_column=_short_text(300))
    url: str = Field(default="", sa_column=Column(Text))
    subject: str = Field(default="", sa_column=_short_text(300))
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
    label: str = Field(default="", sa_column=_short_text(80))
    url: str = Field(default="", sa_column=Column(Text))
    subject: str = Field(default="", sa_column=_short_text(300))


T_SOURCE = SourceState.__table__  # type: ignore[attr-defined]
T_MESSAGE = StoredMessage.__table__  # type: ignore[attr-defined]
T_TICKET = Ticket.__table__  # type: ignore[attr-defined]
T_RULE = RuleState.__table__  # type: ignore[attr-defined]
T_SERIES = TicketSeries.__table__  # type: ignore[attr-defined]
T_REPLY = ReplyPair.__table__  # type: ignore[attr-defined]
T_TURN = TicketTurn.__table__  # type: ignore[attr-defined]
T_ESCALATION = EscalationEvent.__table__  # type: ignore[attr-defined]
T_OUTBOX = OutboxRow.__table__  # type: ignore[attr-defined]
T_REPLICA = Replica.__table__  # type: ignore[attr-defined]
T_INCIDENT = IncidentRow.__table__  # type: ignore[attr-defined]
T_INCIDENT_MEMBER = IncidentMemberRow.__table__  # type: ignore[attr-defined]
T_INCIDENT_CANDIDATE = IncidentCandidateRow.__table__  # type: ignore[attr-defined]
T_FEEDBACK = EscalationFeedback.__table__  # type: ignore[attr-defined]


def _limit(column: sa.Column[Any]) -> int | None:
    length = getattr(column.type, "length", None)
    return int(length) if length else column.info.get("max_chars")


#: table name -> (column, most characters) for every column with a limit.
LIMITS: dict[str, tuple[tuple[str, int], ...]] = {
    table.name: tuple((column.name, limit) for column in table.columns
                      if (limit := _limit(column)) is not None)
    for table in SQLModel.metadata.sorted_tables}


def clip(column: sa.Column[Any], value: str) -> str:
    """`value` as `column` keeps it (a message id as stored, for a key read back)."""
    limit = _limit(column)
    return value if limit is None else value[:limit]


def fit(table: sa.Table, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`rows` with every string cut to its column's limit (the same list when none is over:
    the common case costs one length check per limited column)."""
    limits = LIMITS.get(table.name, ())
    for row in rows:
        for name, limit in limits:
            value = row.get(name)
            if isinstance(value, str) and len(value) > limit:
                row[name] = value[:limit]
    return rows


def fitted(table: sa.Table, row: Mapping[str, Any]) -> dict[str, Any]:
    """One row's values (for an UPDATE) cut to their columns' limits."""
    return fit(table, [dict(row)])[0]
