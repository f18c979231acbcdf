"""Freshdesk-specific behaviour over real HTTP: the failure modes peers hit, one test each.

FM-3 (the default 30-day window: always send updated_since), FM-5 (the 300-page wall),
FM-6 (Retry-After and the rate-limit headers), FM-8 (read-merge-write of tags), plus how
messages are told apart and what the settings accept.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import requests
import structlog
from pydantic import ValidationError

from connectors.base import RetriableError, TicketChange
from connectors.freshdesk import FreshdeskConnector, FreshdeskSettings
from connectors.sandbox.base import Fault
from tests.connectors.harness import drain, message_keys, past
from tests.connectors.harness_freshdesk import FreshdeskHarness


@pytest.fixture
def freshdesk() -> Iterator[FreshdeskHarness]:
    instance = FreshdeskHarness(page_size=5)
    try:
        yield instance
    finally:
        instance.close()


def _ticket(harness: FreshdeskHarness, at: datetime, body: str = "Hello there",
            **kwargs: object) -> str:
    return harness.add_ticket(subject="Subject", customer_name="Ann Cole",
                              customer_email="ann@example.com", body=body, at=at,
                              **kwargs)  # type: ignore[arg-type]


def _get(harness: FreshdeskHarness, path: str, **params: object) -> requests.Response:
    auth = base64.b64encode(f"{harness.api_key}:X".encode()).decode()
    return requests.get(f"{harness.sandbox.url}{path}", params=params,  # type: ignore[arg-type]
                        headers={"Authorization": f"Basic {auth}"}, timeout=5)


def test_fm3_every_ticket_list_sends_updated_since(freshdesk: FreshdeskHarness) -> None:
    # A ticket created 40 days ago that changed today: outside the default 30-day window.
    old = _ticket(freshdesk, past(60 * 24 * 40))
    freshdesk.add_message(old, "customer", "Any news on this?", past(10))
    listed_by_default = _get(freshdesk, "/api/v2/tickets").json()
    assert old not in [str(t["id"]) for t in listed_by_default]  # the vendor's quirk

    before = len(freshdesk.sandbox.request_log)
    got = drain(freshdesk.connector(), None, past(30)).messages
    assert [m.body for m in got] == ["Any news on this?"]
    lists = [r for r in freshdesk.sandbox.request_log[before:] if r.path == "/api/v2/tickets"]
    assert lists and all("updated_since" in r.query for r in lists)
    assert all(r.query["order_by"] == ["updated_at"] and r.query["order_type"] == ["asc"]
               for r in lists)


def test_fm5_reads_past_the_page_wall() -> None:
    harness = FreshdeskHarness(page_size=2, page_wall=3)
    try:
        start = past(60)
        ids = [_ticket(harness, start + timedelta(seconds=n), body=f"Ticket {n}")
               for n in range(15)]  # 8 pages of 2 against a wall at page 3
        wall = _get(harness, "/api/v2/tickets", updated_since="2000-01-01T00:00:00Z",
                    per_page=2, page=4)
        assert wall.status_code == 400
        assert "beyond the 3th page" in wall.json()["errors"][0]["message"]

        before = len(harness.sandbox.request_log)
        got = drain(harness.connector(page_budget=100), None, past(90)).messages
        assert sorted(m.ticket_id for m in got) == sorted(ids)
        sent = harness.sandbox.request_log[before:]
        pages = [int(r.query["page"][0]) for r in sent if r.path == "/api/v2/tickets"]
        assert len(pages) >= 8 and max(pages) <= 3  # keyset restarts, never near the wall
        assert not [r for r in sent if r.status == 400]
    finally:
        harness.close()


def test_fm5_a_crowded_second_is_paged_through(freshdesk: FreshdeskHarness) -> None:
    # Twelve tickets updated in the same second: the keyset restart cannot split them,
    # so the connector pages through that second instead of looping on page 1.
    same = past(30)
    ids = [_ticket(freshdesk, same, body=f"Same second {n}") for n in range(12)]
    got = drain(freshdesk.connector(), None, past(40)).messages
    assert sorted(m.ticket_id for m in got) == sorted(ids)
    assert len(message_keys(got)) == len(set(message_keys(got)))


def test_fm5_the_wall_inside_one_second_is_stepped_over_not_looped() -> None:
    # More tickets in one second than the wall lets anyone page through (8 > 3 pages of
    # 2): the vendor cannot list them all; the connector says so and moves on.
    harness = FreshdeskHarness(page_size=2, page_wall=3)
    try:
        crowded = past(30)
        for n in range(8):
            _ticket(harness, crowded, body=f"Crowded {n}")
        later = _ticket(harness, crowded + timedelta(seconds=5), body="Later")
        with structlog.testing.capture_logs() as events:
            got = drain(harness.connector(page_budget=100), None, past(40)).messages
        assert [r for r in harness.sandbox.request_log if r.status == 400]
        assert any(e["event"] == "page_wall_second_skipped" and e["log_level"] == "warning"
                   for e in events)
        assert later in {m.ticket_id for m in got}
        assert len({m.ticket_id for m in got}) == 7  # 6 crowded ones listable, plus later
    finally:
        harness.close()


def test_fm6_retry_after_is_honoured(freshdesk: FreshdeskHarness) -> None:
    _ticket(freshdesk, past(20))
    freshdesk.inject(Fault("429", retry_after="7", path_contains="/api/v2/tickets"))
    got = drain(freshdesk.connector(), None, past(30))
    assert len(got.messages) == 1 and got.retriable_errors == 0
    # Waited what the server asked (measured from the 429, so a hair under 7 s).
    assert any(wait > 6.9 for wait in freshdesk.clock.slept)


def test_fm6_low_rate_limit_budget_stops_the_read_cleanly() -> None:
    harness = FreshdeskHarness(page_size=5, requests_per_minute=8)
    try:
        start = past(60)
        for n in range(10):
            ticket_id = _ticket(harness, start + timedelta(seconds=2 * n), body=f"T{n}")
            harness.add_message(ticket_id, "agent", f"Reply {n}", start + timedelta(
                seconds=2 * n + 1))
        connector = harness.connector(rate_limit_reserve=3)
        first = connector.poll(None, past(90))
        assert not first.caught_up  # stopped while X-RateLimit-Remaining was at the reserve
        assert first.messages
        assert not [r for r in harness.sandbox.request_log if r.status == 429]
        headers = _get(harness, "/api/v2/agents/me").headers
        assert {"X-RateLimit-Total", "X-RateLimit-Remaining",
                "X-RateLimit-Used-CurrentRequest"} <= set(headers)
        harness.sandbox.requests_per_minute = None  # a new minute
        rest = drain(connector, first.next_cursor, past(90))
        keys = message_keys(first.messages) + message_keys(rest.messages)
        assert len(keys) == len(set(keys)) == 20
    finally:
        harness.close()


def test_fm8_write_back_merges_tags_raises_priority_and_notes(
        freshdesk: FreshdeskHarness) -> None:
    ticket_id = _ticket(freshdesk, past(20), tags=("vip", "billing"), priority="high")
    connector = freshdesk.connector()
    before = len(freshdesk.sandbox.request_log)
    connector.apply(ticket_id, TicketChange(add_tags=("sentiment-declining", "vip"),
                                            priority="urgent", note="<b>Declining</b>"))
    sent = freshdesk.sandbox.request_log[before:]
    assert [(r.method, r.path) for r in sent] == [
        ("GET", f"/api/v2/tickets/{ticket_id}"),
        ("PUT", f"/api/v2/tickets/{ticket_id}"),
        ("POST", f"/api/v2/tickets/{ticket_id}/notes")]
    assert sent[1].body == {"tags": ["vip", "billing", "sentiment-declining"], "priority": 4}
    # A note is text: Freshdesk renders `body` as HTML, so it goes escaped (issue 11).
    assert sent[2].body == {"body": "&lt;b&gt;Declining&lt;/b&gt;", "private": True}
    state = freshdesk.ticket_state(ticket_id)
    assert state.tags == ("vip", "billing", "sentiment-declining")
    assert state.priority == "urgent"

    # Nothing to change: one read, no write.
    before = len(freshdesk.sandbox.request_log)
    connector.apply(ticket_id, TicketChange(add_tags=("vip",), priority="low"))
    assert [r.method for r in freshdesk.sandbox.request_log[before:]] == ["GET"]


def test_description_and_conversation_roles(freshdesk: FreshdeskHarness) -> None:
    ticket_id = _ticket(freshdesk, past(30), body="My order is late")
    sandbox = freshdesk.sandbox
    reply = freshdesk.add_message(ticket_id, "customer", "Any update?", past(29))
    agent = freshdesk.add_message(ticket_id, "agent", "On it", past(28))
    note = freshdesk.add_message(ticket_id, "note", "Carrier delay", past(27))
    # An agent's API-created note flagged incoming is still the agent's.
    fake_incoming = freshdesk.add_message(ticket_id, "note", "Imported", past(26))
    sandbox.conversations[int(ticket_id)][-1].update(incoming=True, private=False)
    # A CC'd colleague of the customer replying by email is the customer side.
    cc_reply = freshdesk.add_message(ticket_id, "customer", "Me too", past(25))
    sandbox.conversations[int(ticket_id)][-1]["user_id"] = 7_999_999
    outbound = _ticket(freshdesk, past(24), body="We noticed an issue")
    sandbox.tickets[int(outbound)]["source"] = 10  # an outbound email an agent started

    got = {m.message_id: m for m in drain(freshdesk.connector(), None, past(40)).messages}
    roles = {key: (got[key].author_role, got[key].public) for key in got}
    assert roles == {
        f"{ticket_id}-description": ("customer", True), reply: ("customer", True),
        agent: ("agent", True), note: ("agent", False), fake_incoming: ("agent", True),
        cc_reply: ("customer", True), f"{outbound}-description": ("agent", True)}
    description = got[f"{ticket_id}-description"]
    assert description.body == "My order is late" and not description.body_is_html
    assert description.ticket.requester == "Ann Cole"
    assert description.ticket.priority == "normal" and description.ticket.status == "open"


def test_ticket_url_uses_the_account_domain() -> None:
    settings = FreshdeskSettings.model_validate(
        {"name": "fd", "kind": "freshdesk", "domain": "acme", "api_key": "k"})
    connector = FreshdeskConnector(settings)
    try:
        assert connector.ticket_url("42") == "https://acme.freshdesk.com/a/tickets/42"
        assert "acme.freshdesk.com" in repr(connector) and "k" not in repr(settings.api_key)
    finally:
        connector.close()


@pytest.mark.parametrize("values", [
    {"domain": "acme.freshdesk.com"},  # a host, not the single DNS label
    {"domain": "-acme"},
    {},  # neither domain nor base_url
    {"domain": "acme", "page_size": 101},
    {"domain": "acme", "surprise": True},
])
def test_settings_reject_bad_values(values: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        FreshdeskSettings.model_validate({"name": "fd", "kind": "freshdesk",
                                          "api_key": "k", **values})


def test_first_poll_emits_nothing_older_than_start_from(freshdesk: FreshdeskHarness) -> None:
    ticket_id = _ticket(freshdesk, past(120), body="Old question")
    fresh = freshdesk.add_message(ticket_id, "customer", "New follow-up", past(5))
    got = drain(freshdesk.connector(), None, past(30)).messages
    assert [m.message_id for m in got] == [fresh]


def test_cursor_is_bounded_json(freshdesk: FreshdeskHarness) -> None:
    for n in range(6):
        _ticket(freshdesk, past(20) + timedelta(seconds=n))
    result = drain(freshdesk.connector(), None, past(30))
    assert result.cursor is not None
    assert result.cursor.startswith("{") and len(result.cursor) < 2_000
    assert datetime.now(UTC) - timedelta(hours=1) < datetime.fromisoformat(
        json.loads(result.cursor)["since"])


def test_ticket_deleted_between_list_and_read_is_skipped(freshdesk: FreshdeskHarness) -> None:
    gone = _ticket(freshdesk, past(20), body="Soon deleted")
    kept = _ticket(freshdesk, past(19), body="Still here")
    freshdesk.inject(Fault("404", path_contains=f"/tickets/{gone}/conversations"))
    got = drain(freshdesk.connector(), None, past(30))
    assert [m.ticket_id for m in got.messages] == [kept]
    assert got.retriable_errors == 0


def test_a_response_of_the_wrong_shape_is_retriable(freshdesk: FreshdeskHarness) -> None:
    _ticket(freshdesk, past(20))
    freshdesk.inject(Fault("200", count=3, path_contains="/api/v2/tickets",
                           body=[{"id": 1, "subject": "no timestamps"}]))
    with pytest.raises(RetriableError):
        freshdesk.connector().poll(None, past(30))
    assert len(drain(freshdesk.connector(), None, past(30)).messages) == 1


def test_a_crowded_second_is_resumed_across_polls(freshdesk: FreshdeskHarness) -> None:
    # One list page per poll and twelve tickets in one second: each poll must go on
    # from the page the last one reached, or the source would read page 1 forever.
    same = past(30)
    ids = [_ticket(freshdesk, same, body=f"Same second {n}") for n in range(12)]
    got = drain(freshdesk.connector(page_budget=1), None, past(40), max_polls=10)
    assert sorted(m.ticket_id for m in got.messages) == sorted(ids)
    assert len(got.messages) == 12
