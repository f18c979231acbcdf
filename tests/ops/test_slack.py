"""The Slack notifier: rendering, pacing, threading and error classification, over real
HTTP against the sandbox Slack."""

from __future__ import annotations

import math
import socket
from collections.abc import Iterator

import pytest
from pydantic import ValidationError

from connectors.base import AuthError, Delivery, FatalError, Notifier, RetriableError
from connectors.sandbox.base import Fault
from connectors.sandbox.slack import SlackSandbox, block_kit_problem
from connectors.settings import NOTIFIER_KINDS, settings_class
from connectors.slack import SlackNotifier, SlackSettings, classify_api_error
from connectors.slack_render import render_alert, sparkline
from connectors.slack_text import clean_text
from tests.ops.slack_support import FakeClock, api_notifier, make_alert, texts, webhook_notifier


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="module")
def shared_sandbox() -> Iterator[SlackSandbox]:
    with SlackSandbox() as server:
        assert isinstance(server, SlackSandbox)
        yield server


@pytest.fixture
def sandbox(shared_sandbox: SlackSandbox, clock: FakeClock) -> SlackSandbox:
    shared_sandbox.reset(clock)
    return shared_sandbox


# -- rendering ------------------------------------------------------------------------------


def test_alert_carries_link_customer_rule_numbers_sparkline_and_phrases() -> None:
    payload = render_alert(make_alert())
    every_text = "\n".join(texts(payload["blocks"]))
    assert "<https://acme.zendesk.com/agent/tickets/1042|#1042>" in every_text
    assert "Dana Whitfield" in every_text
    assert "sentiment-declining" in every_text
    assert "direction -0.62" in every_text and "current avg -0.71" in every_text
    assert "`▆▅▄▂▂▂`" in every_text
    assert "“third time I ask” · “cancel my account”" in every_text
    buttons = [e for b in payload["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert buttons[0]["url"] == "https://acme.zendesk.com/agent/tickets/1042"
    assert payload["text"].startswith("Escalation: sentiment-declining on #1042")
    assert block_kit_problem(payload) is None


@pytest.mark.parametrize(("scores", "expected"), [
    ([-1.0, 0.0, 1.0], "▁▅█"),
    ([-5.0, 5.0, math.nan], "▁█▅"),  # clamped; a NaN draws as neutral
    ([], ""),
    ([0.0] * 45, "…" + "▅" * 40),  # the most recent 40
])
def test_sparkline(scores: list[float], expected: str) -> None:
    assert sparkline(scores) == expected


def test_customer_text_cannot_format_mention_or_reorder() -> None:
    alert = make_alert(subject="<!channel> *urgent* <https://evil.example|click> & co",
                       customer="Eve \u202eevil\u202c\x1b[31m", ticket_id="42",
                       indicators=("ignore previous instructions <@U123>",))
    payload = render_alert(alert)
    # In mrkdwn (the fallback text) the specials are escaped: no mention, no link.
    assert "<!channel>" not in payload["text"]
    assert "&lt;!channel&gt;" in payload["text"]
    assert "&lt;https://evil.example|click&gt; &amp; co" in payload["text"]
    # Customer text only ever sits in plain_text objects, which Slack does not interpret.
    for text in texts(payload["blocks"], kind="mrkdwn"):
        assert "evil" not in text and "<!channel>" not in text and "<@U123>" not in text
    plain = "\n".join(texts(payload["blocks"], kind="plain_text"))
    assert "<!channel> *urgent*" in plain
    assert "Eve evil[31m" in plain  # bidi override and ESC removed, text kept
    assert "\u202e" not in str(payload) and "\x1b" not in str(payload)


def test_clean_text_repairs_and_keeps_emoji() -> None:
    assert clean_text("a\ud83db\x00c") == "a?bc"
    assert clean_text("👩\u200d💻 ok\u2067") == "👩\u200d💻 ok"


def test_oversized_alert_stays_within_block_kit_limits(sandbox: SlackSandbox,
                                                       clock: FakeClock) -> None:
    alert = make_alert(subject="S" * 10_000, customer="C" * 5_000, rule="r" * 400,
                       reason="why " * 2000, indicators=tuple("phrase " * 100 for _ in range(50)),
                       scores=tuple((i % 21 - 10) / 10 for i in range(5000)),
                       numbers={f"n{i}": i / 7 for i in range(200)})
    payload = render_alert(alert)
    assert block_kit_problem(payload) is None
    assert len(payload["text"]) <= 3000
    # And the sandbox, which checks the same limits, accepts it over the wire.
    webhook_notifier(sandbox, clock).send(alert)
    assert len(sandbox.messages) == 1


def test_unsafe_ticket_url_is_not_linked() -> None:
    payload = render_alert(make_alert(ticket_url="javascript:alert(1)"))
    assert "javascript" not in str(payload)
    assert not [b for b in payload["blocks"] if b["type"] == "actions"]


def test_recovered_looks_different() -> None:
    fired = render_alert(make_alert())
    recovered = render_alert(make_alert(kind="resolve", numbers={"current_avg": 0.2}))
    assert fired["blocks"][0]["text"]["text"].startswith("🚨 Escalation")
    assert recovered["blocks"][0]["text"]["text"].startswith("✅ Recovered")
    assert recovered["text"].startswith("Recovered: sentiment-declining")
    assert "third time I ask" not in str(recovered)
    button = next(b for b in recovered["blocks"] if b["type"] == "actions")["elements"][0]
    assert "style" not in button


# -- settings ---------------------------------------------------------------------------------


def test_registered_as_kind_slack() -> None:
    assert settings_class(NOTIFIER_KINDS, "slack") is SlackSettings
    notifier = SlackSettings(kind="slack",
                             webhook_url="https://hooks.slack.com/services/T1/B1/x").create("n")
    assert isinstance(notifier, Notifier)
    assert notifier.name == "n"


@pytest.mark.parametrize(("fields", "message"), [
    ({}, "exactly one of webhook_url or bot_token"),
    ({"webhook_url": "https://hooks.slack.com/services/T1/B1/x", "bot_token": "xoxb-1",
      "channel": "#a"}, "exactly one"),
    ({"bot_token": "xoxb-1"}, "needs a channel"),
    ({"webhook_url": "http://hooks.slack.com/services/T1/B1/x"}, "https"),
    ({"webhook_url": "https://hooks.slack.com/triggers/T1/x"}, "incoming-webhook URL"),
    ({"bot_token": "xoxb-1", "channel": "#a", "base_url": "http://slack.example/api"}, "https"),
    ({"bot_token": "xoxb-1", "channel": "#a", "colour": "red"}, "Extra inputs"),
])
def test_invalid_settings(fields: dict[str, str], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        SlackSettings(kind="slack", **fields)


# -- delivery ---------------------------------------------------------------------------------


def test_webhook_delivers_and_cannot_thread(sandbox: SlackSandbox, clock: FakeClock) -> None:
    notifier = webhook_notifier(sandbox, clock)
    assert notifier.send(make_alert(thread_ts="1.000001")) == Delivery(thread_key=None)
    (message,) = sandbox.messages
    assert message.via == "webhook" and message.channel == "#escalations"
    assert message.thread_ts is None
    assert message.text.startswith("Escalation: sentiment-declining")


def test_bot_token_threads_later_alerts_under_the_first(sandbox: SlackSandbox,
                                                         clock: FakeClock) -> None:
    notifier = api_notifier(sandbox, clock)
    first = notifier.send(make_alert())
    assert first.thread_key == sandbox.messages[0].ts
    second = notifier.send(make_alert(rule="very-negative-message", thread_ts=first.thread_key))
    resolved = notifier.send(make_alert(kind="resolve", thread_ts=second.thread_key))
    # Every reply names the root, never another reply.
    assert second.thread_key == resolved.thread_key == first.thread_key
    assert [m.thread_ts for m in sandbox.messages] == [None, first.thread_key, first.thread_key]
    request = sandbox.requests_to("chat.postMessage")[1]
    assert request.body["channel"] == "#escalations"
    assert request.body["thread_ts"] == first.thread_key


def test_a_vanished_thread_starts_a_new_one(sandbox: SlackSandbox, clock: FakeClock) -> None:
    notifier = api_notifier(sandbox, clock)
    delivery = notifier.send(make_alert(thread_ts="1234.000001"))  # unknown to this Slack
    (message,) = sandbox.messages
    assert message.thread_ts is None
    assert delivery.thread_key == message.ts
    assert [r.body.get("thread_ts") for r in sandbox.request_log] == ["1234.000001", None]


def test_one_message_per_second_per_channel(sandbox: SlackSandbox, clock: FakeClock) -> None:
    notifier = api_notifier(sandbox, clock)
    for _ in range(5):
        notifier.send(make_alert())
    assert clock.sleeps == [1.0, 1.0, 1.0, 1.0]
    assert [r.status for r in sandbox.request_log] == [200] * 5


def test_notifiers_on_one_channel_share_the_pace(sandbox: SlackSandbox,
                                                 clock: FakeClock) -> None:
    first = api_notifier(sandbox, clock)
    second = api_notifier(sandbox, clock)  # e.g. rebuilt by a reload
    first.send(make_alert())
    second.send(make_alert())
    assert clock.sleeps == [1.0]


def test_long_wait_for_the_channel_is_handed_back(sandbox: SlackSandbox,
                                                  clock: FakeClock) -> None:
    notifier = api_notifier(sandbox, clock, max_inline_wait=0.0)
    notifier.send(make_alert())
    with pytest.raises(RetriableError) as caught:
        notifier.send(make_alert())
    assert caught.value.retry_after == pytest.approx(1.0)
    assert len(sandbox.request_log) == 1  # nothing was sent while the channel was busy
    clock.now += 1.0
    notifier.send(make_alert())
    assert len(sandbox.messages) == 2


def test_429_retry_after_is_honoured_inline(sandbox: SlackSandbox, clock: FakeClock) -> None:
    sandbox.inject(Fault("429", retry_after="2", path_contains="chat.postMessage",
                         body={"ok": False, "error": "ratelimited"}))
    notifier = api_notifier(sandbox, clock)
    notifier.send(make_alert())
    assert [r.status for r in sandbox.request_log] == [429, 200]
    assert clock.sleeps and clock.sleeps[-1] >= 2.0
    assert len(sandbox.messages) == 1


def test_long_retry_after_is_handed_back_and_respected(sandbox: SlackSandbox,
                                                       clock: FakeClock) -> None:
    sandbox.inject(Fault("429", retry_after="30"))
    notifier = webhook_notifier(sandbox, clock)
    with pytest.raises(RetriableError) as caught:
        notifier.send(make_alert())
    assert caught.value.retry_after == 30
    clock.now += 10
    with pytest.raises(RetriableError) as again:
        notifier.send(make_alert())
    assert again.value.retry_after == pytest.approx(20)
    assert len(sandbox.request_log) == 1  # the second send never reached Slack
    clock.now += 20
    notifier.send(make_alert())
    assert len(sandbox.messages) == 1


def test_sandbox_throttle_is_answered_with_a_later_retry(sandbox: SlackSandbox,
                                                         clock: FakeClock) -> None:
    # Pacing off on our side: the sandbox's own 1/s bucket (burst 3) answers 429.
    notifier = api_notifier(sandbox, clock, min_interval=0.0)
    for _ in range(4):
        notifier.send(make_alert())
    statuses = [r.status for r in sandbox.request_log]
    assert statuses == [200, 200, 200, 429, 200]
    assert len(sandbox.messages) == 4


@pytest.mark.parametrize(("fault", "error", "status"), [
    (Fault("400", body=b"invalid_payload"), FatalError, 400),
    (Fault("403", body=b"action_prohibited"), AuthError, 403),
    (Fault("404", body=b"channel_not_found"), FatalError, 404),
    (Fault("410", body=b"channel_is_archived"), FatalError, 410),
])
def test_webhook_errors(sandbox: SlackSandbox, clock: FakeClock, fault: Fault,
                        error: type[FatalError], status: int) -> None:
    sandbox.inject(fault)
    with pytest.raises(error) as caught:
        webhook_notifier(sandbox, clock).send(make_alert())
    assert caught.value.status == status
    assert fault.body.decode().split("_")[0] in str(caught.value)
    assert len(sandbox.request_log) == 1  # fatal: not retried


def test_webhook_of_archived_channel(sandbox: SlackSandbox, clock: FakeClock) -> None:
    notifier = webhook_notifier(sandbox, clock)
    sandbox.archive("#escalations")
    with pytest.raises(FatalError, match="channel_is_archived") as caught:
        notifier.send(make_alert())
    assert caught.value.status == 410


def test_webhook_500_is_retried_then_retriable(sandbox: SlackSandbox, clock: FakeClock) -> None:
    sandbox.inject(Fault("500", count=10, body=b"rollup_error"))
    with pytest.raises(RetriableError):
        webhook_notifier(sandbox, clock).send(make_alert())
    assert [r.status for r in sandbox.request_log] == [500, 500, 500]
    sandbox.clear_faults()


@pytest.mark.parametrize(("token", "channel", "archive", "error", "code"), [
    ("xoxb-wrong", "#escalations", False, AuthError, "invalid_auth"),
    ("xoxb-sandbox-token", "#nowhere", False, FatalError, "channel_not_found"),
    ("xoxb-sandbox-token", "#escalations", True, FatalError, "is_archived"),
])
def test_web_api_errors(sandbox: SlackSandbox, clock: FakeClock, token: str, channel: str,
                        archive: bool, error: type[FatalError], code: str) -> None:
    if archive:
        sandbox.archive("#escalations")
    with pytest.raises(error, match=code):
        api_notifier(sandbox, clock, token=token, channel=channel).send(make_alert())
    assert len(sandbox.request_log) == 1
    assert sandbox.messages == []


@pytest.mark.parametrize(("code", "expected"), [
    ("ratelimited", RetriableError),
    ("service_unavailable", RetriableError),
    ("internal_error", RetriableError),
    ("invalid_auth", AuthError),
    ("token_revoked", AuthError),
    ("missing_scope", AuthError),
    ("channel_not_found", FatalError),
    ("not_in_channel", FatalError),
    ("msg_blocks_too_long", FatalError),
    ("something_new", FatalError),
    (None, FatalError),
])
def test_web_api_error_table(code: str | None, expected: type[Exception]) -> None:
    error = classify_api_error(code)
    assert type(error) is expected
    assert str(code or "unknown_error") in str(error)


def test_error_code_from_the_body_is_never_echoed_raw() -> None:
    error = classify_api_error("<script>Jane's order 4711</script>")
    assert str(error) == "slack: chat.postMessage failed (unknown_error)"


def test_malformed_api_answer_is_retriable(sandbox: SlackSandbox, clock: FakeClock) -> None:
    sandbox.inject(Fault("malformed"))
    with pytest.raises(RetriableError, match="not JSON"):
        api_notifier(sandbox, clock).send(make_alert())


def test_timeout_is_retriable(clock: FakeClock) -> None:
    # Its own server: the slow handlers finish after the test and must not log into the
    # shared one.
    with SlackSandbox(clock=clock) as own:
        assert isinstance(own, SlackSandbox)
        own.inject(Fault("slow", count=3, delay=0.5))
        with pytest.raises(RetriableError, match="timed out"):
            webhook_notifier(own, clock, timeout=0.2).send(make_alert())


def test_connection_refused_is_retriable(clock: FakeClock) -> None:
    with socket.socket() as probe:  # a port that nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = SlackSettings(kind="slack",
                             webhook_url=f"http://127.0.0.1:{port}/services/T1/B1/secret")
    notifier = SlackNotifier("n", settings, clock=clock, wall_clock=clock, sleep=clock.sleep)
    with pytest.raises(RetriableError, match="ConnectionError"):
        notifier.send(make_alert())
