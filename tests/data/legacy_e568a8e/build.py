"""Create a database the way release e568a8e did and fill every table through its code.

Run as `python build.py URL` in a fresh interpreter (the caller's `daemon.store` would
register the same table names on the shared SQLModel metadata).  Prints nothing; the
caller reads the rows back with plain SQL.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import store_e568a8e as old


def build(url: str) -> None:
    store = old.Store(url)
    store.create_schema()
    now = datetime(2026, 11, 30, 9, 15, 30, 123456, tzinfo=UTC)
    store.ensure_sources(["zd", "fd"])
    token = store.claim_source("zd", "host:1:abc", now, timedelta(seconds=30))
    assert token is not None
    store.record_poll_failure("fd", "HTTP 503 from vendor", now, now + timedelta(minutes=1))
    store.touch_replica("host:1:abc", now, timedelta(seconds=30))
    with store.transaction() as conn:
        store.insert_messages(conn, [
            {"source": "zd", "message_id": f"m{i}", "ticket_id": "T-1", "author_role": role,
             "author_id": "u-77", "author_name": "Zoë Müller", "public": True,
             "created_at": now + timedelta(minutes=i), "body": body, "body_chars": len(body),
             "truncated": False, "score": score, "label": label, "confidence": 0.8,
             "indicators": ["unacceptable"], "signals": ["churn_risk"], "scorer": "local",
             "model": "vader", "needs_rescore": i == 2, "stored_at": now}
            for i, (role, body, score, label) in enumerate([
                ("customer", "Thanks, all good 👍", 0.7, "positive"),
                ("agent", "Looking into it.", None, None),
                ("customer", "This is unacceptable, I'll cancel — «now»", -0.9, "negative"),
            ])])
        store.upsert_tickets(conn, [{
            "source": "zd", "ticket_id": "T-1", "subject": "Refund for order #4411",
            "url": "https://acme.zendesk.com/agent/tickets/1", "status": "open",
            "priority": "high", "tags": ["vip", "billing"], "requester": "zoe@example.com",
            "updated_at": now}])
        store.save_rule_states(conn, [{
            "source": "zd", "ticket_id": "T-1", "rule": "very-negative-message",
            "state": "firing", "history": {"fired_at": now.isoformat(), "count": 1},
            "updated_at": now, "due_at": now + timedelta(hours=24)}])
        store.log_escalations(conn, [{
            "source": "zd", "ticket_id": "T-1", "rule": "very-negative-message",
            "kind": "fire", "reason": "", "numbers": {"last_score": -0.9}, "at": now,
            "backfill": False}])
        store.enqueue(conn, [{
            "dedupe_key": f"zd:T-1:very-negative-message:{kind}", "source": "zd",
            "ticket_id": "T-1", "kind": kind, "target": target,
            "payload": {"note": "Very negative message (-0.90)", "subject": "Refund"},
            "status": "pending", "attempts": 0, "next_attempt_at": now,
            "created_at": now} for kind, target in (("change", "zd"), ("alert", "slack"))])
        store.advance_cursor(conn, "zd", '{"after": "2026-11-30T09:15:30Z"}', now, 3)
    first = store.outbox_rows(limit=1)[0]
    store.outbox_done(first["id"], now, {"thread_key": "1700000000.000100"})
    store.close()


if __name__ == "__main__":
    build(sys.argv[1])
