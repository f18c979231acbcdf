"""rules.feedback.read_marks and the engine's `muted`: pure, table-like cases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from rules.engine import ConversationState, ScoredMessage, TicketView, evaluate
from rules.feedback import (
    TICKET,
    FeedbackReading,
    FeedbackState,
    FeedbackTags,
    muted_rules,
    read_marks,
)
from rules.lifecycle import RuleHistory
from rules.model import RuleSet

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
RULES = RuleSet.model_validate({"rules": [
    {"name": "declining", "when": {"last_score_below": -0.5},
     "actions": {"add_tags": ["sentiment-declining"]}},
    {"name": "very-negative", "when": {"last_score_below": -0.7},
     "inhibited_by": ["declining"], "actions": {"add_tags": ["sentiment-very-negative"]}},
]})
FIRED = {"declining": RuleHistory(rule="declining", state="firing", first_fired_at=NOW,
                                  last_fired_at=NOW, fire_count=1, last_message_id="m1")}


def read(tags: set[str], states: dict[str, FeedbackState] | None = None,
         history: dict[str, RuleHistory] | None = None,
         latest: str | None = None) -> FeedbackReading:
    return read_marks(tags=frozenset(tags), rules=RULES, history=history or FIRED,
                      states=states or {}, marks=FeedbackTags(), latest_message_id=latest,
                      now=NOW)


def test_removal_before_the_tag_was_seen_is_not_a_false_alarm() -> None:
    first = read(set())  # a snapshot read before our tag was delivered
    assert first.marks == ()
    seen = read({"sentiment-declining"}, dict(first.states))
    assert seen.marks == () and seen.states["declining"].tag_seen
    removed = read(set(), {**first.states, **seen.states}, latest="m2")
    [mark] = removed.marks
    assert (mark.rule, mark.kind, mark.via, mark.fire_count) == ("declining", "false_alarm",
                                                                 "untag", 1)
    assert removed.history["declining"].state == "resolved"
    assert removed.states["declining"].muted_message_id == "m2"


def test_the_false_alarm_tag_counts_when_it_appears_not_while_it_stays() -> None:
    marked = read({"sentiment-false-alarm"})
    assert [(m.rule, m.via) for m in marked.marks] == [("declining", "tag")]
    assert marked.states[TICKET].flag_present
    # The rule fires again later; the tag is still there: not a new mark.
    again = {"declining": RuleHistory(rule="declining", state="firing", first_fired_at=NOW,
                                      last_fired_at=NOW + timedelta(hours=1), fire_count=2,
                                      last_message_id="m5")}
    later = read({"sentiment-false-alarm", "sentiment-declining"}, dict(marked.states),
                 history=again)
    assert later.marks == ()


def test_a_resolved_episode_is_not_a_false_alarm() -> None:
    resolved = {"declining": RuleHistory(rule="declining", state="resolved", fire_count=1,
                                         last_fired_at=NOW, resolved_at=NOW)}
    seen = FeedbackState(fire_count=1, tag_seen=True)
    assert read(set(), {"declining": seen}, history=resolved).marks == ()  # our on_resolve


def test_missed_once_for_the_rules_that_did_not_fire() -> None:
    first = read({"sentiment-missed"})
    assert [(m.rule, m.kind) for m in first.marks] == [("very-negative", "missed")]
    assert read({"sentiment-missed"}, dict(first.states)).marks == ()


def test_a_muted_rule_is_held_and_keeps_inhibiting() -> None:
    state = ConversationState(
        ticket=TicketView(source="s", ticket_id="t"),
        customer_messages=(ScoredMessage("m2", NOW, -0.9),))
    quiet = evaluate(state, RULES, {}, NOW, muted=frozenset({"declining"}))
    assert quiet.decisions == ()
    loud = evaluate(state, RULES, {}, NOW)
    assert [d.rule for d in loud.decisions] == ["declining"]
    states = {"declining": FeedbackState(fire_count=1, muted_message_id="m2")}
    assert muted_rules(states, "m2") == {"declining"}
    assert muted_rules(states, "m3") == frozenset()  # the customer wrote again
