"""Shared helpers of the Slack tests: a fake clock, alerts, notifiers on a sandbox."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from connectors.base import Alert
from connectors.sandbox.slack import DEFAULT_CHANNEL, DEFAULT_TOKEN, SlackSandbox
from connectors.slack import SlackNotifier, SlackSettings


@dataclass
class FakeClock:
    """One time line shared by the notifier (pacing, Retry-After) and the sandbox (its
    per-channel bucket): sleeping moves it, so nothing in these tests waits for real."""

    now: float = 1_000_000.0
    sleeps: list[float] = field(default_factory=list)

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def make_alert(**changes: Any) -> Alert:
    base: dict[str, Any] = dict(
        source="zendesk-main", ticket_id="1042",
        ticket_url="https://acme.zendesk.com/agent/tickets/1042",
        subject="Refund still not processed", customer="Dana Whitfield",
        rule="sentiment-declining", kind="fire", reason="sentiment_declining",
        numbers={"direction": -0.62, "current_avg": -0.71, "last_score": -0.84},
        indicators=("third time I ask", "cancel my account"),
        scores=(0.3, 0.1, -0.2, -0.6, -0.8, -0.84))
    base.update(changes)
    return Alert(**base)


def webhook_notifier(sandbox: SlackSandbox, clock: FakeClock, **settings: Any) -> SlackNotifier:
    config = SlackSettings(kind="slack", webhook_url=sandbox.webhook_url(), **settings)
    return SlackNotifier("escalations", config, clock=clock, wall_clock=clock,
                         sleep=clock.sleep)


def api_notifier(sandbox: SlackSandbox, clock: FakeClock, *, token: str = DEFAULT_TOKEN,
                 channel: str = DEFAULT_CHANNEL, **settings: Any) -> SlackNotifier:
    config = SlackSettings(kind="slack", bot_token=token, channel=channel,
                           base_url=sandbox.api_url, **settings)
    return SlackNotifier("escalations", config, clock=clock, wall_clock=clock,
                         sleep=clock.sleep)


def texts(blocks: Sequence[dict[str, Any]], kind: str | None = None) -> list[str]:
    """Every text object's text in `blocks`, optionally only of one type."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if (node.get("type") in ("plain_text", "mrkdwn")
                    and isinstance(node.get("text"), str)
                    and (kind is None or node["type"] == kind)):
                found.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(list(blocks))
    return found
