"""Agents' marks on escalations: false alarms and misses read from ticket tags
(rules/feedback.py), one row per (ticket, rule) plus a ticket-level row (`rule` "*").

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

UTC_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "escalation_feedback",
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("ticket_id", sa.String(length=128), nullable=False),
        sa.Column("rule", sa.String(length=64), nullable=False),
        sa.Column("fire_count", sa.Integer(), nullable=False),
        sa.Column("tag_seen", sa.Boolean(), nullable=False),
        sa.Column("false_alarm_at", UTC_TIME, nullable=True),
        sa.Column("false_alarm_via", sa.String(length=16), nullable=True),
        sa.Column("muted_message_id", sa.String(length=128), nullable=True),
        sa.Column("missed_at", UTC_TIME, nullable=True),
        sa.Column("flag_present", sa.Boolean(), nullable=False),
        sa.Column("updated_at", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("source", "ticket_id", "rule"))


def downgrade() -> None:
    op.drop_table("escalation_feedback")
