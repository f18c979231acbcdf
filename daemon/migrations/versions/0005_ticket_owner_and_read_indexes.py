"""Who owns a ticket (assignee and group, where the vendor says), and covering indexes
for the dashboard's and report's reads (daemon/insights.py).

The two new `message` indexes start with the columns of the two they replace, so every
query the old ones served is still served, and the number of indexes the pipeline keeps
up to date stays two.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ticket") as batch:
        batch.add_column(sa.Column("assignee", sa.String(length=256), nullable=True))
        batch.add_column(sa.Column("assignee_group", sa.String(length=256), nullable=True))
    op.drop_index("ix_message_ticket", table_name="message")
    op.drop_index("ix_message_created", table_name="message")
    op.create_index("ix_message_series", "message",
                    ["source", "ticket_id", "created_at", "author_role", "score"])
    op.create_index("ix_message_recent", "message",
                    ["created_at", "author_role", "source", "ticket_id", "score"])


def downgrade() -> None:
    op.drop_index("ix_message_recent", table_name="message")
    op.drop_index("ix_message_series", table_name="message")
    op.create_index("ix_message_created", "message", ["created_at"])
    op.create_index("ix_message_ticket", "message", ["source", "ticket_id", "created_at"])
    with op.batch_alter_table("ticket") as batch:
        batch.drop_column("assignee_group")
        batch.drop_column("assignee")
