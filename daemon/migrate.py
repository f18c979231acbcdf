"""Schema migrations: bring the database to the revision this release knows, or refuse.

The schema is versioned by Alembic (revisions in `daemon/migrations/versions`, shipped in
the package and run from code: no alembic.ini at run time).  Every start-up, and every
tool that opens the database, calls `upgrade_schema`:

- an empty database gets every revision from the baseline on;
- a database written by the first release (a `schema_info` table, no `alembic_version`)
  is stamped with the baseline it already has, then upgraded;
- a database at a revision this release does not know (written by a newer release) is
  refused with `SchemaTooNew`: running old code on it could lose what the new columns
  hold, so the daemon says so and exits instead.

On PostgreSQL the whole check-and-upgrade runs in one transaction under an advisory lock,
so replicas starting together upgrade once and the others see the result; PostgreSQL's
transactional DDL means a failed revision leaves the schema as it was.  SQLite databases
have one daemon (the database lock), and SQLite runs revisions in batch mode.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine

#: The revision equal to the schema of the first release (commit e568a8e).
BASELINE = "0001"
#: Any constant shared by every process that migrates this database.
MIGRATION_LOCK_KEY = 7364021
_SCRIPTS = Path(__file__).resolve().parent / "migrations"


class SchemaTooNew(Exception):
    """The database was migrated by a newer release than this one."""


def alembic_config(connection: Connection | None = None) -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(_SCRIPTS))
    config.attributes["connection"] = connection
    return config


@cache
def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    head = _scripts().get_current_head()
    assert head is not None, "no migration revisions shipped"
    return head


def known_revisions() -> frozenset[str]:
    return frozenset(rev.revision for rev in _scripts().walk_revisions())


def current_revision(conn: Connection) -> str | None:
    heads = MigrationContext.configure(conn).get_current_heads()
    return heads[0] if heads else None


def upgrade_schema(engine: Engine) -> str | None:
    """Upgrade to the newest known revision; returns the revision the database had.

    Raises SchemaTooNew when the database is ahead of this release."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"),
                         {"key": MIGRATION_LOCK_KEY})
        heads = MigrationContext.configure(conn).get_current_heads()
        unknown = sorted(set(heads) - known_revisions())
        if unknown:
            raise SchemaTooNew(
                f"the database schema is at revision {', '.join(unknown)}, newer than this "
                f"helpdesk-sentinel knows (newest: {head_revision()}); it was upgraded by "
                "a newer release: run that release, or restore the backup taken before "
                "the upgrade")
        if heads == (head_revision(),):
            return heads[0]
        before = heads[0] if heads else None
        config = alembic_config(conn)
        if before is None and sa.inspect(conn).has_table("schema_info"):
            command.stamp(config, BASELINE)  # written by the first release: it is the baseline
            before = BASELINE
        command.upgrade(config, "head")
        return before
