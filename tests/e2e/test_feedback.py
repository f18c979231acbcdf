"""Agents mark false alarms and misses in the helpdesk; the daemon reads them while
polling, against each of the three helpdesk sandboxes.

Real connectors over real sockets, real SQLite, the real pipeline and outbox: an agent
removes our escalation tag, adds the false-alarm tag, or adds the missed tag, the way
they would in the helpdesk's UI (the sandbox's `agent_retag`).  The marks come from the
ticket snapshots the poll reads anyway: the pipeline has no connector, so reading them
cannot cost a request.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from structlog.testing import capture_logs

from daemon.metrics import Metrics
from daemon.outbox import OutboxDispatcher
from daemon.pipeline import BatchResult, Pipeline
from daemon.report import build_report, render_report
from daemon.scoring.base import Score
from daemon.store import T_MESSAGE, Store
from rules.model import RuleSet
from tests.connectors.harness import KINDS, Harness, load_harness, past
from tests.daemon.helpers import ScriptedScorer, message

RULE = "very-negative-message"
RULES = RuleSet.model_validate({"rules": [
    {"name": RULE, "when": {"last_score_below": -0.7},
     "actions": {"add_tags": ["sentiment-very-negative"], "note": "Very negative ({last_score})"},
     "repeat_after": "24h"},
]})
SOURCE = "desk"


@pytest.fixture(params=KINDS)
def harness(request: pytest.FixtureRequest) -> Iterator[Harness]:
    made = load_harness(request.param)
    yield made
    made.close()


class Desk:
    """The daemon's side: poll until caught up, process, deliver."""

    def __init__(self, harness: Harness, url: str) -> None:
        self.store = Store(url)
        self.store.create_schema()
        self.store.sources.ensure([SOURCE])
        self.connector = harness.connector()
        self.pipeline = Pipeline(self.store, ScriptedScorer(), lambda: RULES)
        self.outbox = OutboxDispatcher(self.store, {SOURCE: self.connector}, {}, "test")
        self.cursor: str | None = None
        self.start = past(120)

    def poll(self) -> BatchResult:
        total = BatchResult()
        for _ in range(20):  # bounded
            result = self.connector.poll(self.cursor, self.start)
            batch = self.pipeline.process(SOURCE, result.messages, result.next_cursor)
            self.cursor = result.next_cursor
            total.decisions += batch.decisions
            total.marks += batch.marks
            if result.caught_up:
                break
        self.outbox.deliver_due()
        return total

    def close(self) -> None:
        self.store.close()


def _fired(batch: BatchResult) -> list[str]:
    return sorted(ticket for ticket, d in batch.decisions if d.kind == "fire")


def _marks(batch: BatchResult) -> set[tuple[str, str, str, str]]:
    return {(ticket, m.rule, m.kind, m.via) for ticket, m in batch.marks}


def _now() -> datetime:
    """The start of the next whole second, once it has come.  Vendor times have
    one-second resolution and the harness's Zendesk serves the current second (no
    minute's delay), so each step writes in a second the previous poll did not read."""
    moment = datetime.now(UTC)
    time.sleep(1.0 - moment.microsecond / 1_000_000 + 0.01)
    return datetime.now(UTC).replace(microsecond=0)


def test_false_alarms_and_misses_end_to_end(harness: Harness, sqlite_url: str) -> None:
    desk = Desk(harness, sqlite_url)
    try:
        untagged = harness.add_ticket(subject="A", customer_name="Ann", customer_email="a@x.test",
                                      body="score=-0.9 My order arrived broken.", at=past(30))
        quiet = harness.add_ticket(subject="C", customer_name="Cy", customer_email="c@x.test",
                                   body="score=-0.2 A small question.", at=past(29))
        flagged = harness.add_ticket(subject="B", customer_name="Bo", customer_email="b@x.test",
                                     body="score=-0.9 Still broken.", at=past(28))
        first = desk.poll()
        assert _fired(first) == sorted([untagged, flagged])
        for ticket in (untagged, flagged):
            assert "sentiment-very-negative" in harness.ticket_state(ticket).tags

        # An agent answers: the poll sees our tag on the tickets (delivered).
        step = _now()
        harness.add_message(untagged, "agent", "Looking into it.", step)
        harness.add_message(flagged, "agent", "Looking into it.", step)
        assert desk.poll().marks == []

        # The agents' marks, each with something that makes the ticket show up in a poll.
        step = _now()
        harness.agent_retag(untagged, remove=["sentiment-very-negative"])
        harness.add_message(untagged, "agent", "Not an issue, closing.", step)
        harness.agent_retag(flagged, add=["sentiment-false-alarm"])
        harness.add_message(flagged, "customer", "score=-0.95 It is still broken.", step)
        harness.agent_retag(quiet, add=["sentiment-missed"])
        harness.add_message(quiet, "agent", "Escalating by hand.", step)
        marked = desk.poll()
        assert _marks(marked) == {(untagged, RULE, "false_alarm", "untag"),
                                  (flagged, RULE, "false_alarm", "tag"),
                                  (quiet, RULE, "missed", "tag")}
        # Muted: the customer's message that came with the mark does not re-escalate.
        assert _fired(marked) == []
        assert "sentiment-very-negative" not in harness.ticket_state(untagged).tags

        # Seeing the same tags again records nothing twice.
        step = _now()
        harness.add_message(quiet, "agent", "Still on it.", step)
        harness.add_message(untagged, "agent", "Closed.", step)
        assert desk.poll().marks == []

        # The customer writes again: the rule may fire again, and the false-alarm tag
        # left on the ticket does not mark the new firing.
        harness.add_message(flagged, "customer", "score=-0.9 Nobody fixed it.", _now())
        again = desk.poll()
        assert _fired(again) == [flagged]
        harness.add_message(flagged, "agent", "Sorry, on it now.", _now())
        assert desk.poll().marks == []

        report = build_report(desk.store, days=7, now=datetime.now(UTC))
        assert report["rules"] == {RULE: {"fired": 3, "false_alarms": 2, "missed": 1,
                                          "precision": 0.333}}
        text = render_report(report)
        assert "Escalation quality" in text and RULE in text and "0.33" in text
    finally:
        desk.close()


def test_marks_and_disagreements_on_postgresql(pg_url: str) -> None:
    """The same feedback path and the report's counts on PostgreSQL (JSON signals)."""
    harness = load_harness("zendesk")
    desk = Desk(harness, pg_url)
    try:
        ticket = harness.add_ticket(subject="A", customer_name="Ann",
                                    customer_email="a@x.test", body="score=-0.9 Broken.",
                                    at=past(30))
        assert _fired(desk.poll()) == [ticket]
        harness.add_message(ticket, "agent", "Looking into it.", _now())
        desk.poll()
        step = _now()
        harness.agent_retag(ticket, add=["sentiment-false-alarm"])
        harness.add_message(ticket, "agent", "False alarm.", step)
        assert _marks(desk.poll()) == {(ticket, RULE, "false_alarm", "tag")}
        with desk.store.transaction() as conn:
            conn.execute(T_MESSAGE.update().values(signals=["scorer_disagreement"]))
        report = build_report(desk.store, days=7, now=datetime.now(UTC))
        assert report["rules"][RULE] == {"fired": 1, "false_alarms": 1, "missed": 0,
                                         "precision": 0.0}
        assert report["scorer_disagreements"] == 1
    finally:
        desk.close()
        harness.close()


class DisagreeingScorer(ScriptedScorer):
    """The scripted scorer, with every verdict marked as overruled by the evidence."""

    def score(self, texts: Sequence[str]) -> list[Score]:
        return [replace(s, signals=frozenset({"scorer_disagreement"}))
                for s in super().score(texts)]


def test_pipeline_counts_and_logs_disagreements(sqlite_url: str) -> None:
    store = Store(sqlite_url)
    store.create_schema()
    pipeline = Pipeline(store, DisagreeingScorer(), lambda: RULES)
    with capture_logs() as logs:
        batch = pipeline.process("zd", [message("m1", "t1", "score=-0.2 hello")], "c1")
    store.close()
    assert batch.disagreements == 1
    (event,) = [e for e in logs if e["event"] == "scorer_disagreement"]
    assert event["ticket_id"] == "t1" and event["message_id"] == "m1"
    assert "hello" not in str(event)  # ids and numbers, never the customer's text


def test_metrics_count_marks_and_disagreements() -> None:
    metrics = Metrics(process_collectors=False)
    metrics.declare(rules=[RULE])
    metrics.feedback_mark(RULE, "false_alarm")
    metrics.feedback_mark(RULE, "missed")
    metrics.feedback_mark(RULE, "missed")
    metrics.scorer_disagreements(3)
    text = metrics.render().decode()

    def value(line_start: str) -> float:
        lines: list[Any] = [line for line in text.splitlines() if line.startswith(line_start)]
        assert len(lines) == 1, line_start
        return float(lines[0].rsplit(" ", 1)[1])

    assert value(f'sentinel_rule_feedback_total{{kind="false_alarm",rule="{RULE}"}}') == 1
    assert value(f'sentinel_rule_feedback_total{{kind="missed",rule="{RULE}"}}') == 2
    assert value("sentinel_scorer_disagreements_total ") == 3
