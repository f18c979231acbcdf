"""The sandbox Slack speaks Slack's wire format: raw HTTP against it, no notifier."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
import requests

from connectors.sandbox.slack import DEFAULT_TOKEN, SlackMessage, SlackSandbox, format_for_console
from connectors.slack_render import render_alert
from tests.ops.slack_support import FakeClock, make_alert

AUTH = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="module")
def shared_sandbox() -> Iterator[SlackSandbox]:
    server = SlackSandbox()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def sandbox(shared_sandbox: SlackSandbox, clock: FakeClock) -> SlackSandbox:
    shared_sandbox.reset(clock)
    return shared_sandbox


def post(url: str, **kwargs: object) -> requests.Response:
    return requests.post(url, timeout=5, **kwargs)  # type: ignore[arg-type]


def test_webhook_answers_plain_ok_and_records(sandbox: SlackSandbox) -> None:
    url = sandbox.webhook_url("#support-alerts")
    response = post(url, json={"text": "hello"})
    assert (response.status_code, response.text) == (200, "ok")
    (message,) = sandbox.messages_in("#support-alerts")
    assert message.text == "hello" and message.via == "webhook"
    assert sandbox.writes[-1]["kind"] == "message"


def test_webhook_errors_are_plain_strings(sandbox: SlackSandbox) -> None:
    url = sandbox.webhook_url()
    unknown = url[: url.rindex("/") + 1] + "nottherightsecret"
    assert (post(unknown, json={"text": "x"}).status_code,
            post(unknown, json={"text": "x"}).text) == (404, "no_service")
    bad = post(url, data=b"{not json", headers={"Content-Type": "application/json"})
    assert (bad.status_code, bad.text) == (400, "invalid_payload")
    too_long = post(url, json={"text": "x", "blocks": [
        {"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}]})
    assert (too_long.status_code, too_long.text) == (400, "invalid_blocks")
    sandbox.archive("#escalations")
    gone = post(url, json={"text": "x"})
    assert (gone.status_code, gone.text) == (410, "channel_is_archived")
    assert sandbox.messages == []


def test_post_message_auth_and_answers(sandbox: SlackSandbox) -> None:
    api = sandbox.api_url + "/chat.postMessage"
    assert post(api, json={"channel": "#escalations", "text": "x"}).json() == {
        "ok": False, "error": "not_authed"}
    wrong = post(api, json={"channel": "#escalations", "text": "x"},
                 headers={"Authorization": "Bearer xoxb-nope"})
    assert (wrong.status_code, wrong.json()["error"]) == (200, "invalid_auth")
    assert post(api, json={"channel": "#general", "text": "x"},
                headers=AUTH).json()["error"] == "channel_not_found"
    ok = post(api, json={"channel": "#escalations", "text": "first"}, headers=AUTH).json()
    assert ok["ok"] is True and ok["ts"] == sandbox.messages[0].ts
    # The id Slack returns works as the channel too, and so does a form-encoded post.
    again = post(api, data={"channel": ok["channel"], "text": "second",
                            "thread_ts": ok["ts"]}, headers=AUTH).json()
    assert again["ok"] is True
    assert sandbox.messages[1].thread_ts == ok["ts"]
    orphan = post(api, json={"channel": "#escalations", "text": "x", "thread_ts": "9.9"},
                  headers=AUTH).json()
    assert orphan["error"] == "thread_not_found"


def test_more_than_one_per_second_gets_429_with_retry_after(sandbox: SlackSandbox,
                                                           clock: FakeClock) -> None:
    api = sandbox.api_url + "/chat.postMessage"
    body = {"channel": "#escalations", "text": "x"}
    statuses = [post(api, json=body, headers=AUTH) for _ in range(4)]
    assert [r.status_code for r in statuses] == [200, 200, 200, 429]  # a burst of 3
    assert statuses[3].headers["Retry-After"] == "1"
    assert statuses[3].json() == {"ok": False, "error": "ratelimited"}
    clock.now += 1.0
    assert post(api, json=body, headers=AUTH).status_code == 200
    # Channels are limited separately.
    sandbox.add_channel("#other")
    assert post(api, json={**body, "channel": "#other"}, headers=AUTH).status_code == 200
    assert len(sandbox.messages) == 5


def test_echo_prints_one_compact_block_per_alert(clock: FakeClock) -> None:
    stream = io.StringIO()
    with SlackSandbox(clock=clock, echo=True, echo_stream=stream) as sandbox:
        url = sandbox.webhook_url()  # type: ignore[attr-defined]
        post(url, json=render_alert(make_alert()))
        post(url, json=render_alert(make_alert(kind="resolve")))
    printed = stream.getvalue()
    blocks = [b for b in printed.split("─" * 78 + "\n") if b]
    assert len(blocks) == 2
    first = blocks[0].splitlines()
    assert first[0].startswith("🚨 Escalation: sentiment-declining  #escalations")
    assert "  Ticket #1042 (zendesk-main) · Customer: Dana Whitfield" in first
    assert any("▆▅▄▂▂▂" in line for line in first)
    assert "  “third time I ask” · “cancel my account”" in first
    assert first[-1] == "  https://acme.zendesk.com/agent/tickets/1042"
    assert len(first) <= 12
    assert blocks[1].startswith("✅ Recovered")
    assert "\x1b" not in printed  # no colour when the stream is not a terminal


def test_console_never_passes_terminal_controls() -> None:
    hostile = make_alert(subject="\x1b]0;pwned\x07 \x1b[2J wiped", customer="A\u202eB")
    message = SlackMessage(channel="#escalations", ts="1.0", via="webhook",
                           **{k: v for k, v in render_alert(hostile).items()
                              if k in ("text", "blocks")})
    printed = format_for_console(message, colour=False)
    assert "\x1b" not in printed and "\x07" not in printed and "\u202e" not in printed
    coloured = format_for_console(message, colour=True)
    assert "\x1b[1m" in coloured  # our own styling only
    assert "\x1b]" not in coloured and "\x1b[2J" not in coloured
