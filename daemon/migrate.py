"""Schema migrations: bring the database to the revision this release knows, or refuse.

The schema is versioned by Alembic (revisions in `daemon/migrations/versions`, shipped in
the package and run from code: no alembic.ini at run time).  Every start-up, and every
tool that opens the database, calls `upgrade_schema`:

- a database already at `HEAD` costs one query (Alembic is not even imported: start-up
  time matters to a daemon restarted after a crash);
- an empty database gets the models' tables and is stamped `HEAD`, in one transaction
  (Alembic's recipe for a fresh install: nothing to replay).  The stamp is Alembic's
  version table written here (`VERSION_TABLE`, as Alembic defines it), so a fresh
  install does not import Alembic either: its modules (and Mako's) would stay in the
  daemon's memory, some 6 to 8 MB, for a migration that never runs;
- a database written by the first release (a `schema_info` table, no `alembic_version`)
  is stamped with the baseline it already has, then upgraded revision by revision;
- a database at a revision this release does not know (written by a newer release) is
  refused with `SchemaTooNew`: old code on new columns could lose what they hold, so the
  daemon says so and exits instead.

Everything runs in one transaction, so a crash or a dropped connection halfway leaves
the schema as it was: PostgreSQL has transactional DDL, and SQLite gets it here through
a connection that issues its own `BEGIN IMMEDIATE` (the Python driver would otherwise
commit before each DDL statement).  That transaction also serialises processes upgrading
at once, with an advisory lock on PostgreSQL, so replicas starting together upgrade once.
tests/daemon/test_migrations.py checks that the revisions build exactly the models.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import NullPool

from daemon.logs import get_logger

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig
    from alembic.script import ScriptDirectory

#: The newest revision in daemon/migrations/versions (a test keeps the two in step).
HEAD = "0009"
#: The revision equal to the schema of the first release (commit e568a8e).
BASELINE = "0001"
#: Any constant shared by every process that migrates this database.
MIGRATION_LOCK_KEY = 7364021
_SCRIPTS = Path(__file__).resolve().parent / "migrations"

log = get_logger("sentinel.migrate")


#: Alembic's version table, as alembic.ddl.impl.DefaultImpl.version_table_impl builds it
#: (tests/daemon/test_migrations.py holds the two equal).
VERSION_TABLE = sa.Table("alembic_version", sa.MetaData(),
                         sa.Column("version_num", sa.String(32), nullable=False),
                         sa.PrimaryKeyConstraint("version_num", name="alembic_version_pkc"))


class SchemaError(Exception):
    """The database's schema is not one this release can run on (start-up exits 1)."""


class SchemaTooNew(SchemaError):
    """The database was migrated by a newer release than this one."""


class SchemaUnknown(SchemaError):
    """The database holds some of our tables but no record of their schema."""


def alembic_config(connection: Connection | None = None) -> AlembicConfig:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_SCRIPTS))
    config.attributes["connection"] = connection
    return config


@cache
def _scripts() -> ScriptDirectory:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    head = _scripts().get_current_head()
    assert head is not None, "no migration revisions shipped"
    return head


def known_revisions() -> frozenset[str]:
    return frozenset(rev.revision for rev in _scripts().walk_revisions())


def _recorded(conn: Connection) -> tuple[str, ...]:
    if not sa.inspect(conn).has_table("alembic_version"):
        return ()
    return tuple(conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars())


@contextmanager
def _one_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction that covers DDL too (see the module doc), exclusive among migrators."""
    if engine.dialect.name != "sqlite":
        with engine.begin() as conn:
            if engine.dialect.name == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"),
                             {"key": MIGRATION_LOCK_KEY})
            yield conn
        return
    private = sa.create_engine(engine.url, poolclass=NullPool,
                               connect_args={"timeout": 30, "check_same_thread": False})

    @sa.event.listens_for(private, "connect")
    def _driver_leaves_transactions_to_us(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None

    @sa.event.listens_for(private, "begin")
    def _begin_before_any_statement(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    try:
        with private.begin() as conn:
            yield conn
    finally:
        private.dispose()


def upgrade_schema(engine: Engine) -> tuple[str, ...]:
    """Bring the schema to the newest known revision; the revisions the database had.

    Raises SchemaTooNew when the database is ahead of this release, SchemaUnknown when
    it holds our tables without a record of their version."""
    with engine.connect() as conn:
        if _recorded(conn) == (HEAD,):
            return (HEAD,)
    from sqlmodel import SQLModel

    with _one_transaction(engine) as conn:
        before = _recorded(conn)
        if before == (HEAD,):
            return before
        if not before:
            existing = set(sa.inspect(conn).get_table_names()) & set(SQLModel.metadata.tables)
            if not existing and not sa.inspect(conn).has_table("schema_info"):
                SQLModel.metadata.create_all(conn, checkfirst=False)  # fresh: nothing to replay
                VERSION_TABLE.create(conn, checkfirst=True)  # Alembic's stamp checks too
                conn.execute(VERSION_TABLE.insert().values(version_num=HEAD))
                log.info("schema_created", revision=HEAD)
                return before
            if not sa.inspect(conn).has_table("schema_info"):
                raise SchemaUnknown(
                    f"the database has helpdesk-sentinel tables ({', '.join(sorted(existing))}) "
                    "but no record of their schema version (neither alembic_version nor "
                    "schema_info); restore it from a backup or point database.url elsewhere")
        # Alembic narrates every plugin and revision at INFO; one line of ours says it all.
        logging.getLogger("alembic").setLevel(logging.WARNING)
        from alembic import command

        head, known = head_revision(), known_revisions()
        unknown = sorted(set(before) - known)
        if unknown:
            raise SchemaTooNew(
                f"the database schema is at revision {', '.join(unknown)}, newer than this "
                f"helpdesk-sentinel knows (newest: {head}); it was upgraded by a newer "
                "release: run that release, or restore the backup taken before the upgrade")
        config = alembic_config(conn)
        if not before:
            command.stamp(config, BASELINE)  # the first release's schema is the baseline
        command.upgrade(config, "head")
        log.info("schema_upgraded", before=list(before) or f"{BASELINE} (first release)",
                 revision=head)
        return before
