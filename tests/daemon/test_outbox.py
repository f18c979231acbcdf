"""Outbox delivery rules with fake targets (our own seam): retry, park, order, threading."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from connectors.base import (
    Alert,
    Delivery,
    RetriableError,
    TicketChange,
    TicketGoneError,
)
from daemon.outbox import OutboxDispatcher, OutboxPolicy
from daemon.store import Store

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


class FakeConnector:
    name = "zd"
    kind = "fake"

    def __init__(self, failures: list[Exception]) -> None:
        self.failures = failures
        self.applied: list[tuple[str, TicketChange]] = []

    def apply(self, ticket_id: str, change: TicketChange) -> None:
        if self.failures:
            raise self.failures.pop(0)
        self.applied.append((ticket_id, change))


class FakeNotifier:
    name = "escalations"

    def __init__(self) -> None:
        self.sent: list[Alert] = []

    def send(self, alert: Alert) -> Delivery:
        self.sent.append(alert)
        return Delivery(thread_key=f"ts-{len(self.sent)}")


def _row(key: str, kind: str, target: str, ticket: str = "1") -> dict[str, object]:
    payload = (TicketChange(add_tags=("sentiment-declining",)).to_json() if kind == "change"
               else Alert(source="zd", ticket_id=ticket, ticket_url="u", subject="s",
                          customer=None, rule="r", kind="fire", reason="x").to_json())
    return {"dedupe_key": key, "source": "zd", "ticket_id": ticket, "kind": kind,
            "target": target, "payload": payload, "status": "pending", "attempts": 0,
            "next_attempt_at": NOW, "created_at": NOW, "result": {}}


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def _setup(sqlite_url: str, failures: list[Exception]) -> tuple[Store, FakeConnector,
                                                                FakeNotifier, OutboxDispatcher,
                                                                Clock]:
    store = Store(sqlite_url)
    store.create_schema()
    connector, notifier, clock = FakeConnector(failures), FakeNotifier(), Clock()
    dispatcher = OutboxDispatcher(store, {"zd": connector}, {"escalations": notifier},  # type: ignore[dict-item]
                                  "me", OutboxPolicy(max_attempts=3), clock=clock)
    return store, connector, notifier, dispatcher, clock


def test_retriable_failures_back_off_then_deliver(sqlite_url: str) -> None:
    store, connector, _, dispatcher, clock = _setup(
        sqlite_url, [RetriableError("429", retry_after=30), RetriableError("503")])
    with store.transaction() as conn:
        store.outbox.enqueue(conn, [_row("a", "change", "zd"), _row("b", "change", "zd", "2")])
    stats = dispatcher.deliver_due()
    # the first failure blocks the target for this round: row b is deferred, not attempted
    assert (stats.delivered, stats.retried, stats.deferred) == (0, 1, 1)
    assert dispatcher.deliver_due().delivered == 0  # Retry-After (30 s) not elapsed
    clock.now += timedelta(seconds=31)
    stats = dispatcher.deliver_due()
    assert stats.retried == 1
    clock.now += timedelta(minutes=5)
    assert dispatcher.deliver_due().delivered == 2
    assert [t for t, _ in connector.applied] == ["1", "2"]  # order kept
    assert store.outbox.stats(clock.now)["done"] == 2


def test_fatal_and_exhausted_rows_are_parked_not_dropped(sqlite_url: str) -> None:
    store, _, _, dispatcher, clock = _setup(
        sqlite_url, [TicketGoneError("ticket 1 was deleted"), RetriableError("500"),
                     RetriableError("500"), RetriableError("500")])
    with store.transaction() as conn:
        store.outbox.enqueue(conn, [_row("a", "change", "zd"), _row("b", "change", "zd", "2")])
    for _ in range(6):
        dispatcher.deliver_due()
        clock.now += timedelta(hours=1)
    parked = store.outbox.rows("parked")
    assert [(r["dedupe_key"], r["attempts"]) for r in parked] == [("a", 1), ("b", 3)]
    assert "deleted" in parked[0]["last_error"]


def test_unknown_target_parks_and_alerts_thread_under_the_first(sqlite_url: str) -> None:
    store, _, notifier, dispatcher, _ = _setup(sqlite_url, [])
    with store.transaction() as conn:
        store.outbox.enqueue(conn, [_row("a", "alert", "escalations"), _row("x", "alert", "gone")])
    dispatcher.deliver_due()
    with store.transaction() as conn:
        store.outbox.enqueue(conn, [_row("b", "alert", "escalations")])
    dispatcher.deliver_due()
    assert [a.thread_ts for a in notifier.sent] == [None, "ts-1"]
    assert [r["dedupe_key"] for r in store.outbox.rows("parked")] == ["x"]


def test_a_crashing_target_does_not_stop_the_queue(sqlite_url: str) -> None:
    store, connector, notifier, dispatcher, _ = _setup(sqlite_url, [ValueError("bug")])
    with store.transaction() as conn:
        store.outbox.enqueue(conn, [_row("a", "change", "zd"), _row("b", "alert", "escalations")])
    stats = dispatcher.deliver_due()
    assert (stats.retried, stats.delivered) == (1, 1)
    assert len(notifier.sent) == 1 and connector.applied == []
