"""Zendesk connector against its sandbox: each failure mode of notes §5 that applies.

FM-1 same-second stalls, FM-2 duplicates across pages and polls, FM-3 the right cursor
field and the comment sideload, FM-4 the 10-a-minute incremental budget and 429s with
and without Retry-After, FM-6 Retry-After honoured, FM-8 no tag clobbering; plus OAuth,
the comment cap, merged and deleted tickets, settings validation.  Real HTTP throughout.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from connectors.base import (
    AuthError,
    FatalError,
    RetriableError,
    TicketChange,
    TicketGoneError,
)
from connectors.sandbox.base import Fault
from connectors.sandbox.conversations import CONVERSATIONS
from connectors.zendesk import Cursor, ZendeskSettings
from tests.connectors.harness import drain, message_keys, past, seed
from tests.connectors.harness_zendesk import ZendeskHarness


class FakeClock:
    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


def _events_served(zendesk: ZendeskHarness) -> list[int]:
    return [r.status for r in zendesk.sandbox.requests_to("/incremental/ticket_events")]


# -- FM-1: more than a page of events in one second ---------------------------------------

def test_same_second_pile_up_is_read_completely_without_looping(zendesk: ZendeskHarness) -> None:
    start = past(30)
    tickets = [int(zendesk.add_ticket(subject=f"Outage {n}", customer_name=f"C {n}",
                                      customer_email=f"c{n}@example.com", body="Down?",
                                      at=start + timedelta(seconds=n)))
               for n in range(12)]
    burst_at = past(20).timestamp()
    burst = zendesk.sandbox.pile_up(tickets, burst_at)  # 12 comments in one second > page 5
    after = zendesk.add_message(str(tickets[0]), "customer", "Any news?", past(10))
    result = drain(zendesk.connector(), None, past(35), max_polls=10)
    ids = [m.message_id for m in result.messages]
    assert len(ids) == len(set(ids)) == 12 + 12 + 1
    assert {str(i) for i in burst} <= set(ids) and after in ids
    assert zendesk.sandbox.requests_to("/incremental/tickets/cursor")  # the slow path ran
    # The stalled second was asked for once per page read, not forever.
    stalled = [r for r in zendesk.sandbox.requests_to("/incremental/ticket_events")
               if r.query["start_time"] == [str(int(burst_at))]]
    assert len(stalled) == 1


# -- FM-2: duplicates across pages and polls -----------------------------------------------

def test_page_boundary_duplicates_are_dropped(zendesk: ZendeskHarness) -> None:
    import requests

    at = past(30)
    ticket = zendesk.add_ticket(subject="Dup", customer_name="D", customer_email="d@x.com",
                                body="one", at=at)
    for n in range(8):  # pairs of comments share a second, so page ends repeat
        zendesk.add_message(ticket, "customer", f"message {n}",
                            at + timedelta(seconds=1 + n // 2))
    # The sandbox serves overlapping pages, as Zendesk does ...
    headers = dict(zendesk.connector()._auth_headers())
    url: str | None = (f"{zendesk.sandbox.url}/api/v2/incremental/ticket_events.json"
                       f"?start_time={int(at.timestamp())}&include=comment_events")
    served: list[int] = []
    for _ in range(10):
        assert url is not None
        page = requests.get(url, headers=headers, timeout=5).json()
        served += [e["id"] for e in page["ticket_events"]]
        if page["end_of_stream"]:
            break
        url = page["next_page"]
    assert len(served) > len(set(served)) == 9
    # ... and the connector returns each comment once.
    keys = message_keys(drain(zendesk.connector(), None, past(35)).messages)
    assert len(keys) == len(set(keys)) == 9


def test_cursor_records_comments_of_its_second(zendesk: ZendeskHarness) -> None:
    seed(zendesk, CONVERSATIONS[:3], start=past(30))
    result = zendesk.connector().poll(None, past(35))
    cursor = Cursor.load(result.next_cursor, past(35))
    last = max(result.messages, key=lambda m: (m.created_at, int(m.message_id)))
    assert cursor.start_time == int(last.created_at.timestamp())
    assert int(last.message_id) in cursor.seen


def test_garbage_cursor_is_fatal_not_a_silent_restart(zendesk: ZendeskHarness) -> None:
    with pytest.raises(FatalError):
        zendesk.connector().poll('{"cursor": "from another vendor"}', past(5))


# -- FM-3: the field the API filters on, the sideload, the last minute -----------------------

def test_new_comment_on_an_old_ticket_is_read(zendesk: ZendeskHarness) -> None:
    old = zendesk.add_ticket(subject="Old", customer_name="O", customer_email="o@x.com",
                             body="Long ago", at=past(60 * 24 * 30))
    first = drain(zendesk.connector(), None, past(60))
    assert first.messages == []
    new = zendesk.add_message(old, "customer", "Still broken", past(10))
    second = drain(zendesk.connector(), first.cursor, past(60))
    assert [m.message_id for m in second.messages] == [new]
    for request in zendesk.sandbox.requests_to("/incremental/ticket_events"):
        assert request.query["include"] == ["comment_events"]
        assert request.query["support_type_scope"] == ["all"]


def test_last_minute_is_not_asked_for_and_read_once_it_is_old() -> None:
    clock = FakeClock(datetime(2026, 3, 2, 12, 0, tzinfo=UTC).timestamp())
    harness = ZendeskHarness(page_size=5, exclusion_seconds=60, clock=clock)
    try:
        ticket = harness.add_ticket(subject="Now", customer_name="N",
                                    customer_email="n@x.com", body="older",
                                    at=datetime.fromtimestamp(clock.now - 300, UTC))
        fresh = harness.add_message(ticket, "customer", "just now",
                                    datetime.fromtimestamp(clock.now - 10, UTC))
        connector = harness.connector(min_age_seconds=60)
        connector._clock = clock  # the connector's "one minute ago" uses the same clock
        first = connector.poll(None, datetime.fromtimestamp(clock.now - 600, UTC))
        assert [m.body for m in first.messages] == ["older"]
        clock.now += 120
        second = drain(connector, first.next_cursor, datetime.fromtimestamp(0, UTC))
        assert [m.message_id for m in second.messages] == [fresh]
        # A cursor younger than a minute is not sent at all (the vendor would refuse it).
        before = len(harness.sandbox.request_log)
        quiet = connector.poll(Cursor(int(clock.now) - 5).dump(), datetime.now(UTC))
        assert quiet.messages == [] and quiet.caught_up
        assert len(harness.sandbox.request_log) == before
    finally:
        harness.close()


def test_support_type_scope_decides_about_ai_agent_tickets(zendesk: ZendeskHarness) -> None:
    zendesk.sandbox.add_ticket(subject="Bot chat", customer_name="B", customer_email="b@x.com",
                               body="Your bot is useless", at=past(20).timestamp(),
                               support_type="ai_agent")
    assert len(drain(zendesk.connector(), None, past(30)).messages) == 1
    scoped = drain(zendesk.connector(support_type_scope="agent"), None, past(30))
    assert scoped.messages == []


# -- FM-4 / FM-6: the incremental budget, 429s, Retry-After ------------------------------------

def test_own_budget_stops_a_poll_with_a_safe_cursor() -> None:
    harness = ZendeskHarness(page_size=2)
    try:
        seed(harness, CONVERSATIONS, start=past(40))
        connector = harness.connector(incremental_per_minute=3)
        result = connector.poll(None, past(45))
        assert not result.caught_up
        assert len(_events_served(harness)) == 3
        assert all(status == 200 for status in _events_served(harness))
        # Straight away again: nothing sent, nothing lost, and no reason to spin.
        again = connector.poll(result.next_cursor, past(45))
        assert again.messages == [] and again.requests == 0 and again.caught_up
        assert again.next_cursor == result.next_cursor
        assert len(_events_served(harness)) == 3
        # Resuming from that cursor reads the rest, nothing twice.
        rest = drain(harness.connector(), result.next_cursor, past(45), max_polls=100)
        keys = message_keys(result.messages) + message_keys(rest.messages)
        assert len(keys) == len(set(keys)) == sum(len(c.turns) for c in CONVERSATIONS)
    finally:
        harness.close()


def test_vendor_budget_429_keeps_pages_read_and_honours_retry_after() -> None:
    harness = ZendeskHarness(page_size=2, incremental_per_minute=3)
    try:
        seed(harness, CONVERSATIONS[:4], start=past(40))
        connector = harness.connector()
        result = connector.poll(None, past(45))
        assert _events_served(harness).count(429) >= 1
        assert result.messages and not result.caught_up
        waited = connector.http.not_before() - harness.clock.now()
        assert 0 < waited <= 61  # the Retry-After the sandbox sent, not a guess
        # A new poll before that time sends nothing and says how long to wait.
        sent = len(harness.sandbox.request_log)
        connector.http.policy = type(connector.http.policy)(max_inline_wait=0.0)
        with pytest.raises(RetriableError) as raised:
            connector.poll(result.next_cursor, past(45))
        assert raised.value.retry_after is not None and raised.value.retry_after > 0
        assert len(harness.sandbox.request_log) == sent
    finally:
        harness.close()


def test_edge_protection_429_without_retry_after_waits_the_default(
        zendesk: ZendeskHarness) -> None:
    seed(zendesk, CONVERSATIONS[:2], start=past(40))
    connector = zendesk.connector()
    zendesk.inject(Fault("429", count=2, retry_after=None, body={
        "detail": "Rate limited by Zendesk edge protection", "status": "429",
        "title": "Automated response"}))
    with pytest.raises(RetriableError) as raised:
        connector.poll(None, past(45))
    assert raised.value.retry_after == connector.http.policy.default_retry_after
    assert drain(connector, None, past(45)).messages


def test_retry_after_is_slept_not_hammered(zendesk: ZendeskHarness) -> None:
    seed(zendesk, CONVERSATIONS[:2], start=past(40))
    connector = zendesk.connector()
    zendesk.inject(Fault("429", count=1, retry_after="7"))
    before = zendesk.clock.offset
    drain(connector, None, past(45))
    assert zendesk.clock.offset - before >= 6.9  # waited as asked (virtual clock)
    assert _events_served(zendesk)[:2] == [429, 200]


# -- FM-8: write-back never clobbers ---------------------------------------------------------

def test_tags_are_added_never_replaced(zendesk: ZendeskHarness) -> None:
    ticket = zendesk.add_ticket(subject="T", customer_name="T", customer_email="t@x.com",
                                body="hi", at=past(10), tags=("vip",))
    connector = zendesk.connector()
    connector.apply(ticket, TicketChange(add_tags=("sentiment-declining",)))
    zendesk.sandbox._tickets[int(ticket)].tags.append("agent_added")  # meanwhile, an agent
    connector.apply(ticket, TicketChange(remove_tags=("sentiment-declining", "vip")))
    assert set(zendesk.ticket_state(ticket).tags) == {"vip", "agent_added"}
    connector.apply(ticket, TicketChange(add_tags=("sentiment-declining",), priority="high",
                                         note="Declining"))
    state = zendesk.ticket_state(ticket)
    assert set(state.tags) == {"vip", "agent_added", "sentiment-declining"}
    kinds = [w["kind"] for w in zendesk.sandbox.writes]
    assert kinds.count("tags_added") == 2 and kinds.count("tags_removed") == 1
    assert "tags_replaced" not in kinds
    assert not zendesk.sandbox.requests_to("/tags", method="POST")
    for request in zendesk.sandbox.requests_to("/api/v2/tickets/", method="PUT"):
        assert "tags" not in ((request.body or {}).get("ticket") or {})


def test_a_change_costs_three_requests(zendesk: ZendeskHarness) -> None:
    ticket = zendesk.add_ticket(subject="T", customer_name="T", customer_email="t@x.com",
                                body="hi", at=past(10))
    before = len(zendesk.sandbox.request_log)
    zendesk.connector().apply(ticket, TicketChange(add_tags=("sentiment-x",),
                                                   priority="urgent", note="n"))
    methods = [(r.method, r.path) for r in zendesk.sandbox.request_log[before:]]
    assert methods == [("GET", f"/api/v2/tickets/{ticket}.json"),
                       ("PUT", f"/api/v2/tickets/{ticket}/tags.json"),
                       ("PUT", f"/api/v2/tickets/{ticket}.json")]


def test_safe_update_conflict_is_a_409(zendesk: ZendeskHarness) -> None:
    import requests

    ticket = zendesk.add_ticket(subject="T", customer_name="T", customer_email="t@x.com",
                                body="hi", at=past(10))
    headers = {"Authorization": zendesk.connector()._auth_headers()["Authorization"]}
    response = requests.put(f"{zendesk.sandbox.url}/api/v2/tickets/{ticket}/tags.json",
                            json={"tags": ["x"], "safe_update": True,
                                  "updated_stamp": "2001-01-01T00:00:00Z"},
                            headers=headers, timeout=5)
    assert response.status_code == 409
    assert "x" not in zendesk.ticket_state(ticket).tags


# -- gone tickets, the comment cap ------------------------------------------------------------

def test_merged_ticket_is_gone_and_its_messages_still_read(zendesk: ZendeskHarness) -> None:
    first = zendesk.add_ticket(subject="A", customer_name="M", customer_email="m@x.com",
                               body="first", at=past(20))
    second = zendesk.add_ticket(subject="B", customer_name="M", customer_email="m@x.com",
                                body="second", at=past(19))
    zendesk.sandbox.merge_ticket(int(first), into=int(second), at=past(15).timestamp())
    with pytest.raises(TicketGoneError):
        zendesk.connector().apply(first, TicketChange(add_tags=("sentiment-x",)))
    zendesk.connector().apply(second, TicketChange(add_tags=("sentiment-x",)))
    messages = drain(zendesk.connector(), None, past(25)).messages
    assert {m.ticket_id for m in messages} == {first, second}
    assert [m.ticket.status for m in messages if m.ticket_id == first][-1] == "closed"


def test_deleted_ticket_messages_carry_a_deleted_snapshot(zendesk: ZendeskHarness) -> None:
    ticket = zendesk.add_ticket(subject="Del", customer_name="D", customer_email="d@x.com",
                                body="hello", at=past(20))
    zendesk.delete_ticket(ticket)
    messages = drain(zendesk.connector(), None, past(25)).messages
    assert [(m.ticket_id, m.ticket.status) for m in messages] == [(ticket, "deleted")]
    with pytest.raises(TicketGoneError):
        zendesk.connector().apply(ticket, TicketChange(note="x"))


def test_comment_cap_skips_the_note_but_applies_tags_and_priority(
        zendesk: ZendeskHarness) -> None:
    ticket = zendesk.add_ticket(subject="Long", customer_name="L", customer_email="l@x.com",
                                body="hello", at=past(20))
    zendesk.sandbox.fill_comments(int(ticket), zendesk.sandbox.comment_cap - 1)
    with pytest.raises(FatalError) as raised:
        zendesk.connector().apply(ticket, TicketChange(add_tags=("sentiment-x",),
                                                       priority="urgent", note="a note"))
    assert raised.value.status == 422 and not isinstance(raised.value, TicketGoneError)
    state = zendesk.ticket_state(ticket)
    assert "sentiment-x" in state.tags and state.priority == "urgent"
    assert state.notes == ()


# -- auth --------------------------------------------------------------------------------------

def test_oauth_bearer_reads_and_writes() -> None:
    harness = ZendeskHarness(page_size=5, oauth=True)
    try:
        ticket = harness.add_ticket(subject="O", customer_name="O", customer_email="o@x.com",
                                    body="hello", at=past(20))
        connector = harness.connector()
        assert [m.body for m in drain(connector, None, past(25)).messages] == ["hello"]
        connector.apply(ticket, TicketChange(note="via oauth"))
        assert harness.ticket_state(ticket).notes == ("via oauth",)
        for request_headers in [harness.connector()._auth_headers()]:
            assert request_headers["Authorization"].startswith("Bearer ")
    finally:
        harness.close()


def test_wrong_token_is_an_auth_error_without_retries(zendesk: ZendeskHarness) -> None:
    from pydantic import SecretStr

    connector = zendesk.connector(api_token=SecretStr("wrong"))
    with pytest.raises(AuthError):
        connector.poll(None, past(5))
    assert [r.status for r in zendesk.sandbox.request_log] == [401]


# -- settings ----------------------------------------------------------------------------------

@pytest.mark.parametrize("subdomain", ["acme", "acme-support", "a1"])
def test_subdomain_builds_the_fixed_url(subdomain: str) -> None:
    settings = ZendeskSettings(name="zd", subdomain=subdomain, email="a@b.c", api_token="t")
    assert settings.api_url == f"https://{subdomain}.zendesk.com"
    connector = settings.create()
    assert connector.ticket_url("42") == f"https://{subdomain}.zendesk.com/agent/tickets/42"
    connector.close()


@pytest.mark.parametrize("subdomain", ["evil.com/x", "a.b", "-acme", "acme-", "ACME!",
                                       "x" * 64, "", "acme.zendesk.com@evil"])
def test_subdomain_must_be_one_dns_label(subdomain: str) -> None:
    with pytest.raises(ValidationError):
        ZendeskSettings(name="zd", subdomain=subdomain, email="a@b.c", api_token="t")


@pytest.mark.parametrize("values", [
    {"email": "a@b.c", "api_token": "t"},  # neither subdomain nor base_url
    {"subdomain": "a", "base_url": "https://a.example", "email": "a@b.c", "api_token": "t"},
    {"subdomain": "a", "email": "a@b.c"},  # no token
    {"subdomain": "a", "email": "a@b.c", "api_token": "t", "oauth_token": "o"},
    {"subdomain": "a", "oauth_token": "o", "support_type_scope": "everything"},
    {"base_url": "ftp://a.example", "oauth_token": "o"},
    {"subdomain": "a", "oauth_token": "o", "unknown_key": 1},
])
def test_settings_refuse_ambiguous_or_incomplete_accounts(values: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        ZendeskSettings(name="zd", **values)


def test_settings_never_show_secrets() -> None:
    settings = ZendeskSettings(name="zd", subdomain="acme", email="a@b.c",
                               api_token="very-secret-token")
    assert "very-secret-token" not in repr(settings) and "very-secret-token" not in str(
        settings.model_dump())


def test_registry_finds_the_settings() -> None:
    from connectors.settings import SOURCE_KINDS, settings_class

    assert settings_class(SOURCE_KINDS, "zendesk") is ZendeskSettings
