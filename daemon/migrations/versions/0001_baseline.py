"""Baseline: the schema of the first release (commit e568a8e), before migrations existed.

A database that release created has a `schema_info` table and no `alembic_version`;
`daemon.migrate` recognises it and stamps it with this revision instead of running it.

Revision ID: 0001
Revises:
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

UTC_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "schema_info",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"))
    op.create_table(
        "source_state",
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("cursor", sa.Text(), nullable=True),
        sa.Column("cursor_updated_at", UTC_TIME, nullable=True),
        sa.Column("owner", sa.String(length=128), nullable=True),
        sa.Column("lease_until", UTC_TIME, nullable=True),
        sa.Column("fencing_token", sa.Integer(), nullable=False),
        sa.Column("last_poll_at", UTC_TIME, nullable=True),
        sa.Column("last_success_at", UTC_TIME, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("not_before", UTC_TIME, nullable=True),
        sa.Column("polls", sa.Integer(), nullable=False),
        sa.Column("messages", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("source"))
    op.create_table(
        "replica",
        sa.Column("owner", sa.String(length=128), nullable=False),
        sa.Column("started_at", UTC_TIME, nullable=False),
        sa.Column("last_seen", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("owner"))
    op.create_table(
        "message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("message_id", sa.String(length=128), nullable=False),
        sa.Column("ticket_id", sa.String(length=128), nullable=False),
        sa.Column("author_role", sa.String(length=16), nullable=False),
        sa.Column("author_id", sa.String(length=128), nullable=True),
        sa.Column("author_name", sa.String(length=256), nullable=True),
        sa.Column("public", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("body_chars", sa.Integer(), nullable=False),
        sa.Column("truncated", sa.Boolean(), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("label", sa.String(length=16), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("indicators", sa.JSON(), nullable=True),
        sa.Column("signals", sa.JSON(), nullable=True),
        sa.Column("scorer", sa.String(length=32), nullable=True),
        sa.Column("model", sa.String(length=64), nullable=True),
        sa.Column("needs_rescore", sa.Boolean(), nullable=False),
        sa.Column("stored_at", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source", "message_id", name="uq_message_source_id"))
    op.create_index("ix_message_ticket", "message", ["source", "ticket_id", "created_at"])
    op.create_index("ix_message_created", "message", ["created_at"])
    op.create_table(
        "ticket",
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("ticket_id", sa.String(length=128), nullable=False),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=True),
        sa.Column("priority", sa.String(length=16), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=True),
        sa.Column("requester", sa.String(length=256), nullable=True),
        sa.Column("updated_at", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("source", "ticket_id"))
    op.create_table(
        "rule_state",
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("ticket_id", sa.String(length=128), nullable=False),
        sa.Column("rule", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("history", sa.JSON(), nullable=True),
        sa.Column("updated_at", UTC_TIME, nullable=False),
        sa.Column("due_at", UTC_TIME, nullable=True),
        sa.PrimaryKeyConstraint("source", "ticket_id", "rule"))
    op.create_index("ix_rule_state_due_at", "rule_state", ["due_at"])
    op.create_table(
        "escalation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("ticket_id", sa.String(length=128), nullable=False),
        sa.Column("rule", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.Column("numbers", sa.JSON(), nullable=True),
        sa.Column("at", UTC_TIME, nullable=False),
        sa.Column("backfill", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"))
    op.create_index("ix_escalation_at", "escalation", ["at"])
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dedupe_key", sa.String(length=512), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("ticket_id", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("target", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTC_TIME, nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("delivered_at", UTC_TIME, nullable=True),
        sa.Column("claimed_by", sa.String(length=128), nullable=True),
        sa.Column("claimed_until", UTC_TIME, nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dedupe_key", name="uq_outbox_dedupe"))
    op.create_index("ix_outbox_due", "outbox", ["status", "next_attempt_at"])
    # What the first release wrote at creation; revision 0002 retires it.
    op.execute("INSERT INTO schema_info (id, version) VALUES (1, 1)")


def downgrade() -> None:
    for table in ("outbox", "escalation", "rule_state", "ticket", "message", "replica",
                  "source_state", "schema_info"):
        op.drop_table(table)
