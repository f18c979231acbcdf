"""The conformance suite: the same checks over every connector, over real HTTP.

Each test runs once per helpdesk kind against that vendor's sandbox through the harness
of tests/connectors/harness.py.  A kind whose harness module is missing fails here on
import, loudly; it is never skipped.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import structlog

from connectors.base import (
    ConnectorError,
    FatalError,
    RetriableError,
    TicketChange,
    TicketGoneError,
)
from connectors.sandbox.base import Fault
from connectors.sandbox.conversations import CONVERSATIONS, by_key
from tests.connectors.harness import (
    OWN_TAG_PREFIX,
    Harness,
    drain,
    message_keys,
    past,
    seed,
)

FAULTS = [
    pytest.param(Fault("429", retry_after="2"), id="429-retry-after"),
    pytest.param(Fault("429", retry_after=None, body={
        "detail": "Rate limited by edge protection", "status": "429",
        "title": "Automated response"}), id="429-no-retry-after"),
    pytest.param(Fault("500"), id="500"),
    pytest.param(Fault("502"), id="502"),
    pytest.param(Fault("503"), id="503"),
    pytest.param(Fault("slow", delay=1.6), id="slow"),
    pytest.param(Fault("malformed"), id="malformed"),
    pytest.param(Fault("drop"), id="drop"),
]


def _seed_all(harness: Harness) -> int:
    seed(harness, CONVERSATIONS, start=past(40))
    return sum(len(c.turns) for c in CONVERSATIONS)


def test_reads_everything_exactly_once_across_pages_and_polls(harness: Harness) -> None:
    total = _seed_all(harness)
    connector = harness.connector()
    first = drain(connector, None, past(45))
    keys = message_keys(first.messages)
    assert len(keys) == total
    assert len(set(keys)) == total
    assert max(r.requests for r in first.results) > 1  # several pages were needed

    again = drain(connector, first.cursor, past(45))
    assert again.messages == []

    ticket_id = first.messages[0].ticket_id
    late = [harness.add_message(ticket_id, "customer", f"Follow-up number {n}", past(5 - n))
            for n in range(3)]
    third = drain(harness.connector(), again.cursor, past(45))
    assert [m.message_id for m in third.messages] == late
    assert all(m.author_role == "customer" and m.public for m in third.messages)


def test_tells_customers_agents_and_notes_apart(harness: Harness) -> None:
    conversation = by_key("agent-note-heavy")
    seeded = seed(harness, [conversation], start=past(20))
    got = drain(harness.connector(), None, past(25)).messages
    assert [(m.author_role, m.public) for m in got] == [
        ("customer", True) if t.role == "customer" else ("agent", t.role == "agent")
        for t in conversation.turns]
    assert {m.ticket_id for m in got} == {seeded.ticket_ids[conversation.key]}
    snapshot = got[-1].ticket
    assert snapshot.subject == conversation.subject
    assert snapshot.url and seeded.ticket_ids[conversation.key] in snapshot.url
    assert snapshot.requester in (conversation.customer_name, conversation.customer_email)
    assert [m.body for m in got if m.author_role == "customer"] == [
        t.text for t in conversation.customer_turns]
    assert not any(m.own_note for m in got)


@pytest.mark.parametrize("times", [1, 3], ids=["absorbed", "surfaced"])
@pytest.mark.parametrize("fault", FAULTS)
def test_survives_fault_without_losing_or_duplicating(harness: Harness, fault: Fault,
                                                      times: int) -> None:
    total = _seed_all(harness)
    connector = harness.connector()
    harness.inject(Fault(fault.kind, count=times, retry_after=fault.retry_after,
                         delay=fault.delay, body=fault.body))
    result = drain(connector, None, past(45))
    keys = message_keys(result.messages)
    assert len(keys) == len(set(keys)) == total
    if times == 3:
        assert result.retriable_errors >= 1  # the caller saw it and re-polled


def test_fault_on_a_later_page_keeps_what_was_read(harness: Harness) -> None:
    total = _seed_all(harness)
    connector = harness.connector(page_budget=1)
    first = connector.poll(None, past(45))
    assert first.messages and not first.caught_up
    harness.inject(Fault("500", count=3))
    with pytest.raises(RetriableError):
        connector.poll(first.next_cursor, past(45))
    rest = drain(connector, first.next_cursor, past(45), max_polls=100)
    keys = message_keys(first.messages) + message_keys(rest.messages)
    assert len(keys) == len(set(keys)) == total


def test_cursor_never_advances_past_unstored_data(harness: Harness) -> None:
    total = _seed_all(harness)
    connector = harness.connector(page_budget=1)
    stored: list[tuple[str, str]] = []
    cursor: str | None = None
    checked = 0
    for _ in range(200):
        result = connector.poll(cursor, past(45))
        stored.extend(message_keys(result.messages))
        cursor = result.next_cursor
        # A fresh process resuming from this cursor reads exactly what is not stored.
        remainder = message_keys(drain(harness.connector(), cursor, past(45),
                                       max_polls=100).messages)
        assert not set(remainder) & set(stored)
        assert len(set(remainder) | set(stored)) == total
        checked += 1
        if result.caught_up:
            break
    assert checked > 2
    assert len(stored) == len(set(stored)) == total


def test_never_removes_a_tag_it_did_not_add(harness: Harness) -> None:
    ticket_id = harness.add_ticket(subject="Refund", customer_name="Ada Lane",
                                   customer_email="ada@example.com", body="Where is it?",
                                   at=past(10), tags=("vip", "billing"), priority="normal")
    connector = harness.connector()
    ours = f"{OWN_TAG_PREFIX}declining"
    connector.apply(ticket_id, TicketChange(add_tags=(ours,)))
    assert set(harness.ticket_state(ticket_id).tags) == {"vip", "billing", ours}
    connector.apply(ticket_id, TicketChange(remove_tags=("vip", ours)))
    assert set(harness.ticket_state(ticket_id).tags) == {"vip", "billing"}
    connector.apply(ticket_id, TicketChange(add_tags=(ours,), note="Sentiment declining"))
    state = harness.ticket_state(ticket_id)
    assert set(state.tags) == {"vip", "billing", ours}
    assert state.notes == ("Sentiment declining",)


def test_priority_only_rises(harness: Harness) -> None:
    ticket_id = harness.add_ticket(subject="Outage", customer_name="Bo Chen",
                                   customer_email="bo@example.com", body="Down again",
                                   at=past(10), priority="high")
    connector = harness.connector()
    connector.apply(ticket_id, TicketChange(priority="normal"))
    assert harness.ticket_state(ticket_id).priority == "high"
    connector.apply(ticket_id, TicketChange(priority="urgent"))
    assert harness.ticket_state(ticket_id).priority == "urgent"


def test_own_note_comes_back_marked(harness: Harness) -> None:
    ticket_id = harness.add_ticket(subject="Login", customer_name="Cy Dunn",
                                   customer_email="cy@example.com", body="Cannot log in",
                                   at=past(10))
    connector = harness.connector()
    first = drain(connector, None, past(15))
    connector.apply(ticket_id, TicketChange(note="Escalated by helpdesk-sentinel"))
    assert harness.ticket_state(ticket_id).notes == ("Escalated by helpdesk-sentinel",)
    later = drain(connector, first.cursor, past(15))
    notes = [m for m in later.messages if m.body == "Escalated by helpdesk-sentinel"]
    assert len(notes) == 1
    assert notes[0].own_note and not notes[0].public and notes[0].author_role != "customer"


def test_gone_ticket_is_reported_as_gone(harness: Harness) -> None:
    ticket_id = harness.add_ticket(subject="Gone", customer_name="Di Eve",
                                   customer_email="di@example.com", body="Hello",
                                   at=past(10))
    harness.delete_ticket(ticket_id)
    with pytest.raises(TicketGoneError):
        harness.connector().apply(ticket_id, TicketChange(add_tags=("sentiment-x",),
                                                          note="n"))


class _Recorder:
    """A plain local server that records every request's headers (the redirect target)."""

    def __init__(self) -> None:
        self.seen: list[dict[str, str]] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_GET(self) -> None:
                recorder.seen.append(dict(self.headers.items()))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            do_POST = do_PUT = do_DELETE = do_GET

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/collect"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def recorder() -> Iterator[_Recorder]:
    instance = _Recorder()
    yield instance
    instance.close()


def test_never_follows_a_redirect_with_credentials(harness: Harness,
                                                   recorder: _Recorder) -> None:
    seeded = seed(harness, CONVERSATIONS[:2], start=past(40))
    harness.redirect_to(recorder.url)
    connector = harness.connector()
    with pytest.raises(FatalError):
        connector.poll(None, past(45))
    ticket_id = next(iter(seeded.ticket_ids.values()))
    with pytest.raises(ConnectorError):
        connector.apply(ticket_id, TicketChange(add_tags=("sentiment-x",)))
    assert recorder.seen == []
    harness.redirect_to(None)
    assert drain(connector, None, past(45)).messages  # the connector itself still works


def test_no_secret_or_customer_text_in_errors_or_logs(
        harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    marker = "Zyxwvut my card number is 4111 and I am furious"
    ticket_id = harness.add_ticket(subject="Card", customer_name="Eve Fox",
                                   customer_email="eve@example.com", body=marker,
                                   at=past(20))
    caplog.set_level(logging.DEBUG)
    errors: list[BaseException] = []
    with structlog.testing.capture_logs() as events:
        connector = harness.connector()
        drain(connector, None, past(25))
        for fault in (Fault("401", count=3, body={"error": marker}),
                      Fault("500", count=3, body={"error": "x", "description": marker}),
                      Fault("429", count=3, retry_after=None, body={"detail": marker}),
                      Fault("malformed", count=3), Fault("drop", count=3)):
            harness.inject(fault)
            try:
                harness.connector().poll(None, past(25))
            except ConnectorError as exc:
                errors.append(exc)
            harness.sandbox.clear_faults()
        harness.delete_ticket(ticket_id)
        try:
            connector.apply(ticket_id, TicketChange(note=marker))
        except ConnectorError as exc:
            errors.append(exc)
    assert len(errors) >= 5
    texts = [str(e) for e in errors] + [repr(e) for e in errors]
    texts += [repr(event) for event in events] + [r.getMessage() for r in caplog.records]
    texts += [repr(connector)]
    forbidden = [*harness.secrets(), "Zyxwvut", "4111"]
    for text in texts:
        for secret in forbidden:
            assert secret not in text, f"leak of {secret[:6]}... in {text[:80]!r}"


def test_poll_counts_its_requests(harness: Harness) -> None:
    _seed_all(harness)
    connector = harness.connector()
    before = len(harness.sandbox.request_log)
    result = drain(connector, None, past(45))
    assert sum(r.requests for r in result.results) == len(harness.sandbox.request_log) - before
