"""`forget`: an erasure request removes everything stored about one customer, and only
that, on SQLite and PostgreSQL; the command reports what it removed."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from daemon.forget import forget_requester
from daemon.scoring.base import Score
from daemon.scoring.cache import ScoreCache
from daemon.store import T_ESCALATION, T_MESSAGE, T_OUTBOX, T_RULE, T_TICKET, Store

REPO = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
ZOE = ("501", "Zoë Müller")
BOB = ("777", "bob@example.com")  # a helpdesk that shows the email when there is no name


def _message(message_id: str, ticket_id: str, author: tuple[str, str] | None,
             minute: int) -> dict[str, Any]:
    role = "customer" if author else "agent"
    return {"source": "zd", "message_id": message_id, "ticket_id": ticket_id,
            "author_role": role, "author_id": author[0] if author else "9",
            "author_name": author[1] if author else "Agent Smith", "public": True,
            "created_at": NOW + timedelta(minutes=minute), "body": f"text of {message_id}",
            "body_chars": 10, "truncated": False, "score": -0.5, "label": "negative",
            "confidence": 0.9, "indicators": ["text"], "signals": [], "needs_rescore": False,
            "stored_at": NOW}


def _populate(store: Store) -> None:
    with store.transaction() as conn:
        store.messages.insert(conn, [
            _message("z1", "a1", ZOE, 1), _message("z2", "a1", None, 2),
            _message("z3", "a1", ZOE, 3),
            _message("b1", "b9", BOB, 1), _message("z4", "b9", ZOE, 2),  # Zoë CC'd on Bob's
        ])
        store.messages.upsert_tickets(conn, [
            {"source": "zd", "ticket_id": ticket, "subject": f"subject {ticket}", "url": "u",
             "status": "open", "priority": None, "tags": [], "requester": requester,
             "updated_at": NOW} for ticket, requester in (("a1", ZOE[1]), ("b9", BOB[1]))])
        store.rules.save_states(conn, [
            {"source": "zd", "ticket_id": ticket, "rule": "r", "state": "firing",
             "history": {}, "updated_at": NOW, "due_at": None} for ticket in ("a1", "b9")])
        store.rules.log_escalations(conn, [
            {"source": "zd", "ticket_id": ticket, "rule": "r", "kind": "fire", "reason": "",
             "numbers": {}, "at": NOW} for ticket in ("a1", "b9")])
        store.outbox.enqueue(conn, [
            {"dedupe_key": f"{ticket}|{status}", "source": "zd", "ticket_id": ticket,
             "kind": "alert", "target": "escalations", "payload": {"subject": "s"},
             "status": status, "attempts": 0, "next_attempt_at": NOW, "created_at": NOW,
             "result": {}} for ticket in ("a1", "b9") for status in ("pending", "done")])


def _left(store: Store) -> dict[str, list[str]]:
    with store.reading() as conn:
        return {
            "messages": sorted(conn.execute(sa.select(T_MESSAGE.c.message_id)).scalars()),
            **{name: sorted(conn.execute(sa.select(table.c.ticket_id)).scalars())
               for name, table in (("tickets", T_TICKET), ("rule_states", T_RULE),
                                   ("escalations", T_ESCALATION), ("outbox", T_OUTBOX))}}


def test_forget_removes_one_customer_and_nobody_else(db_url: str) -> None:
    store = Store(db_url)
    store.create_schema()
    _populate(store)

    erasure = forget_requester(store, "501")  # the helpdesk's user id
    assert erasure.tickets == [("zd", "a1")]
    assert erasure.removed == {"messages": 4, "tickets": 1, "rule_states": 1,
                               "escalations": 1, "outbox": 2, "feedback": 0,
                               "incident_members": 0, "incident_candidates": 0,
                               "score_cache": 0}
    assert _left(store) == {"messages": ["b1"], "tickets": ["b9"], "rule_states": ["b9"],
                            "escalations": ["b9"], "outbox": ["b9", "b9"]}

    nobody = forget_requester(store, "someone@else.example")
    assert not nobody.matched and sum(nobody.removed.values()) == 0
    assert _left(store)["messages"] == ["b1"]

    by_email = forget_requester(store, "BOB@Example.com")  # as the requester, any case
    assert by_email.tickets == [("zd", "b9")]
    assert _left(store) == {"messages": [], "tickets": [], "rule_states": [],
                            "escalations": [], "outbox": []}
    store.close()


def test_forget_command_reports_and_clears_the_score_cache(tmp_path: Path) -> None:
    state = tmp_path / "state"
    config = tmp_path / "config.yaml"
    config.write_text(f"state_dir: {state}\nrules: []\n")
    store = Store(f"sqlite:///{state / 'sentinel.db'}")
    store.create_schema()
    _populate(store)
    store.close()
    cache_file = state / "cache" / "claude-scores.sqlite3"
    cache = ScoreCache(path=cache_file)
    cache.put("fingerprint-of-z1", Score(score=-0.5, label="negative", confidence=0.9,
                                         indicators=("text",), scorer="anthropic", model="m"))
    cache.close()

    def forget(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "daemon.cli", "forget", "--config",
                               str(config), *args], cwd=REPO, capture_output=True, text=True,
                              timeout=120)

    done = forget("--requester", "zoë müller", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["tickets"] == ["zd/a1"]
    assert report["removed"]["messages"] == 4 and report["removed"]["score_cache"] == 1
    with closing(sqlite3.connect(cache_file)) as db:
        assert db.execute("SELECT count(*) FROM scores").fetchone() == (0,)
    with closing(sqlite3.connect(state / "sentinel.db")) as db:
        assert db.execute("SELECT count(*) FROM message WHERE author_id = '501'"
                          ).fetchone() == (0,)
        assert db.execute("SELECT count(*) FROM message").fetchone() == (1,)

    again = forget("--requester", "Zoë Müller")
    assert again.returncode == 1
    assert "nothing stored matches" in again.stdout
