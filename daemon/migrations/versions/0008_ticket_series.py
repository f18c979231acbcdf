"""`ticket_series`: each ticket's scored customer series in one row, so the dashboard and
`report` read one row per active ticket instead of every message (daemon/store/series.py);
`reply_pair`: agents' replies with the customer's scores around them, so the agents' page
reads one row per pair instead of walking every conversation (daemon/store/replies.py).
The rows of an existing database are built here from `message`, with the predicates and
order the store uses (a test compares the two on the same data).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

UTC_TIME = sa.DateTime(timezone=True)

_MESSAGE = sa.table("message", sa.column("id", sa.Integer()), sa.column("public", sa.Boolean()),
                    sa.column("author_id", sa.String()), sa.column("author_name", sa.String()),
                    sa.column("source", sa.String()), sa.column("ticket_id", sa.String()),
                    sa.column("author_role", sa.String()), sa.column("score", sa.Float()),
                    sa.column("language_supported", sa.Boolean()),
                    sa.column("created_at", UTC_TIME), sa.column("signals", sa.Text()))
_REPLY = sa.table("reply_pair", sa.column("source", sa.String()),
                  sa.column("ticket_id", sa.String()), sa.column("turn", sa.Integer()),
                  sa.column("agent", sa.String()), sa.column("score_before", sa.Float()),
                  sa.column("score_after", sa.Float()),
                  sa.column("last_reply_at", UTC_TIME), sa.column("after_at", UTC_TIME))
_SERIES = sa.table("ticket_series", sa.column("source", sa.String()),
                   sa.column("ticket_id", sa.String()), sa.column("scores", sa.JSON()),
                   sa.column("last_id", sa.Integer()), sa.column("last_at", UTC_TIME),
                   sa.column("last_signals", sa.JSON()))


def upgrade() -> None:
    op.create_table(
        "ticket_series",
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("ticket_id", sa.String(length=128), nullable=False),
        sa.Column("scores", sa.JSON(), nullable=True),
        sa.Column("last_id", sa.Integer(), nullable=False),
        sa.Column("last_at", UTC_TIME, nullable=False),
        sa.Column("last_signals", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("source", "ticket_id"))
    op.create_index("ix_ticket_series_last", "ticket_series", ["last_at"])
    op.create_table(
        "reply_pair",
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("ticket_id", sa.String(length=128), nullable=False),
        sa.Column("turn", sa.Integer(), nullable=False),
        sa.Column("agent", sa.String(length=256), nullable=False),
        sa.Column("score_before", sa.Float(), nullable=False),
        sa.Column("score_after", sa.Float(), nullable=False),
        sa.Column("last_reply_at", UTC_TIME, nullable=False),
        sa.Column("after_at", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("source", "ticket_id", "turn", "agent"))
    op.create_index("ix_reply_pair_reply", "reply_pair", ["last_reply_at"])
    _backfill(op.get_bind())
    _backfill_pairs(op.get_bind())


def downgrade() -> None:
    op.drop_index("ix_reply_pair_reply", table_name="reply_pair")
    op.drop_table("reply_pair")
    op.drop_index("ix_ticket_series_last", table_name="ticket_series")
    op.drop_table("ticket_series")


def _backfill(conn: sa.Connection) -> None:
    """One row per ticket with a readable scored customer message: its scores in
    (created_at, id) order and its latest message."""
    m = _MESSAGE.c
    rows = conn.execute(sa.select(
        m.source, m.ticket_id, m.id, m.score, m.created_at, sa.cast(m.signals, sa.Text),
    ).where((m.author_role == "customer") & m.score.is_not(None)
            & m.language_supported.is_not(False)
            ).order_by(m.source, m.ticket_id, m.created_at, m.id)).all()
    out: list[dict[str, Any]] = []
    for source, ticket_id, row_id, score, created_at, raw in rows:
        if not out or (out[-1]["source"], out[-1]["ticket_id"]) != (source, ticket_id):
            out.append({"source": source, "ticket_id": ticket_id, "scores": []})
        out[-1]["scores"].append(float(score))
        out[-1].update(last_id=row_id, last_at=created_at, last_signals=_signals(raw))
    for start in range(0, len(out), 1000):
        conn.execute(_SERIES.insert(), out[start:start + 1000])


def _backfill_pairs(conn: sa.Connection) -> None:
    """Each agent's public replies in each turn (between two scored customer messages)
    that the customer's next scored message follows: one row per (turn, agent)."""
    m = _MESSAGE.c
    rows = conn.execute(sa.select(
        m.source, m.ticket_id, m.author_role, m.score,
        sa.func.coalesce(m.author_id, m.author_name, "unknown"), m.created_at,
    ).where(m.public & m.author_role.in_(("customer", "agent"))
            ).order_by(m.source, m.ticket_id, m.created_at, m.id)).all()
    out: list[dict[str, Any]] = []
    ticket: tuple[str, str] | None = None
    turn, before = 0, 0.0
    waiting: dict[str, Any] = {}  # agent -> time of their latest reply in this turn
    for source, ticket_id, role, score, agent, created_at in rows:
        if (source, ticket_id) != ticket:
            ticket, turn, waiting = (source, ticket_id), 0, {}
        if role == "customer":
            if score is None:
                continue
            out.extend({"source": source, "ticket_id": ticket_id, "turn": turn,
                        "agent": name, "score_before": before, "score_after": float(score),
                        "last_reply_at": at, "after_at": created_at}
                       for name, at in waiting.items())
            turn, before, waiting = turn + 1, float(score), {}
        elif turn:
            waiting[str(agent)] = created_at
    for start in range(0, len(out), 1000):
        conn.execute(_REPLY.insert(), out[start:start + 1000])


def _signals(raw: str | None) -> list[str]:
    if not raw or raw == "[]":
        return []
    try:
        value = json.loads(raw)
    except ValueError:
        return []
    return [str(v) for v in value] if isinstance(value, list) else []
