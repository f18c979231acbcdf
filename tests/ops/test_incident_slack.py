"""An incident reaches the Slack sandbox once, grows in its thread, resolves there.

Real parts: the pipeline on SQLite, the outbox dispatcher, the Slack notifier over HTTP
to the Slack sandbox (which checks Block Kit limits), the offline scorer and topics.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr

from connectors.base import Alert
from connectors.sandbox.slack import DEFAULT_TOKEN, SlackSandbox, block_kit_problem
from connectors.slack import SlackNotifier, SlackSettings
from connectors.slack_render import render_alert
from daemon.incidents import IncidentTracker
from daemon.outbox import OutboxDispatcher
from daemon.pipeline import Pipeline
from daemon.scoring.local import LocalScorer
from daemon.store import Store
from rules.incidents import IncidentSettings
from rules.model import RuleSet
from tests.daemon.helpers import T0, message

OUTAGE = [
    "I can't log in since this morning, the login page just spins. Awful.",
    "Your login is broken!!! Nobody on my team can sign in. Terrible.",
    "Login fails with an error every single time, I am furious.",
    "Still cannot log in. The login screen says invalid session. Unacceptable.",
    "Login completely broken for us, this is a disaster.",
    "Is login down? I have tried five times, horrible experience.",
    "The login page is dead again <!channel> <https://evil.example|click>, worst ever.",
]


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def slack() -> Iterator[SlackSandbox]:
    server = SlackSandbox(tokens=(DEFAULT_TOKEN,), channels=("#escalations",))
    server.start()
    yield server
    server.stop()


def test_incident_alert_once_then_updates_and_resolve_in_its_thread(
        tmp_path: Path, slack: SlackSandbox) -> None:
    clock = Clock()
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    store.create_schema()
    store.sources.ensure(["zd"])
    settings = IncidentSettings(enabled=True, min_tickets=5, notify=("escalations",),
                                update_every=timedelta(minutes=5))
    pipeline = Pipeline(store, LocalScorer(), lambda: RuleSet(), clock=clock,
                        incidents=IncidentTracker(store, lambda: settings))
    notifier = SlackNotifier("escalations", SlackSettings(
        kind="slack", bot_token=SecretStr(DEFAULT_TOKEN), channel="#escalations",
        base_url=slack.api_url, min_interval=0))
    outbox = OutboxDispatcher(store, {}, {"escalations": notifier}, "test", clock=clock)
    try:
        for minute, text in enumerate(OUTAGE[:5]):
            clock.now = T0 + timedelta(minutes=minute)
            pipeline.process("zd", [message(f"m{minute}", f"t{minute}", text,
                                            minutes=minute)], f"c{minute}")
        outbox.deliver_due()
        (opened,) = slack.messages_in("#escalations")
        assert opened.thread_ts is None
        assert "Incident: login" in opened.text
        # Each customer's own sentence is quoted (as plain text), not just the word.
        assert "I can't log in since this morning, the login page just spins." in \
            str(opened.blocks)
        for minute in (5, 6):
            clock.now = T0 + timedelta(minutes=minute)
            pipeline.process("zd", [message(f"m{minute}", f"t{minute}", OUTAGE[minute],
                                            minutes=minute)], f"c{minute}")
        outbox.deliver_due()
        assert len(slack.messages_in("#escalations")) == 1  # rate-limited: no update yet
        clock.now = T0 + timedelta(minutes=10)
        pipeline.incident_timers()
        pipeline.incident_timers()  # a second sweep adds nothing
        outbox.deliver_due()
        clock.now = T0 + timedelta(minutes=40)
        pipeline.incident_timers()
        outbox.deliver_due()
        outbox.deliver_due()
        messages = slack.messages_in("#escalations")
        assert len(messages) == 3
        update, resolved = messages[1:]
        assert update.thread_ts == opened.ts and resolved.thread_ts == opened.ts
        assert "2 more customers; 7 in all" in str(update.blocks)
        assert "Incident resolved: login" in resolved.text
        # Customer text stays text: no mention, no link smuggled into mrkdwn.
        for posted in messages:
            assert "<!channel>" not in str(posted.blocks)
            assert "<https://evil.example" not in str(posted.blocks)
    finally:
        notifier.close()
        store.close()


def test_incident_message_links_every_member_within_block_kit_limits() -> None:
    members = [{"source": "zd", "ticket_id": str(n), "url": f"https://x.example/t/{n}",
                "subject": "Can't log in <!here> " * 10} for n in range(1000)]
    alert = Alert(source="incident", ticket_id="abc", ticket_url="", subject="login",
                  customer=None, rule="incident", kind="fire", reason="incident_opened",
                  numbers={"customers": 1000, "window_minutes": 30},
                  indicators=("can't log in", "login broken"), members=members)
    payload = render_alert(alert)
    assert block_kit_problem(payload) is None
    text = str(payload["blocks"])
    shown = sum(f"https://x.example/t/{n}|#{n}>" in text for n in range(1000))
    assert shown >= 300  # every member as far as Slack's limits allow...
    assert f"and {1000 - shown} more tickets" in text  # ...and the rest counted
    assert all(f"https://x.example/t/{n}|#{n}>" in text for n in range(shown))
    small = render_alert(Alert.from_json({**alert.to_json(), "members": members[:6]}))
    assert block_kit_problem(small) is None
    assert all(f"t/{n}|#{n}>" in str(small["blocks"]) for n in range(6))
    assert "Can't log in" in str(small["blocks"])  # subjects shown for a few members
    assert "<!here>" not in text and "<!here>" not in str(small["blocks"])
