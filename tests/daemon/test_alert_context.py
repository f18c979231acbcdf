"""Alerts an agent can act on: the queued payload carries the latest customer words
(redacted, cleaned, capped), priority, owner, earlier escalations, plain-words reasons and
the false-alarm hint; on both databases, through the real pipeline."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from connectors.base import Alert, Message, TicketSnapshot
from daemon.alerting import excerpt, excerpt_redactor, ticket_people
from daemon.pipeline import Pipeline
from daemon.scoring.base import Score, label_for
from daemon.store import Store
from rules.explain import explain, score_based
from rules.model import RuleSet
from tests.daemon.helpers import ARTICLE_RULES, T0, ScriptedScorer, message

CHURN_RULES = RuleSet.model_validate({"rules": [
    {"name": "churn-or-legal-threat", "when": {"signals_any": ["churn_risk", "legal_threat"]},
     "actions": {"add_tags": ["sentiment-churn-risk"], "priority": "high",
                 "notify": ["escalations"]}},
]})


@dataclass(frozen=True, slots=True)
class OwnedTicket(TicketSnapshot):
    """A snapshot from a connector that reports who owns the ticket."""

    assignee: str | None = None
    group: str | None = None


class SignalScorer(ScriptedScorer):
    """`score=<float> signal=<name> ...`: the scripted scorer plus one signal."""

    def score(self, texts: Sequence[str]) -> list[Score]:
        out = []
        for text, base in zip(texts, super().score(texts), strict=True):
            signals = frozenset(word.split("=", 1)[1] for word in text.split()
                                if word.startswith("signal="))
            out.append(Score(score=base.score, label=label_for(base.score), confidence=0.9,
                             signals=signals, scorer=self.name, model=self.model))
        return out


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _pipeline(url: str, rules: RuleSet = ARTICLE_RULES, scorer: Any = None,
              clock: Clock | None = None) -> tuple[Store, Pipeline]:
    store = Store(url)
    store.create_schema()
    store.sources.ensure(["zd"])
    pipeline = Pipeline(store, scorer or ScriptedScorer(), lambda: rules,
                        clock=clock or Clock(T0 + timedelta(hours=1)))
    return store, pipeline


def _alerts(store: Store) -> list[Alert]:
    return [Alert.from_json(r["payload"]) for r in store.outbox.rows()
            if r["kind"] == "alert"]


def _declining(ticket: str, last_body: str, minutes: int = 0) -> list[Message]:
    return [
        message(f"{ticket}-1", ticket, "score=0.3 thanks", minutes=minutes),
        message(f"{ticket}-2", ticket, "score=-0.6 still broken", minutes=minutes + 10),
        message(f"{ticket}-3", ticket, "score=-0.65 third time", minutes=minutes + 20),
        message(f"{ticket}-4", ticket, last_body, minutes=minutes + 30),
    ]


def test_alert_quotes_the_latest_message_redacted_and_capped(db_url: str) -> None:
    store, pipeline = _pipeline(db_url)
    last = ("score=-0.68 Write to dana.w@example.com or +44 20 7946 0958, card "
            "4111 1111 1111 1111.\u202e\x07 " + "Nothing works. " * 40)
    pipeline.process("zd", _declining("7", last), "c1")
    (alert,) = _alerts(store)
    assert alert.excerpt.startswith("score=-0.68 Write to [EMAIL] or [PHONE], card [CARD].")
    assert "example.com" not in alert.excerpt and "4111" not in alert.excerpt
    assert "\u202e" not in alert.excerpt and "\x07" not in alert.excerpt
    assert len(alert.excerpt) <= 300 and alert.excerpt.endswith("…")
    # What the rule did to the ticket, and who it is: the priority it found and the new one.
    assert (alert.priority, alert.new_priority) == ("normal", "urgent")
    assert (alert.earlier_on_ticket, alert.earlier_for_customer) == (0, 0)
    assert alert.why == ("The last messages are much angrier than the first ones: their "
                         "average is -0.64, 0.33 lower than at the start (alert below -0.50).",)
    assert alert.show_scores is True
    assert alert.false_alarm_tag == "sentiment-false-alarm"
    assert alert.escalation_tags == ("sentiment-declining",)
    store.close()


def test_earlier_escalations_of_the_ticket_and_the_customer(db_url: str) -> None:
    clock = Clock(T0 + timedelta(hours=1))
    store, pipeline = _pipeline(db_url, clock=clock)
    pipeline.process("zd", _declining("7", "score=-0.68 cancel"), "c1")
    # A second ticket from the same requester ("Dana Customer"), escalated later.
    pipeline.process("zd", _declining("8", "score=-0.7 again", minutes=40), "c2")
    # The first ticket again, past repeat_after (24h): its second escalation.
    clock.now += timedelta(hours=25)
    # The helpdesk shows the priority the first escalation set by now.
    pipeline.process("zd", [message("7-5", "7", "score=-0.69 still", minutes=60 * 25,
                                    priority="urgent")], "c3")
    rows = sorted(store.outbox.rows(), key=lambda r: r["id"])
    first, second, third = [Alert.from_json(r["payload"]) for r in rows if r["kind"] == "alert"]
    assert (first.earlier_on_ticket, first.earlier_for_customer) == (0, 0)
    assert (second.ticket_id, second.earlier_on_ticket, second.earlier_for_customer) == ("8", 0, 1)
    assert (third.earlier_on_ticket, third.earlier_for_customer) == (1, 1)
    # The repeat found the ticket already urgent: nothing to raise.
    assert (third.priority, third.new_priority) == ("urgent", None)
    store.close()


def test_backfill_escalations_are_not_counted(sqlite_url: str) -> None:
    store, pipeline = _pipeline(sqlite_url)
    # A backfill without --alerts stores and scores the history but evaluates no rule
    # (daemon.backfill): it leaves no escalation for a later alert to count.
    pipeline.process("zd", _declining("7", "score=-0.68 old"), None, evaluate_rules=False)
    pipeline.process("zd", _declining("8", "score=-0.7 new", minutes=40), "c1")
    (alert,) = _alerts(store)
    assert (alert.ticket_id, alert.earlier_for_customer) == ("8", 0)
    with store.reading() as conn:
        assert len(store.messages.customer_series(conn, "zd", ["7"])["7"]) == 4  # scored
    store.close()


def test_churn_alert_explains_the_signal_without_trend_numbers(db_url: str) -> None:
    store, pipeline = _pipeline(db_url, rules=CHURN_RULES, scorer=SignalScorer())
    owned = OwnedTicket(ticket_id="9", subject="Renewal", url="https://example.test/t/9",
                        status="open", priority="low", requester="Lee",
                        assignee="Sam Agent", group="Billing")
    pipeline.process("zd", [Message(
        message_id="9-1", ticket_id="9", author_role="customer", public=True,
        created_at=T0, body="score=-0.2 signal=churn_risk we will cancel", ticket=owned)], "c1")
    (alert,) = _alerts(store)
    assert alert.why == ("The customer talks about cancelling or leaving.",)
    assert alert.show_scores is False
    assert (alert.assignee, alert.group) == ("Sam Agent", "Billing")
    assert (alert.priority, alert.new_priority) == ("low", "high")
    store.close()


def test_excerpt_cuts_at_a_word_and_keeps_short_text() -> None:
    redactor = excerpt_redactor()
    assert excerpt("  Hello\n\n there  ", redactor) == "Hello there"
    assert excerpt(None, redactor) == ""
    long = excerpt("word " * 100, redactor, limit=50)
    assert long == " ".join(["word"] * 9) + "…"  # cut at the last space, never mid-word
    # A card number at the cut is redacted before the cut, never shown in part.
    cut = excerpt("x" * 40 + " 4111 1111 1111 1111 tail", redactor, limit=50)
    assert "4111" not in cut and "[CARD]" in cut


def test_ticket_people_reads_what_a_snapshot_has() -> None:
    assert ticket_people(TicketSnapshot(ticket_id="1")) == {}
    assert ticket_people(OwnedTicket(ticket_id="1", assignee="A", group=None)) == {"assignee": "A"}


def test_plain_words_per_condition() -> None:
    assert explain("fire", {"last_score": -0.84, "last_score_below": -0.7, "current_avg": -0.3,
                            "trend": "stable", "direction": 0.0}) == (
        "The latest message is very negative: -0.84 (alert below -0.70).",)
    assert explain("fire", {"consecutive_negative": 3, "consecutive_below": -0.3}) == (
        "The last 3 messages in a row were negative (each below -0.30).",)
    assert explain("fire", {"signals": ["legal_threat", "made_up"]}) == (
        "The customer mentions legal steps.", "The scorer flagged: made up.")
    assert explain("resolve", {"current_avg": 0.2}) == (
        "The customer's recent messages are no longer a concern (their average is now +0.20).",)
    assert score_based({"signals": ["churn_risk"], "trend": "stable"}) is False
    assert score_based({"last_score_below": -0.7}) is True
