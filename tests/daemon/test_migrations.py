"""Schema migrations (Alembic): a first-release database upgrades with nothing lost, the
migrated schema is exactly the models', and a newer schema than we know is refused.

The first-release database is made by that release's own code (tests/data/legacy_e568a8e,
run in its own interpreter), on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel

from daemon.migrate import BASELINE, HEAD, SchemaTooNew, SchemaUnknown, head_revision
from daemon.store import Store
from vocab import utcnow

REPO = Path(__file__).resolve().parents[2]
LEGACY = REPO / "tests" / "data" / "legacy_e568a8e" / "build.py"
TABLES = ("source_state", "replica", "message", "ticket", "rule_state", "escalation", "outbox")


def _rows(engine: sa.Engine) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table, read with plain SQL (not through the models)."""
    meta = sa.MetaData()
    meta.reflect(engine, only=TABLES)
    out: dict[str, list[dict[str, Any]]] = {}
    with engine.connect() as conn:
        for name in TABLES:
            table = meta.tables[name]
            query = sa.select(table).order_by(*table.primary_key.columns)
            out[name] = [dict(row) for row in conn.execute(query).mappings()]
    return out


#: Columns of the first release dropped since, with the only value they ever held
#: (0007: `escalation.backfill`, always false).
RETIRED: dict[str, dict[str, Any]] = {"escalation": {"backfill": False}}


def _schema_differences(engine: sa.Engine) -> list[Any]:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        differences: list[Any] = compare_metadata(context, SQLModel.metadata)
        return differences


def _revision(engine: sa.Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def test_first_release_database_upgrades_with_nothing_lost(db_url: str) -> None:
    subprocess.run([sys.executable, str(LEGACY), db_url], check=True, timeout=120, cwd=REPO)
    legacy = sa.create_engine(db_url)
    assert sa.inspect(legacy).has_table("schema_info")
    assert not sa.inspect(legacy).has_table("alembic_version")
    before = _rows(legacy)
    legacy.dispose()
    assert all(before[name] for name in TABLES), "the fixture must fill every table"

    store = Store(db_url)
    store.create_schema()
    after = _rows(store.engine)
    # Every row and value the first release wrote is still there but the retired columns
    # (RETIRED: never holding anything but their default); columns added since hold
    # their defaults (NULL) until new messages fill them.
    for name, columns in RETIRED.items():
        for row in before[name]:
            assert {column: row.pop(column) for column in columns} == columns
            assert not set(columns) & set(after[name][0])
    assert {name: [{key: row[key] for key in old} for row, old in zip(rows, before[name],
                                                                       strict=True)]
            for name, rows in after.items() if name in before} == before
    assert _revision(store.engine) == head_revision()
    assert not sa.inspect(store.engine).has_table("schema_info")  # retired by 0002
    assert _schema_differences(store.engine) == []
    # Today's code reads and writes the upgraded rows.
    assert store.sources.state("zd")["cursor"] == '{"after": "2026-11-30T09:15:30Z"}'
    assert store.outbox.latest_thread_key("zd", "T-1", "zd") is None
    with store.reading() as conn:
        series = store.messages.customer_series(conn, "zd", ["T-1"])["T-1"]
    assert [m["message_id"] for m in series] == ["m0", "m2"]
    assert store.outbox.claim("me", utcnow(), 10, timedelta(seconds=5))
    store.create_schema()  # a second start-up changes nothing
    assert _rows(store.engine)["message"] == after["message"]
    store.close()


def test_the_revisions_build_exactly_the_models(db_url: str) -> None:
    """A model column without a migration (or the reverse) fails here: the schema built
    by replaying every revision from nothing is compared with the SQLModel metadata."""
    from alembic import command

    from daemon.migrate import alembic_config

    engine = sa.create_engine(db_url)
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "head")
    assert _revision(engine) == head_revision() == HEAD
    assert _schema_differences(engine) == []
    engine.dispose()


def test_a_fresh_database_is_created_at_head(db_url: str) -> None:
    store = Store(db_url)
    store.create_schema()
    assert _revision(store.engine) == HEAD
    assert _schema_differences(store.engine) == []
    store.create_schema()  # at head: one query, nothing else
    store.close()


def test_a_fresh_database_gets_alembics_own_version_table(db_url: str) -> None:
    """The stamp written without Alembic is the table and row Alembic's stamp writes."""
    from daemon.migrate import VERSION_TABLE

    engine = sa.create_engine(db_url)
    with engine.connect() as conn:
        theirs = MigrationContext.configure(conn)._version
    assert theirs.name == VERSION_TABLE.name and theirs.schema == VERSION_TABLE.schema
    create = [str(sa.schema.CreateTable(table).compile(dialect=engine.dialect))
              for table in (VERSION_TABLE, theirs)]
    assert create[0] == create[1]
    engine.dispose()
    store = Store(db_url)
    store.create_schema()
    with store.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).all() == [
            (HEAD,)]
        assert MigrationContext.configure(conn).get_current_heads() == (HEAD,)
    store.close()


def test_neither_a_fresh_install_nor_a_restart_imports_alembic(tmp_path: Path) -> None:
    code = ("import sys; from daemon.store import Store; "
            f"store = Store('sqlite:///{tmp_path / 'fresh.db'}'); store.create_schema(); "
            "store.create_schema(); print('alembic' in sys.modules, 'mako' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, cwd=REPO, timeout=120)
    assert result.stdout.splitlines()[-1] == "False False"


def test_tables_without_a_version_are_refused(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'odd.db'}")
    with store.engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE message (id INTEGER PRIMARY KEY)"))
    with pytest.raises(SchemaUnknown, match="no record of their schema version"):
        store.create_schema()
    store.close()


def _columns(engine: sa.Engine) -> dict[str, list[tuple[str, str, bool]]]:
    inspector = sa.inspect(engine)
    return {name: sorted((c["name"], str(c["type"]), c["nullable"])
                         for c in inspector.get_columns(name))
            for name in (*TABLES, "schema_info")}


def test_baseline_is_the_first_release_schema(tmp_path: Path) -> None:
    """Stamping a first-release database as 0001 is only right if 0001 builds the same."""
    from alembic import command

    from daemon.migrate import alembic_config

    legacy_url = f"sqlite:///{tmp_path / 'first-release.db'}"
    subprocess.run([sys.executable, str(LEGACY), legacy_url], check=True, timeout=120,
                   cwd=REPO)
    legacy = sa.create_engine(legacy_url)
    baseline = sa.create_engine(f"sqlite:///{tmp_path / 'baseline.db'}")
    with baseline.begin() as conn:
        command.upgrade(alembic_config(conn), BASELINE)
    assert _columns(baseline) == _columns(legacy)
    assert {n: sorted(i["name"] for i in sa.inspect(baseline).get_indexes(n)) for n in TABLES} \
        == {n: sorted(i["name"] for i in sa.inspect(legacy).get_indexes(n)) for n in TABLES}
    legacy.dispose()
    baseline.dispose()


def test_a_newer_revision_is_refused_and_left_alone(db_url: str) -> None:
    store = Store(db_url)
    store.create_schema()
    _populate_one_message(store)
    with store.transaction() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '0999_later'"))
    with pytest.raises(SchemaTooNew, match=r"0999_later.*newer than this"):
        store.create_schema()
    assert _revision(store.engine) == "0999_later"  # not downgraded, nothing touched
    assert len(_rows(store.engine)["message"]) == 1
    store.close()


def _populate_one_message(store: Store) -> None:
    now = utcnow()
    with store.transaction() as conn:
        store.messages.insert(conn, [{
            "source": "zd", "message_id": "m1", "ticket_id": "1", "author_role": "customer",
            "public": True, "created_at": now, "body": "hi", "body_chars": 2,
            "truncated": False, "indicators": [], "signals": [], "needs_rescore": False,
            "stored_at": now}])


def test_newer_schema_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'state' / 'sentinel.db'}"
    store = Store(url)
    store.create_schema()
    with store.transaction() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999_from_the_future'"))
    with pytest.raises(SchemaTooNew, match=r"9999_from_the_future.*newer than this"):
        store.create_schema()
    store.close()

    config = tmp_path / "config.yaml"
    config.write_text(f"state_dir: {tmp_path / 'state'}\nrules: []\n")
    done = subprocess.run([sys.executable, "-m", "daemon.cli", "run", "--once",
                           "--config", str(config)], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    assert "9999_from_the_future" in done.stderr
    assert "newer than this helpdesk-sentinel knows" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.postgres
def test_replicas_starting_together_upgrade_once(pg_url: str) -> None:
    stores = [Store(pg_url) for _ in range(4)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(stores))

    def start(store: Store) -> None:
        try:
            barrier.wait(timeout=30)
            store.create_schema()
        except BaseException as exc:  # collected and asserted on below
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(s,)) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert _revision(stores[0].engine) == head_revision()
    with stores[0].reading() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM alembic_version")).scalar() == 1
    for store in stores:
        store.close()
