"""The store on SQLite and PostgreSQL: schema, dedupe, leases and fencing, outbox claims."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from daemon.store import LeaseLost, Store

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def _outbox_row(key: str, target: str = "escalations") -> dict[str, object]:
    return {"dedupe_key": key, "source": "zd", "ticket_id": "1", "kind": "alert",
            "target": target, "payload": {"rule": "r"}, "status": "pending", "attempts": 0,
            "next_attempt_at": NOW, "created_at": NOW,
            "result": {}}


def test_schema_creation_is_idempotent(db_url: str) -> None:
    store = Store(db_url)
    store.create_schema()
    store.create_schema()
    store.sources.ensure(["zd"])
    store.sources.ensure(["zd"])
    assert [s["source"] for s in store.sources.states()] == ["zd"]
    store.close()


def test_duplicate_messages_are_ignored(db_url: str) -> None:
    store = Store(db_url)
    store.create_schema()
    row = {"source": "zd", "message_id": "m1", "ticket_id": "1", "author_role": "customer",
           "public": True, "created_at": NOW, "body": "hi",
           "body_chars": 2, "truncated": False, "indicators": [], "signals": [],
           "needs_rescore": False, "stored_at": NOW}
    with store.transaction() as conn:
        store.messages.insert(conn, [row, {**row, "message_id": "m2"}])
    with store.transaction() as conn:
        store.messages.insert(conn, [row])
        assert store.messages.known_ids(conn, "zd", ["m1", "m2", "m3"]) == {"m1", "m2"}
    store.close()


def test_lease_is_exclusive_and_fences_a_paused_owner(db_url: str) -> None:
    store = Store(db_url)
    store.create_schema()
    store.sources.ensure(["zd"])
    lease = timedelta(seconds=30)
    first = store.sources.claim("zd", "a", NOW, lease)
    assert first is not None
    assert store.sources.claim("zd", "b", NOW + timedelta(seconds=10), lease) is None
    assert store.sources.claim("zd", "a", NOW + timedelta(seconds=10), lease) == first  # renew
    # a's lease runs out while it is paused; b takes over with a new token
    second = store.sources.claim("zd", "b", NOW + timedelta(seconds=41), lease)
    assert second is not None and second > first
    with pytest.raises(LeaseLost), store.transaction() as conn:
        store.sources.check_fence(conn, "zd", first)
        store.sources.advance_cursor(conn, "zd", "stale", NOW, 0)
    with store.transaction() as conn:
        store.sources.check_fence(conn, "zd", second)
        store.sources.advance_cursor(conn, "zd", "fresh", NOW, 0)
    assert store.sources.state("zd")["cursor"] == "fresh"
    store.close()


def test_a_replica_frozen_inside_a_transaction_cannot_hold_its_source(pg_url: str) -> None:
    """A replica stopped between a statement and its commit (SIGSTOP, a suspended VM) keeps
    its row locks until the server ends the session: `stuck_after` bounds both that and how
    long a peer's write waits behind it, so the source changes hands and nothing blocks."""
    frozen = Store(pg_url, stuck_after=timedelta(seconds=3))
    peer = Store(pg_url, stuck_after=timedelta(seconds=1))
    frozen.create_schema()
    frozen.sources.ensure(["zd"])
    lease = timedelta(seconds=30)
    token = frozen.sources.claim("zd", "a", NOW, lease)
    assert token is not None
    conn = frozen.engine.connect()
    transaction = conn.begin()
    conn.execute(sa.text("UPDATE source_state SET lease_until = lease_until WHERE source = 'zd'"))
    expired = NOW + timedelta(seconds=31)  # a's lease has run out; its lock has not
    try:
        assert peer.sources.claim("zd", "b", expired, lease) is None  # SKIP LOCKED
        # A fenced write waits for the lock no longer than the peer's guard (1 s), not forever.
        with pytest.raises(sa.exc.OperationalError, match="lock timeout"), \
                peer.transaction() as writing:
            peer.sources.check_fence(writing, "zd", token)
        taken = None
        deadline = time.monotonic() + 20
        while taken is None and time.monotonic() < deadline:
            time.sleep(0.2)
            taken = peer.sources.claim("zd", "b", expired, lease)
        assert taken is not None and taken > token, "the frozen session kept the row"
        with pytest.raises(sa.exc.DBAPIError):  # the server ended it: nothing it wrote stays
            transaction.commit()
    finally:
        conn.invalidate()
        conn.close()
        frozen.close()
        peer.close()


def test_outbox_dedupes_claims_and_parks(db_url: str) -> None:
    store = Store(db_url)
    store.create_schema()
    with store.transaction() as conn:
        store.outbox.enqueue(conn, [_outbox_row("k1"), _outbox_row("k2")])
        store.outbox.enqueue(conn, [_outbox_row("k1")])
    claimed = store.outbox.claim("me", NOW, 10, timedelta(minutes=2))
    assert [r["dedupe_key"] for r in claimed] == ["k1", "k2"]
    assert store.outbox.claim("other", NOW, 10, timedelta(minutes=2)) == []  # held
    store.outbox.done(claimed[0]["id"], NOW, {"thread_key": "123.4"})
    store.outbox.failed(claimed[1]["id"], "boom", None, park=True)
    stats = store.outbox.stats(NOW)
    assert (stats["done"], stats["parked"], stats["pending"]) == (1, 1, 0)
    assert store.outbox.latest_thread_key("zd", "1", "escalations") == "123.4"
    store.close()


def test_concurrent_outbox_claims_never_overlap(db_url: str) -> None:
    store = Store(db_url)
    store.create_schema()
    with store.transaction() as conn:
        store.outbox.enqueue(conn, [_outbox_row(f"k{i}") for i in range(60)])
    got: dict[str, list[int]] = {}

    def claim(owner: str) -> None:
        mine: list[int] = []
        for _ in range(10):
            rows = store.outbox.claim(owner, NOW, 7, timedelta(minutes=2))
            mine += [r["id"] for r in rows]
        got[owner] = mine

    threads = [threading.Thread(target=claim, args=(f"w{i}",)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    claimed = [i for ids in got.values() for i in ids]
    assert len(claimed) == len(set(claimed)) == 60
    store.close()


def test_bulk_writes_of_every_table_round_trip(db_url: str) -> None:
    """Tickets, rule states, escalations and outbox rows go to the driver directly (no
    SQLAlchemy per-row processing): what comes back through SQLAlchemy is what went in,
    for an insert, an upsert over an existing row, NULLs, JSON and aware timestamps."""
    from daemon.store import T_ESCALATION, T_OUTBOX, T_RULE, T_TICKET

    store = Store(db_url)
    store.create_schema()
    later = NOW + timedelta(minutes=5, microseconds=7)
    ticket = {"source": "zd", "ticket_id": "1", "subject": "Réfund 😡", "url": "https://x/1",
              "status": "open", "priority": None, "tags": ["vip", "sentiment-x"],
              "requester": "Dana", "assignee": "Sam Rivera", "assignee_group": None,
              "updated_at": NOW}
    rule = {"source": "zd", "ticket_id": "1", "rule": "r", "state": "firing",
            "history": {"rule": "r", "fire_count": 1, "first_fired_at": NOW.isoformat()},
            "updated_at": NOW, "due_at": None}
    escalation = {"source": "zd", "ticket_id": "1", "rule": "r", "kind": "fire",
                  "reason": "very_negative_message", "at": NOW,
                  "numbers": {"last_score": -0.9, "signals": ["churn_risk"], "x": None}}
    with store.transaction() as conn:
        store.messages.upsert_tickets(conn, [ticket])
        store.rules.save_states(conn, [rule])
        store.rules.log_escalations(conn, [escalation])
        store.outbox.enqueue(conn, [_outbox_row("k1")])
    changed_ticket = {**ticket, "priority": "high", "tags": [], "assignee": None,
                      "assignee_group": "group #7", "updated_at": later}
    changed_rule = {**rule, "state": "resolved", "history": {}, "due_at": later}
    with store.transaction() as conn:  # upserts over the existing rows, a duplicate key
        store.messages.upsert_tickets(conn, [changed_ticket])
        store.rules.save_states(conn, [changed_rule])
        store.outbox.enqueue(conn, [_outbox_row("k1", target="other")])
    with store.reading() as conn:
        def one(table: sa.Table) -> dict[str, object]:
            row = dict(conn.execute(sa.select(table)).mappings().one())
            row.pop("id", None)
            return row
        assert one(T_TICKET) == changed_ticket
        assert one(T_RULE) == changed_rule
        assert one(T_ESCALATION) == escalation
        outbox = one(T_OUTBOX)
    expected = _outbox_row("k1")  # the duplicate was ignored
    assert {k: outbox[k] for k in expected} == expected
    assert outbox["claimed_by"] is None and outbox["claimed_until"] is None
    store.close()


def test_bulk_insert_round_trips_every_column(db_url: str) -> None:
    import sqlalchemy as sa

    from daemon.store import T_MESSAGE

    store = Store(db_url)
    store.create_schema()
    created = datetime(2026, 11, 1, 9, 30, 15, 123456, tzinfo=UTC)
    row = {"source": "zd", "message_id": "m1", "ticket_id": "1", "author_role": "customer",
           "author_id": "u", "author_name": "Dana", "public": True, "created_at": created,
           "body": "héllo 😡", "body_chars": 7, "truncated": False, "score": -0.5,
           "label": "negative", "confidence": 0.7, "indicators": ["héllo"],
           "signals": ["churn_risk"], "scorer": "local", "model": "m", "needs_rescore": True,
           "stored_at": NOW, "language": "pt", "language_supported": False}
    with store.transaction() as conn:
        store.messages.insert(conn, [row])
    with store.reading() as conn:
        back = dict(conn.execute(sa.select(T_MESSAGE)).mappings().one())
    back.pop("id")
    assert back == row
    store.close()
