"""The webhook URL and the bot token never reach an exception, a repr or a log line.

Every error path is driven over real sockets (connection refused, 4xx, 5xx, 429, timeout,
malformed body, Web API errors), with logging captured at DEBUG, which includes the
urllib3 request lines that print the request path.
"""

from __future__ import annotations

import logging
import socket
import traceback
from collections.abc import Callable, Iterator

import pytest
import structlog
from pydantic import ValidationError

from connectors.base import ConnectorError
from connectors.sandbox.base import Fault
from connectors.sandbox.slack import SlackSandbox
from connectors.slack import SlackNotifier, SlackSettings
from tests.ops.slack_support import FakeClock, make_alert

WEBHOOK_SECRET = "Zq9SECRETwebhookPATHx7"
TOKEN = "xoxb-1234-SECRETbotTOKEN-5678"


@pytest.fixture(scope="module")
def shared_sandbox() -> Iterator[SlackSandbox]:
    server = SlackSandbox(tokens=(TOKEN,))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def sandbox(shared_sandbox: SlackSandbox) -> SlackSandbox:
    shared_sandbox.reset(FakeClock())
    return shared_sandbox


def webhook(sandbox: SlackSandbox) -> SlackNotifier:
    path = f"/services/T0SECRET/B0SECRET/{WEBHOOK_SECRET}"
    sandbox._webhooks[path] = "#escalations"  # a known secret, so we can look for it
    clock = FakeClock()
    settings = SlackSettings(kind="slack", webhook_url=sandbox.url + path, timeout=0.2)
    return SlackNotifier("esc", settings, clock=clock, wall_clock=clock, sleep=clock.sleep)


def bot(sandbox: SlackSandbox, channel: str = "#escalations") -> SlackNotifier:
    clock = FakeClock()
    settings = SlackSettings(kind="slack", bot_token=TOKEN, channel=channel,
                             base_url=sandbox.api_url, timeout=0.2)
    return SlackNotifier("esc", settings, clock=clock, wall_clock=clock, sleep=clock.sleep)


def refused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


Case = Callable[[SlackSandbox], SlackNotifier]


def _refused_webhook(_: SlackSandbox) -> SlackNotifier:
    clock = FakeClock()
    url = f"http://127.0.0.1:{refused_port()}/services/T0SECRET/B0SECRET/{WEBHOOK_SECRET}"
    return SlackNotifier("esc", SlackSettings(kind="slack", webhook_url=url), clock=clock,
                         wall_clock=clock, sleep=clock.sleep)


def _refused_bot(_: SlackSandbox) -> SlackNotifier:
    clock = FakeClock()
    settings = SlackSettings(kind="slack", bot_token=TOKEN, channel="#escalations",
                             base_url=f"http://127.0.0.1:{refused_port()}/api")
    return SlackNotifier("esc", settings, clock=clock, wall_clock=clock, sleep=clock.sleep)


def _with_fault(fault: Fault, make: Case) -> Case:
    def build(sandbox: SlackSandbox) -> SlackNotifier:
        sandbox.inject(fault)
        return make(sandbox)
    return build


def _removed_webhook(sandbox: SlackSandbox) -> SlackNotifier:
    notifier = webhook(sandbox)
    sandbox._webhooks.clear()  # 404 no_service
    return notifier


CASES: dict[str, Case] = {
    "webhook refused": _refused_webhook,
    "webhook 400": _with_fault(Fault("400", body=b"invalid_payload"), webhook),
    "webhook 403": _with_fault(Fault("403", body=b"action_prohibited"), webhook),
    "webhook 404": _removed_webhook,
    "webhook 410": _with_fault(Fault("410", body=b"channel_is_archived"), webhook),
    "webhook 500": _with_fault(Fault("500", count=5, body=b"rollup_error"), webhook),
    "webhook 429": _with_fault(Fault("429", retry_after="120", body=b"rate_limited"), webhook),
    "webhook timeout": _with_fault(Fault("slow", count=3, delay=0.6), webhook),
    "webhook dropped": _with_fault(Fault("drop", count=3), webhook),
    "bot refused": _refused_bot,
    "bot 500": _with_fault(Fault("503", count=5), bot),
    "bot 429": _with_fault(Fault("429", retry_after="120",
                                 body={"ok": False, "error": "ratelimited"}), bot),
    "bot timeout": _with_fault(Fault("slow", count=3, delay=0.6), bot),
    "bot malformed": _with_fault(Fault("malformed", count=3), bot),
    "bot unknown channel": lambda sandbox: bot(sandbox, channel="#nowhere"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_no_secret_in_errors_or_logs(case: str, sandbox: SlackSandbox,
                                     caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    notifier = CASES[case](sandbox)
    with structlog.testing.capture_logs() as struct_logs, \
            pytest.raises(ConnectorError) as caught:
        notifier.send(make_alert())
    shown = "\n".join([
        str(caught.value), repr(caught.value),
        "".join(traceback.format_exception(caught.value)),
        caplog.text, repr(struct_logs), repr(notifier), repr(notifier._settings),
        str(notifier._settings),
    ])
    assert WEBHOOK_SECRET not in shown
    assert "SECRETbotTOKEN" not in shown
    assert "SECRET" not in shown  # nor the team/bot ids of the webhook path
    notifier.close()


def test_the_urllib3_request_line_is_masked(sandbox: SlackSandbox,
                                            caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    webhook(sandbox).send(make_alert())
    assert "/services/***" in caplog.text  # the line is there, its secret is not
    assert WEBHOOK_SECRET not in caplog.text


def test_settings_errors_do_not_echo_the_secret() -> None:
    for fields in (
        {"webhook_url": f"ftp://hooks.slack.com/services/T0/B0/{WEBHOOK_SECRET}"},
        {"webhook_url": f"https://hooks.slack.com/services/T0/B0/{WEBHOOK_SECRET}",
         "bot_token": TOKEN, "channel": "#a"},
        {"bot_token": TOKEN},
    ):
        with pytest.raises(ValidationError) as caught:
            SlackSettings(kind="slack", **fields)
        # What the config loader shows: the message and location (daemon/yamlsafe.py).
        text = str(caught.value) + repr(caught.value.errors(include_input=False))
        assert WEBHOOK_SECRET not in text and "SECRETbotTOKEN" not in text
