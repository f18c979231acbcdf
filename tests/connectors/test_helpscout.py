"""Help Scout-specific behaviour over real HTTP: the failure modes peers hit, one test each.

FM-3 (always modifiedSince and status=all), FM-6 (X-RateLimit-Retry-After, writes that
count double), FM-7 (token expiry, before and after the server says so), FM-8 (tags and
custom fields replaced wholesale), merged conversations, drift while paging, and how
threads are told apart.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from connectors.base import AuthError, RetriableError, TicketChange, TicketGoneError
from connectors.helpscout import HelpScoutConnector, HelpScoutSettings
from connectors.sandbox.base import Fault
from connectors.sandbox.helpscout import OTHER_FIELD_ID, PRIORITY_FIELD_ID, PRIORITY_OPTIONS
from tests.connectors.harness import drain, message_keys, past
from tests.connectors.harness_helpscout import HelpScoutHarness


@pytest.fixture
def helpscout() -> Iterator[HelpScoutHarness]:
    instance = HelpScoutHarness(page_size=5)
    try:
        yield instance
    finally:
        instance.close()


def _conversation(harness: HelpScoutHarness, minutes_ago: float, body: str = "Hello",
                  **kwargs: object) -> str:
    return harness.add_ticket(subject="Subject", customer_name="Ann Cole",
                              customer_email="ann@example.com", body=body,
                              at=past(minutes_ago), **kwargs)  # type: ignore[arg-type]


def _statuses(harness: HelpScoutHarness, path_part: str) -> list[int]:
    return [r.status for r in harness.sandbox.request_log if path_part in r.path]


def test_fm3_lists_all_statuses_modified_since_ascending(helpscout: HelpScoutHarness) -> None:
    closed = _conversation(helpscout, 20, body="Thanks, solved")
    helpscout.sandbox.conversations[int(closed)]["status"] = "closed"
    got = drain(helpscout.connector(), None, past(30)).messages
    assert [m.ticket_id for m in got] == [closed]  # the default (active only) would miss it
    lists = [r for r in helpscout.sandbox.request_log if r.path == "/v2/conversations"]
    assert lists
    for request in lists:
        assert request.query["status"] == ["all"]
        assert request.query["sortField"] == ["modifiedAt"]
        assert request.query["sortOrder"] == ["asc"]
        assert "modifiedSince" in request.query


def test_fm6_x_ratelimit_retry_after_is_honoured(helpscout: HelpScoutHarness) -> None:
    _conversation(helpscout, 20)
    helpscout.inject(Fault("429", retry_after="9", path_contains="/v2/conversations"))
    got = drain(helpscout.connector(), None, past(30))
    assert len(got.messages) == 1 and got.retriable_errors == 0
    limited = [r for r in helpscout.sandbox.request_log if r.status == 429]
    assert len(limited) == 1
    assert any(wait > 8.9 for wait in helpscout.clock.slept)


def test_fm6_writes_count_double_against_the_minute(helpscout: HelpScoutHarness) -> None:
    harness = HelpScoutHarness(page_size=5, requests_per_minute=5)
    try:
        conversation_id = _conversation(harness, 20)
        connector = harness.connector()
        # token (1) + read (1) + tags PUT (2) = 4 of 5: the note POST (2) does not fit.
        with pytest.raises(RetriableError) as raised:
            connector.apply(conversation_id, TicketChange(add_tags=("sentiment-x",),
                                                          note="n"))
        assert raised.value.retry_after is not None and raised.value.retry_after > 0
        assert [(r.method, r.status) for r in harness.sandbox.request_log][:4] == [
            ("POST", 200), ("GET", 200), ("PUT", 204), ("POST", 429)]
        assert harness.sandbox.tag_names(int(conversation_id)) == ["sentiment-x"]
    finally:
        harness.close()


def test_fm7_token_renewed_before_it_expires() -> None:
    harness = HelpScoutHarness(page_size=5, token_lifetime=600)
    try:
        _conversation(harness, 20)
        connector = harness.connector()  # token_margin 5 min: renew after 300 s
        first = drain(connector, None, past(30))
        assert connector.token_fetches == 1
        harness.clock.offset += 310  # our clock passes expiry minus the margin
        drain(connector, first.cursor, past(30))
        assert connector.token_fetches == 2
        assert 401 not in [r.status for r in harness.sandbox.request_log]
    finally:
        harness.close()


def test_fm7_expired_token_renewed_once_on_401(helpscout: HelpScoutHarness) -> None:
    _conversation(helpscout, 20)
    connector = helpscout.connector()
    first = drain(connector, None, past(30))
    helpscout.sandbox.expire_tokens()  # the server says so before our clock does
    late = _conversation(helpscout, 10, body="Still there?")
    second = drain(connector, first.cursor, past(30))
    assert [m.ticket_id for m in second.messages] == [late]
    assert [r.status for r in helpscout.sandbox.request_log].count(401) == 1
    assert connector.token_fetches == 2


def test_fm7_wrong_credentials_stop_with_auth_error(helpscout: HelpScoutHarness) -> None:
    _conversation(helpscout, 20)
    connector = helpscout.connector(client_secret="wrong-secret")
    with pytest.raises(AuthError):
        connector.poll(None, past(30))
    assert len(helpscout.sandbox.requests_to("/v2/oauth2/token")) == 1  # no retry loop


def test_fm8_tags_merged_and_priority_tag_added(helpscout: HelpScoutHarness) -> None:
    conversation_id = _conversation(helpscout, 20, tags=("vip",), priority="high")
    connector = helpscout.connector()
    connector.apply(conversation_id, TicketChange(add_tags=("sentiment-declining",),
                                                  priority="urgent", note="Declining"))
    puts = [r for r in helpscout.sandbox.request_log if r.method == "PUT"]
    assert [r.body for r in puts] == [
        {"tags": ["vip", "priority-high", "sentiment-declining", "priority-urgent"]}]
    note = [r for r in helpscout.sandbox.request_log if r.method == "POST"
            and r.path.endswith("/notes")]
    assert [r.body for r in note] == [{"text": "Declining"}]
    assert helpscout.ticket_state(conversation_id).priority == "urgent"


def test_fm8_priority_as_a_dropdown_keeps_the_other_fields() -> None:
    harness = HelpScoutHarness(page_size=5, priority_mode="field")
    try:
        conversation_id = _conversation(harness, 20, priority="normal")
        connector = harness.connector()
        connector.apply(conversation_id, TicketChange(priority="low"))
        assert not [r for r in harness.sandbox.request_log if r.method == "PUT"]  # no drop
        connector.apply(conversation_id, TicketChange(priority="high"))
        puts = [r for r in harness.sandbox.request_log if r.method == "PUT"]
        assert [(r.path, r.body) for r in puts] == [
            (f"/v2/conversations/{conversation_id}/fields",
             {"fields": [{"id": OTHER_FIELD_ID, "value": "ACME-42"},
                         {"id": PRIORITY_FIELD_ID, "value": str(PRIORITY_OPTIONS["high"])}]})]
        assert harness.ticket_state(conversation_id).priority == "high"
        assert harness.ticket_state(conversation_id).tags == ()  # no tag write needed
    finally:
        harness.close()


def test_merged_conversation_is_gone_for_reads_and_writes(helpscout: HelpScoutHarness) -> None:
    conversation_id = _conversation(helpscout, 20)
    connector = helpscout.connector()
    helpscout.sandbox.merge(int(conversation_id))
    with pytest.raises(TicketGoneError):
        connector.apply(conversation_id, TicketChange(note="n"))
    assert _statuses(helpscout, f"/v2/conversations/{conversation_id}") == [301]
    # A write straight to the old id answers 404, also reported as gone.
    with pytest.raises(TicketGoneError):
        connector._write("POST", f"/v2/conversations/{conversation_id}/notes",
                         {"text": "n"})


def test_threads_told_apart(helpscout: HelpScoutHarness) -> None:
    sandbox = helpscout.sandbox
    conversation_id = _conversation(helpscout, 30, body="Help please")
    cid = int(conversation_id)
    reply = sandbox.add_thread(cid, "agent", "On it", past(29))
    note = sandbox.add_thread(cid, "note", "Internal", past(28))
    sandbox.add_thread(cid, "agent", "Assigned to Sam", past(27), thread_type="lineitem")
    sandbox.add_thread(cid, "agent", "Half-written", past(26), state="draft")
    chat = sandbox.add_thread(cid, "customer", "Via chat", past(25), thread_type="chat")
    phone = sandbox.add_thread(cid, "agent", "Called them", past(24), thread_type="phone")
    got = drain(helpscout.connector(), None, past(40)).messages
    roles = {m.message_id: (m.author_role, m.public) for m in got}
    first = min(roles)
    assert roles == {first: ("customer", True), str(reply): ("agent", True),
                     str(note): ("agent", False), str(chat): ("customer", True),
                     str(phone): ("agent", True)}
    assert got[0].ticket.requester == "Ann Cole"
    assert got[0].ticket.url == f"https://secure.helpscout.net/conversation/{conversation_id}"


def test_threads_paging_stops_at_what_was_already_read(helpscout: HelpScoutHarness) -> None:
    conversation_id = _conversation(helpscout, 120, body="Start")
    for n in range(14):  # three pages of 5 threads, all old
        helpscout.add_message(conversation_id, "agent", f"Old {n}", past(119 - n))
    connector = helpscout.connector(message_overlap="10m", embed_threads=False)
    first = drain(connector, None, past(130))
    assert len(first.messages) == 15
    new = helpscout.add_message(conversation_id, "customer", "New one", past(2))
    before = len(helpscout.sandbox.request_log)
    second = drain(connector, first.cursor, past(130))
    assert [m.message_id for m in second.messages] == [new]
    thread_reads = [r for r in helpscout.sandbox.request_log[before:] if "/threads" in r.path]
    assert len(thread_reads) == 1  # the newest page already reaches back past the window


def test_threads_come_embedded_except_for_chats(helpscout: HelpScoutHarness) -> None:
    email = _conversation(helpscout, 30, body="By email")
    helpscout.add_message(email, "agent", "Reply", past(29))
    chat = _conversation(helpscout, 28, body="Hi! " + "long chat line " * 10)
    helpscout.sandbox.conversations[int(chat)]["type"] = "chat"
    got = drain(helpscout.connector(), None, past(40)).messages
    assert len(got) == 3
    assert next(m.body for m in got if m.ticket_id == chat).endswith("long chat line ")
    thread_reads = [r.path for r in helpscout.sandbox.request_log if "/threads" in r.path]
    assert thread_reads == [f"/v2/conversations/{chat}/threads"]
    lists = [r for r in helpscout.sandbox.request_log if r.path == "/v2/conversations"]
    assert all(r.query["embed"] == ["threads"] for r in lists)


def test_list_shifting_while_paging_loses_nothing(helpscout: HelpScoutHarness) -> None:
    ids = [_conversation(helpscout, 30 - n, body=f"Conversation {n}") for n in range(12)]
    touched: list[int] = []

    def agent_edits_during_the_walk(page: int) -> None:
        if page == 1 and not touched:
            touched.append(int(ids[1]))
            # Modified later than every other one: it moves to the end of the ascending
            # list, and everything after it shifts one place towards page 1.
            helpscout.sandbox.touch(int(ids[1]), datetime.now(UTC) + timedelta(seconds=5))

    helpscout.sandbox.after_list_page = agent_edits_during_the_walk
    got = drain(helpscout.connector(page_budget=20), None, past(40)).messages
    assert sorted(m.ticket_id for m in got) == sorted(ids)
    assert len(message_keys(got)) == len(set(message_keys(got)))
    pages = [r.query["page"][0] for r in helpscout.sandbox.request_log
             if r.path == "/v2/conversations"]
    assert pages.count("1") == 2  # the shift was noticed and the walk repeated


def test_cursor_is_json_and_resumes_a_cut_walk(helpscout: HelpScoutHarness) -> None:
    for n in range(12):
        _conversation(helpscout, 30 - n, body=f"Conversation {n}")
    connector = helpscout.connector(page_budget=1)
    first = connector.poll(None, past(40))
    assert not first.caught_up
    state = json.loads(first.next_cursor)
    assert state["page"] == 2 and len(state["walk_ids"]) == 5
    rest = drain(connector, first.next_cursor, past(40))
    assert len(first.messages) + len(rest.messages) == 12
    pages = [r.query["page"][0] for r in helpscout.sandbox.request_log
             if r.path == "/v2/conversations"]
    assert pages == ["1", "2", "3"]  # resumed, not restarted


@pytest.mark.parametrize("values", [
    {"priority_mode": "field"},  # needs the field id and option ids
    {"priority_mode": "field", "priority_field_id": 1},
    {"priority_mode": "field", "priority_field_id": 1, "priority_options": {"meh": 1}},
    {"client_secret": None},
    {"surprise": 1},
])
def test_settings_reject_bad_values(values: dict[str, object]) -> None:
    base: dict[str, object] = {"name": "hs", "kind": "helpscout", "client_id": "i",
                               "client_secret": "s"}
    base.update(values)
    with pytest.raises(ValidationError):
        HelpScoutSettings.model_validate(base)


def test_settings_defaults_point_at_help_scout() -> None:
    settings = HelpScoutSettings.model_validate(
        {"name": "hs", "kind": "helpscout", "client_id": "id-1", "client_secret": "s3cret"})
    connector = HelpScoutConnector(settings)
    try:
        assert "s3cret" not in repr(settings) and "s3cret" not in repr(connector)
        assert connector._token_url == "https://api.helpscout.net/v2/oauth2/token"
        assert settings.token_margin == timedelta(minutes=5)
    finally:
        connector.close()


def test_conversation_gone_while_its_threads_are_read_is_skipped(
        helpscout: HelpScoutHarness) -> None:
    gone = _conversation(helpscout, 20, body="Soon merged")
    kept = _conversation(helpscout, 19, body="Still here")
    helpscout.inject(Fault("404", path_contains=f"/v2/conversations/{gone}/threads"))
    got = drain(helpscout.connector(embed_threads=False), None, past(30))
    assert [m.ticket_id for m in got.messages] == [kept]
    assert got.retriable_errors == 0


def test_a_response_of_the_wrong_shape_is_retriable(helpscout: HelpScoutHarness) -> None:
    _conversation(helpscout, 20)
    helpscout.inject(Fault("200", count=3, path_contains="/v2/conversations",
                           body={"_embedded": {"conversations": [{"subject": "no id"}]}}))
    with pytest.raises(RetriableError):
        helpscout.connector().poll(None, past(30))
    assert len(drain(helpscout.connector(), None, past(30)).messages) == 1
