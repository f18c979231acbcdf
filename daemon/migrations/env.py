"""Alembic environment: run the revisions on the connection `daemon.migrate` hands over.

At run time nothing reads an alembic.ini: `daemon.migrate` builds the Alembic config in
code and passes an open connection (inside its transaction, under the PostgreSQL advisory
lock) through `config.attributes`.  A developer writing a new revision with the `alembic`
command (alembic.ini at the repository root) gets a connection from `sqlalchemy.url` or
`SENTINEL_DATABASE_URL` instead.  SQLite cannot alter most columns in place, so revisions
run in batch mode there (copy the table, move the rows, swap).
"""

from __future__ import annotations

import os
from typing import Any, Literal

import sqlalchemy as sa
from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlmodel import SQLModel
from sqlmodel.sql.sqltypes import AutoString, UTCDateTime

import daemon.store  # noqa: F401  (registers the tables on SQLModel.metadata)

config = context.config
target_metadata = SQLModel.metadata


def render_item(kind: str, item: Any, _context: AutogenContext) -> str | Literal[False]:
    """Autogenerate writes SQLModel's column types as the plain SQLAlchemy types they
    store as, so a revision needs no sqlmodel import and reads like 0001."""
    if kind == "type" and isinstance(item, AutoString):
        return f"sa.String(length={item.length})" if item.length else "sa.String()"
    if kind == "type" and isinstance(item, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _run(connection: sa.Connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata,
                      render_as_batch=connection.dialect.name == "sqlite",
                      compare_type=True, render_item=render_item)
    with context.begin_transaction():
        context.run_migrations()


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = os.environ.get("SENTINEL_DATABASE_URL") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("set SENTINEL_DATABASE_URL (or sqlalchemy.url) to a scratch database")
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        _run(conn)
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) migrations are not supported; run against a database")
run()
