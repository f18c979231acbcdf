"""Retention removes the customer's words and identity everywhere they are kept once they
are older than `retention.message_text`: message bodies, author names and indicator
phrases, ticket subjects and requesters, the payloads of delivered or parked notes and
alerts, and the Claude score cache (on disk and in memory).  Scores and decisions stay.
"""

from __future__ import annotations

import sqlite3
import time
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from daemon.scoring.base import Score
from daemon.scoring.cache import ScoreCache
from daemon.store import (
    T_INCIDENT_CANDIDATE,
    T_INCIDENT_MEMBER,
    T_MESSAGE,
    T_OUTBOX,
    T_TICKET,
    Store,
)

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
OLD = NOW - timedelta(days=120)
KEEP = timedelta(days=90)
SUBJECT = "Refund for Zoë's order #4411"
PHRASE = "worst service ever"


def _message(message_id: str, ticket_id: str, at: datetime) -> dict[str, Any]:
    return {"source": "zd", "message_id": message_id, "ticket_id": ticket_id,
            "author_role": "customer", "author_id": "u-7", "author_name": "Zoë Müller",
            "public": True, "created_at": at, "body": f"The {PHRASE}, I'm leaving.",
            "body_chars": 30, "truncated": False, "score": -0.9, "label": "negative",
            "confidence": 0.9, "indicators": [PHRASE], "signals": ["churn_risk"],
            "needs_rescore": False, "stored_at": at}


def _ticket(ticket_id: str, at: datetime) -> dict[str, Any]:
    return {"source": "zd", "ticket_id": ticket_id, "subject": SUBJECT, "url": "u",
            "status": "open", "priority": "high", "tags": ["vip"],
            "requester": "zoe@example.com", "updated_at": at}


def _alert(key: str, at: datetime, status: str) -> dict[str, Any]:
    return {"dedupe_key": key, "source": "zd", "ticket_id": "old", "kind": "alert",
            "target": "escalations", "status": status, "attempts": 1, "next_attempt_at": at,
            "created_at": at, "result": {"thread_key": "1.2"},
            "payload": {"subject": SUBJECT, "customer": "zoe@example.com",
                        "indicators": [PHRASE]}}


def test_retention_removes_customer_text_everywhere_it_is_stored(db_url: str) -> None:
    store = Store(db_url)
    store.create_schema()
    with store.transaction() as conn:
        store.messages.insert(conn, [_message("m-old", "old", OLD),
                                     _message("m-busy-old", "busy", OLD),
                                     _message("m-busy-new", "busy", NOW)])
        store.messages.upsert_tickets(conn, [_ticket("old", OLD), _ticket("busy", OLD),
                                    _ticket("new", NOW)])
        store.outbox.enqueue(conn, [_alert("done", OLD, "done"), _alert("parked", OLD, "parked"),
                             _alert("pending", OLD, "pending"), _alert("recent", NOW, "done")])

    purged = store.retention.purge_customer_text(NOW - KEEP)
    assert purged == {"messages": 2, "tickets": 1, "outbox": 2, "incident_members": 0,
                      "incident_candidates": 0}

    with store.reading() as conn:
        messages = {r["message_id"]: r for r in conn.execute(sa.select(T_MESSAGE)).mappings()}
        tickets = {r["ticket_id"]: r for r in conn.execute(sa.select(T_TICKET)).mappings()}
        outbox = {r["dedupe_key"]: r for r in conn.execute(sa.select(T_OUTBOX)).mappings()}
    for old in ("m-old", "m-busy-old"):
        row = messages[old]
        assert (row["body"], row["author_name"], row["indicators"]) == (None, None, [])
        assert row["score"] == -0.9 and row["signals"] == ["churn_risk"]  # decisions stay
    assert messages["m-busy-new"]["indicators"] == [PHRASE]
    assert (tickets["old"]["subject"], tickets["old"]["requester"]) == ("", None)
    assert tickets["old"]["tags"] == ["vip"]
    # A ticket still in conversation keeps its snapshot, whatever its age.
    assert tickets["busy"]["subject"] == SUBJECT and tickets["new"]["subject"] == SUBJECT
    assert outbox["done"]["payload"] == {} and outbox["parked"]["payload"] == {}
    assert outbox["done"]["result"] == {"thread_key": "1.2"}  # Slack threading still works
    assert outbox["pending"]["payload"]["subject"] == SUBJECT  # still to be delivered
    assert outbox["recent"]["payload"]["subject"] == SUBJECT
    assert store.retention.purge_customer_text(NOW - KEEP) == {"messages": 0, "tickets": 0, "outbox": 0,
                                                     "incident_members": 0,
                                                     "incident_candidates": 0}
    store.close()


def _score() -> Score:
    return Score(score=-0.8, label="negative", confidence=0.9, indicators=(PHRASE,),
                 scorer="anthropic", model="claude")


def test_score_cache_entries_expire_in_memory_too() -> None:
    cache = ScoreCache(ttl_seconds=0.2)
    cache.put("k", _score())
    assert cache.get("k") is not None
    time.sleep(0.3)
    assert cache.get("k") is None  # the in-memory level used to ignore the TTL
    cache.close()


def test_score_cache_purge_deletes_expired_rows_from_the_file(tmp_path: Path) -> None:
    path = tmp_path / "claude-scores.sqlite3"
    cache = ScoreCache(path=path, ttl_seconds=30 * 86400)
    cache.put("kept", _score())
    assert cache.purge_expired() == 0
    with closing(sqlite3.connect(path)) as db:
        db.execute("UPDATE scores SET stored_at = stored_at - 31 * 86400")
        db.commit()
    cache.put("fresh", _score())
    # Expired on disk (older than the TTL) and, with a shorter retention, even fresh ones.
    assert cache.purge_expired() >= 1
    with closing(sqlite3.connect(path)) as db:
        assert [k for (k,) in db.execute("SELECT key FROM scores")] == ["fresh"]
    assert cache.purge_expired(max_age_seconds=0) >= 1
    assert cache.get("fresh") is None
    with closing(sqlite3.connect(path)) as db:
        assert db.execute("SELECT count(*) FROM scores").fetchone() == (0,)
    cache.close()


def test_the_daemon_retention_job_purges_the_claude_cache(tmp_path: Path) -> None:
    """Wiring: `Daemon.retention` reaches the Claude scorer's cache (file and memory)."""
    from daemon.config import load_config
    from daemon.service import Daemon

    config = tmp_path / "config.yaml"
    config.write_text(f"""
state_dir: {tmp_path / 'state'}
retention: {{message_text: 1d}}
sandbox: {{anthropic: {{}}}}
scorer: {{kind: anthropic, api_key: sk-ant-sandbox, base_url: "sandbox://anthropic"}}
rules: []
""")
    daemon = Daemon(load_config(config, env={})).build()
    try:
        scored = daemon.scorer.score([f"The {PHRASE}, I want a refund now."])
        assert scored[0].scorer == "anthropic", scored
        path = tmp_path / "state" / "cache" / "claude-scores.sqlite3"
        with closing(sqlite3.connect(path)) as db:
            assert db.execute("SELECT count(*) FROM scores").fetchone() == (1,)
            db.execute("UPDATE scores SET stored_at = stored_at - 2 * 86400")  # past 1d
            db.commit()
        purged = daemon.retention()
        assert purged["score_cache"] == 1
        with closing(sqlite3.connect(path)) as db:
            assert db.execute("SELECT count(*) FROM scores").fetchone() == (0,)
    finally:
        daemon.close()


def test_incidents_lose_the_customer_sentences_they_quote(sqlite_url: str) -> None:
    """An incident quotes each member's sentence and subject; retention clears them and
    drops the window's old candidates, like the messages they came from."""
    store = Store(sqlite_url)
    store.create_schema()
    with store.transaction() as conn:
        for at, ticket in ((OLD, "1"), (NOW, "2")):
            conn.execute(T_INCIDENT_MEMBER.insert().values(
                incident_id="i1", source="zd", ticket_id=ticket, message_id=f"m{ticket}",
                joined_at=at, phrase="I cannot log in, Jane Doe here", url="", subject="Login",
                announced=True))
            conn.execute(T_INCIDENT_CANDIDATE.insert().values(
                source="zd", message_id=f"c{ticket}", ticket_id=ticket, at=at, score=-0.5,
                language="en", terms=["login"], words=["login"], signals=[], label="",
                url="", subject="Login"))
    purged = store.retention.purge_customer_text(NOW - KEEP)
    assert purged["incident_members"] == 1 and purged["incident_candidates"] == 1
    with store.reading() as conn:
        members = dict(conn.execute(sa.select(T_INCIDENT_MEMBER.c.ticket_id,
                                              T_INCIDENT_MEMBER.c.phrase)).all())
        candidates = sorted(conn.execute(sa.select(T_INCIDENT_CANDIDATE.c.ticket_id)).scalars())
    assert members == {"1": "", "2": "I cannot log in, Jane Doe here"}
    assert candidates == ["2"]
    store.close()
