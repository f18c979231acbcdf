"""Retire `schema_info`: Alembic's `alembic_version` is the one record of the schema now.

The first release wrote a version number there and never read it.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_table("schema_info")


def downgrade() -> None:
    op.create_table(
        "schema_info",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"))
    op.execute("INSERT INTO schema_info (id, version) VALUES (1, 1)")
