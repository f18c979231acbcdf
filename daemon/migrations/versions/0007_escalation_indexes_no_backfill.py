"""The escalation log loses `backfill` (always false: a backfill without alerts evaluates
no rule, one with alerts escalates for real) and gains the indexes an alert's facts read:
a ticket's earlier escalations and a customer's other tickets.  Without them each alert
scanned the whole log, a cost per message that grew with the number of tickets.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("escalation") as batch:
        batch.drop_column("backfill")
    op.create_index("ix_escalation_ticket", "escalation", ["source", "ticket_id", "kind"])
    op.create_index("ix_ticket_requester", "ticket", ["source", "requester"])


def downgrade() -> None:
    op.drop_index("ix_ticket_requester", table_name="ticket")
    op.drop_index("ix_escalation_ticket", table_name="escalation")
    with op.batch_alter_table("escalation") as batch:
        batch.add_column(sa.Column("backfill", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
