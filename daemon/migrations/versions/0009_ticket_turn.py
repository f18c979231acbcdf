"""`ticket_turn`: where each ticket's `ticket_series` and `reply_pair` rows stand (the ids
of the latest customer or public agent message they were made from and of the latest
scored public customer message, and how many of those), so the pipeline extends them
with a batch's later messages instead of rewriting them from every message of the ticket
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
                 sa.column("turns", sa.Integer()), sa.column("turn_id", sa.Integer()))


def upgrade() -> None:
    op.create_table(
        "ticket_turn",
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("ticket_id", sa.String(length=128), nullable=False),
        sa.Column("last_id", sa.Integer(), nullable=False),
        sa.Column("turns", sa.Integer(), nullable=False),
        sa.Column("turn_id", sa.Integer(), nullable=True),
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
        m.source, m.ticket_id, m.id, m.author_role, m.public, m.score,
    ).where((m.author_role == "customer") | ((m.author_role == "agent") & m.public)
            ).order_by(m.source, m.ticket_id, m.created_at, m.id))
    batch: list[dict[str, Any]] = []
    turn: dict[str, Any] | None = None
    for source, ticket_id, row_id, role, public, score in rows:
        if turn is None or (turn["source"], turn["ticket_id"]) != (source, ticket_id):
            turn = {"source": source, "ticket_id": ticket_id, "turns": 0, "turn_id": None}
            batch.append(turn)
        turn["last_id"] = row_id
        if role == "customer" and public and score is not None:
            turn["turns"] += 1
            turn["turn_id"] = row_id
        if len(batch) > 1000:
            conn.execute(_TURN.insert(), batch[:-1])
            del batch[:-1]
    if batch:
        conn.execute(_TURN.insert(), batch)
