"""An alert an agent can act on, as Slack receives it: the latest message quoted safely,
priority and owner, earlier escalations, reasons in plain words, the false-alarm hint.
Rendered and posted over real HTTP to the sandbox Slack, which checks Block Kit's limits."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from connectors.sandbox.slack import SlackSandbox, block_kit_problem, format_for_console
from connectors.slack_render import render_alert
from tests.ops.slack_support import FakeClock, api_notifier, make_alert, texts

ACTIONABLE = dict(
    excerpt="Third time I ask. I want my money back or I cancel.",
    priority="normal", new_priority="urgent", assignee="Sam Agent", group="Billing",
    earlier_on_ticket=1, earlier_for_customer=2,
    why=("The last messages are much angrier than the first ones: their average is -0.71, "
         "0.62 lower than at the start (alert below -0.50).",),
    false_alarm_tag="sentiment-false-alarm", escalation_tags=("sentiment-declining",),
)


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


def _posted(sandbox: SlackSandbox, clock: FakeClock, **changes: object) -> tuple[str, str]:
    """Post the alert through the notifier; (every text Slack stored, mrkdwn texts only)."""
    notifier = api_notifier(sandbox, clock)
    notifier.send(make_alert(**{**ACTIONABLE, **changes}))
    notifier.close()
    (message,) = sandbox.messages
    return "\n".join(texts(message.blocks)), "\n".join(texts(message.blocks, kind="mrkdwn"))


def test_agent_sees_what_to_do_without_internal_names(sandbox: SlackSandbox,
                                                      clock: FakeClock) -> None:
    every, _mrkdwn = _posted(sandbox, clock)
    assert "Latest message: “Third time I ask. I want my money back or I cancel.”" in every
    assert "Priority: normal → urgent" in every
    assert "Assigned to: Sam Agent · group Billing" in every
    assert "Escalated before: once on this ticket, 2 times on this customer's other tickets" \
        in every
    assert "• The last messages are much angrier than the first ones" in every
    assert ("Not a real problem? Add the tag `sentiment-false-alarm` to the ticket or "
            "remove `sentiment-declining`.") in every
    # Internal names are gone: no reason code, no "method article", no raw number dump.
    assert "sentiment_declining" not in every and "method" not in every
    assert "direction -0.62" not in every
    message = sandbox.messages[0]
    # The demo's console echo shows the hint too (it is what `make run` users see).
    assert "Not a real problem? Add the tag sentiment-false-alarm" in format_for_console(message)
    assert message.text.startswith("Escalation: sentiment-declining on #1042")
    assert message.text.endswith(": The last messages are much angrier than the first ones: "
                                 "their average is -0.71, 0.62 lower than at the start (alert "
                                 "below -0.50).")


def test_a_signal_alert_shows_no_trend(sandbox: SlackSandbox, clock: FakeClock) -> None:
    every, _ = _posted(sandbox, clock, rule="churn-or-legal-threat", reason="signal_churn_risk",
                       why=("The customer talks about cancelling or leaving.",),
                       show_scores=False,
                       numbers={"signals": ["churn_risk"], "trend": "stable",
                                "direction": 0.0, "current_avg": -0.2})
    assert "• The customer talks about cancelling or leaving." in every
    assert "Scores" not in every and "▁" not in every and "avg" not in every
    assert "-0.20" not in every and "direction" not in every


def test_first_escalation_and_unknown_owner(sandbox: SlackSandbox, clock: FakeClock) -> None:
    every, _ = _posted(sandbox, clock, earlier_on_ticket=0, earlier_for_customer=0,
                       assignee=None, group=None, new_priority=None)
    assert "Escalated before: never" in every
    assert "Assigned to" not in every
    assert "Priority: normal\n" in every and "Priority: normal →" not in every


def test_hostile_excerpt_is_shown_as_text_and_cannot_mention_or_link(
        sandbox: SlackSandbox, clock: FakeClock) -> None:
    hostile = ("<!channel> <@U0123> *bold* <https://evil.example|click here> & more "
               "\u202eesrever\u202c \x1b[2J" + " pad" * 200)
    every, mrkdwn = _posted(sandbox, clock, excerpt=hostile, assignee="<!here> Mallory",
                            why=("ok <b>&amp;</b>",))
    # Customer and helpdesk text sits in plain_text objects only: shown, never interpreted.
    assert "Latest message: “<!channel> <@U0123> *bold* <https://evil.example|click here> " \
        "& more esrever [2J" in every
    assert "Assigned to: <!here> Mallory" in every
    for text in mrkdwn.splitlines():
        assert "<!channel>" not in text and "<!here>" not in text and "evil.example" not in text
    # Text that must sit in mrkdwn is escaped: no tag, no entity that decodes to one.
    assert "• ok &lt;b&gt;&amp;amp;&lt;/b&gt;" in mrkdwn
    message = sandbox.messages[0]
    assert "\u202e" not in str(message.blocks) and "\x1b" not in str(message.blocks)
    quoted = next(t for t in texts(message.blocks) if t.startswith("Latest message"))
    assert len(quoted) <= len("Latest message: “”") + 300
    printed = format_for_console(message, colour=False)
    assert "\x1b" not in printed and "Latest message" in printed


def test_oversized_actionable_alert_stays_within_limits() -> None:
    payload = render_alert(make_alert(**{
        **ACTIONABLE, "excerpt": "x" * 50_000, "assignee": "a" * 5000, "group": "g" * 5000,
        "why": tuple("because " * 300 for _ in range(40)), "priority": "p" * 400,
        "escalation_tags": tuple("t" * 300 for _ in range(30)),
        "false_alarm_tag": "f" * 5000}))
    assert block_kit_problem(payload) is None


def test_recovered_alert_has_no_false_alarm_hint_or_history() -> None:
    payload = render_alert(make_alert(**{**ACTIONABLE, "kind": "resolve", "why": (
        "The customer's recent messages are no longer a concern (their average is now "
        "+0.20).",)}))
    every = "\n".join(texts(payload["blocks"]))
    assert "• The customer's recent messages are no longer a concern" in every
    assert "Not a real problem" not in every and "Escalated before" not in every
    assert "Latest message" not in every
