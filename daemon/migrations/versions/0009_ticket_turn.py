"""`ticket_turn`: where each ticket's `ticket_series` and `reply_pair` rows stand (the
latest customer or public agent message they were made from, the scored public customer
messages so far and the latest of them), so the pipeline extends them with a batch's
later messages instead of rewriting them from every message of the ticket
(daemon/store/series.py).  The rows of an existing database are built here from
`message`, with the predicates and order the store uses (a test compares the two).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-09
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

UTC_TIME = sa.DateTime(timezone=True)

_MESSAGE = sa.table("message", sa.column("id", sa.Integer()), sa.column("public", sa.Boolean()),
                    sa.column("source", sa.String()), sa.column("ticket_id", sa.String()),
                    sa.column("author_role", sa.String()), sa.column("score", sa.Float()),
                    sa.column("created_at", UTC_TIME))
_TURN = sa.table("ticket_turn", sa.column("source", sa.String()),
                 sa.column("ticket_id", sa.String()), sa.column("last_id", sa.Integer()),
                 sa.column("last_at", UTC_TIME), sa.column("turns", sa.Integer()),
                 sa.column("turn_id", sa.Integer()), sa.column("turn_at", UTC_TIME),
                 sa.column("turn_score", sa.Float()))


def upgrade() -> None:
    op.create_table(
        "ticket_turn",
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("ticket_id", sa.String(length=128), nullable=False),
        sa.Column("last_id", sa.Integer(), nullable=False),
        sa.Column("last_at", UTC_TIME, nullable=False),
        sa.Column("turns", sa.Integer(), nullable=False),
        sa.Column("turn_id", sa.Integer(), nullable=True),
        sa.Column("turn_at", UTC_TIME, nullable=True),
        sa.Column("turn_score", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("source", "ticket_id"))
    _backfill(op.get_bind())


def downgrade() -> None:
    op.drop_table("ticket_turn")


def _backfill(conn: sa.Connection) -> None:
    """One row per ticket with a customer or public agent message: the latest of them in
    (created_at, id) order, and its public customer messages with a score (a language
    the scorer cannot read counts: 0.0), how many and the latest."""
    m = _MESSAGE.c
    rows = conn.execute(sa.select(
        m.source, m.ticket_id, m.id, m.author_role, m.public, m.score, m.created_at,
    ).where((m.author_role == "customer") | ((m.author_role == "agent") & m.public)
            ).order_by(m.source, m.ticket_id, m.created_at, m.id))
    batch: list[dict[str, Any]] = []
    turn: dict[str, Any] | None = None
    for source, ticket_id, row_id, role, public, score, created_at in rows:
        if turn is None or (turn["source"], turn["ticket_id"]) != (source, ticket_id):
            turn = {"source": source, "ticket_id": ticket_id, "turns": 0, "turn_id": None,
                    "turn_at": None, "turn_score": None}
            batch.append(turn)
        turn.update(last_id=row_id, last_at=created_at)
        if role == "customer" and public and score is not None:
            turn.update(turns=turn["turns"] + 1, turn_id=row_id, turn_at=created_at,
                        turn_score=float(score))
        if len(batch) > 1000:
            conn.execute(_TURN.insert(), batch[:-1])
            del batch[:-1]
    if batch:
        conn.execute(_TURN.insert(), batch)
