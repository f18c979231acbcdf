"""Incidents: many customers upset about one thing at once (rules/incidents.py).

`incident` and `incident_member` hold what was announced; `incident_candidate` is the
sliding window's pool of recent negative messages that belong to no incident yet.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

UTC_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "incident",
        sa.Column("incident_id", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("key_term", sa.String(length=128), nullable=False),
        sa.Column("terms", sa.JSON(), nullable=True),
        sa.Column("topic", sa.Text(), nullable=True),
        sa.Column("opened_at", UTC_TIME, nullable=False),
        sa.Column("last_member_at", UTC_TIME, nullable=False),
        sa.Column("resolved_at", UTC_TIME, nullable=True),
        sa.Column("updates", sa.Integer(), nullable=False),
        sa.Column("last_update_at", UTC_TIME, nullable=True),
        sa.Column("members", sa.Integer(), nullable=False),
        sa.Column("due_at", UTC_TIME, nullable=True),
        sa.PrimaryKeyConstraint("incident_id"))
    op.create_index("ix_incident_opened", "incident", ["opened_at"])
    op.create_index("ix_incident_state_due", "incident", ["state", "due_at"])
    op.create_table(
        "incident_candidate",
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("message_id", sa.String(length=128), nullable=False),
        sa.Column("ticket_id", sa.String(length=128), nullable=False),
        sa.Column("at", UTC_TIME, nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("terms", sa.JSON(), nullable=True),
        sa.Column("words", sa.JSON(), nullable=True),
        sa.Column("signals", sa.JSON(), nullable=True),
        sa.Column("label", sa.Text(), nullable=True),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("source", "message_id"))
    op.create_index("ix_incident_candidate_at", "incident_candidate", ["at"])
    op.create_table(
        "incident_member",
        sa.Column("incident_id", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("ticket_id", sa.String(length=128), nullable=False),
        sa.Column("message_id", sa.String(length=128), nullable=False),
        sa.Column("joined_at", UTC_TIME, nullable=False),
        sa.Column("phrase", sa.Text(), nullable=True),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("announced", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("incident_id", "source", "ticket_id"))
    op.create_index("ix_incident_member_ticket", "incident_member", ["source", "ticket_id"])


def downgrade() -> None:
    op.drop_table("incident_member")
    op.drop_table("incident_candidate")
    op.drop_table("incident")
