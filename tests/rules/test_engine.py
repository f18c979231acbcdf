"""evaluate(): the article's defaults, every condition, actions, inhibition and lifecycle."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from rules.engine import (
    ConversationState,
    DecisionActions,
    Evaluation,
    RuleHistory,
    TicketView,
    apply_actions,
    evaluate,
    next_due_at,
)
from rules.model import RuleSet
from tests.rules.support import ARTICLE_RULES, T0, conversation, ruleset

ARTICLE = ruleset(ARTICLE_RULES)


def fired(evaluation: Evaluation) -> list[str]:
    return [d.rule for d in evaluation.decisions if d.kind == "fire"]


def one_rule(when: dict[str, Any], **extra: Any) -> RuleSet:
    return ruleset([{"name": "r", "when": when, "actions": {"add_tags": ["t"]}, **extra}])


# --- the article's semantics --------------------------------------------------------

def test_decline_and_very_negative_together_escalate_once_for_the_decline() -> None:
    state = conversation([0.5, 0.3, 0.1, -0.6, -0.7, -0.9])
    evaluation = evaluate(state, ARTICLE, {}, T0)
    assert fired(evaluation) == ["sentiment-declining"]
    decision = evaluation.decisions[0]
    assert decision.reason == "sentiment_declining"
    assert decision.numbers["trend"] == "declining"
    assert decision.numbers["current_avg"] == -0.73
    assert decision.actions.priority == "urgent"
    # the inhibited rule keeps no history: it may fire later, once the tag is gone
    assert set(evaluation.history) == {"sentiment-declining"}


def test_very_negative_alone() -> None:
    evaluation = evaluate(conversation([0.2, -0.85]), ARTICLE, {}, T0)
    assert fired(evaluation) == ["very-negative-message"]
    assert evaluation.decisions[0].reason == "very_negative_message"
    assert evaluation.decisions[0].numbers["last_score"] == -0.85


@pytest.mark.parametrize(("last", "fires"), [(-0.512, False), (-0.518, True)])
def test_rounded_current_avg_is_compared(last: float, fires: bool) -> None:
    # recent means -0.504 (-> -0.5, not below -0.5) and -0.506 (-> -0.51)
    state = conversation([0.3, 0.3, 0.3, -0.5, -0.5, last])
    assert fired(evaluate(state, ARTICLE, {}, T0)) == (["sentiment-declining"] if fires else [])


@pytest.mark.parametrize(("last", "fires"), [(-0.7, False), (-0.7000001, True)])
def test_last_score_inequality_is_strict(last: float, fires: bool) -> None:
    assert fired(evaluate(conversation([last]), ARTICLE, {}, T0)) == \
        (["very-negative-message"] if fires else [])


def test_no_customer_messages_fires_nothing() -> None:
    assert evaluate(conversation([]), one_rule({"priority_below": "urgent"}), {}, T0) \
        .decisions == ()


def test_fewer_than_two_scores_never_decline() -> None:
    rules = one_rule({"trend": "declining", "decline_threshold": 0.0})
    assert fired(evaluate(conversation([-1.0]), rules, {}, T0)) == []


# --- conditions ---------------------------------------------------------------------

@pytest.mark.parametrize(("when", "state", "holds"), [
    ({"current_avg_below": -0.5}, conversation([-0.6, -0.6]), True),
    ({"current_avg_below": -0.5}, conversation([-0.5, -0.5]), False),
    ({"min_customer_messages": 3, "last_score_below": 0}, conversation([-0.1, -0.1]), False),
    ({"min_customer_messages": 3, "last_score_below": 0}, conversation([-0.1] * 3), True),
    ({"consecutive_negative": {"count": 3, "below": -0.2}},
     conversation([0.5, -0.3, -0.3, -0.3]), True),
    ({"consecutive_negative": {"count": 3, "below": -0.2}},
     conversation([-0.3, -0.3, 0.1, -0.3]), False),
    ({"consecutive_negative": {"count": 3, "below": -0.2}}, conversation([-0.3, -0.3]), False),
    ({"consecutive_negative": {"count": 2, "below": -0.3}}, conversation([-0.3, -0.3]), False),
    ({"signals_any": ["legal_threat"]},
     conversation([0.0, 0.0], signals=[["legal_threat"], []]), True),
    ({"signals_any": ["legal_threat"], "signals_window": 1},
     conversation([0.0, 0.0], signals=[["legal_threat"], []]), False),
    ({"signals_any": ["legal_threat"]},
     conversation([0.0] * 4, signals=[["legal_threat"], [], [], []]), False),
    ({"sources": ["zendesk"], "last_score_below": 0}, conversation([-0.1]), True),
    ({"sources": ["freshdesk"], "last_score_below": 0}, conversation([-0.1]), False),
    ({"priority_below": "high"}, conversation([0.0], priority="normal"), True),
    ({"priority_below": "high"}, conversation([0.0], priority="high"), False),
    ({"priority_below": "low"}, conversation([0.0], priority=None), True),
    ({"has_tags": ["vip", "b2b"]}, conversation([0.0], tags=["vip", "b2b", "x"]), True),
    ({"has_tags": ["vip", "b2b"]}, conversation([0.0], tags=["vip"]), False),
    ({"lacks_tags": ["spam"]}, conversation([0.0], tags=["vip"]), True),
    ({"lacks_tags": ["spam"]}, conversation([0.0], tags=["spam"]), False),
    ({"status": "open"}, conversation([0.0], status="open"), True),
    ({"status": ["pending", "hold"]}, conversation([0.0], status="open"), False),
    ({"trend": "improving"}, conversation([-0.5, -0.5, -0.5, 0.5]), True),
    ({"trend": "declining", "method": "ewma"}, conversation([0.2, -0.8]), True),
    ({"trend": "declining"}, conversation([0.2, -0.8]), False),
    ({"expr": "'vip' in tags and min(scores[-2:]) < -0.5"},
     conversation([0.1, -0.6, -0.55], tags=["vip"]), True),
    ({"expr": "'vip' in tags and min(scores[-2:]) < -0.5"},
     conversation([0.1, -0.6, -0.55]), False),
    ({"expr": "priority_rank < 2 and 'churn_risk' in signals"},
     conversation([0.0], signals=[["churn_risk"]], priority="normal"), True),
])
def test_conditions(when: dict[str, Any], state: ConversationState, holds: bool) -> None:
    assert fired(evaluate(state, one_rule(when), {}, T0)) == (["r"] if holds else [])


def test_conditions_combine_with_and() -> None:
    rules = one_rule({"last_score_below": -0.5, "has_tags": ["vip"]})
    assert fired(evaluate(conversation([-0.9], tags=["vip"]), rules, {}, T0)) == ["r"]
    assert fired(evaluate(conversation([-0.9]), rules, {}, T0)) == []
    assert fired(evaluate(conversation([-0.1], tags=["vip"]), rules, {}, T0)) == []


def test_reasons_and_numbers_name_each_condition() -> None:
    rules = one_rule({"consecutive_negative": {"count": 2, "below": -0.2},
                      "signals_any": ["churn_risk", "urgent"], "min_customer_messages": 2})
    state = conversation([-0.3, -0.4], signals=[[], ["churn_risk"]])
    decision = evaluate(state, rules, {}, T0).decisions[0]
    assert decision.reason == "consecutive_negative"
    assert decision.numbers["consecutive_negative"] == 2
    assert decision.numbers["consecutive_below"] == -0.2
    assert decision.numbers["signals"] == ["churn_risk"]
    assert decision.numbers["min_customer_messages"] == 2
    only_signals = one_rule({"signals_any": ["churn_risk", "legal_threat"]})
    state = conversation([0.0], signals=[["legal_threat", "churn_risk"]])
    assert evaluate(state, only_signals, {}, T0).decisions[0].reason == \
        "signal_churn_risk_legal_threat"


def test_expr_failing_on_the_data_does_not_hold_and_warns_without_data() -> None:
    rules = one_rule({"expr": "1 / (messages - 2) < 0"})
    evaluation = evaluate(conversation([-0.2, -0.3]), rules, {}, T0)
    assert evaluation.decisions == ()
    assert evaluation.warnings == ("rule r: expr failed (ZeroDivisionError)",)


# --- actions ------------------------------------------------------------------------

@pytest.mark.parametrize(("current", "emitted"), [
    (None, "high"), ("low", "high"), ("normal", "high"), ("high", None), ("urgent", None),
])
def test_priority_is_emitted_only_when_it_raises(current: str | None,
                                                 emitted: str | None) -> None:
    rules = ruleset([{"name": "r", "when": {"last_score_below": 0},
                      "actions": {"priority": "high"}}])
    decision = evaluate(conversation([-0.5], priority=current), rules, {}, T0).decisions[0]
    assert decision.actions.priority == emitted


def test_later_rules_see_the_priority_raised_by_earlier_ones() -> None:
    rules = ruleset([
        {"name": "a", "when": {"last_score_below": 0}, "actions": {"priority": "urgent"}},
        {"name": "b", "when": {"last_score_below": 0}, "actions": {"priority": "high"}},
    ])
    decisions = evaluate(conversation([-0.5]), rules, {}, T0).decisions
    assert [(d.rule, d.actions.priority) for d in decisions] == [("a", "urgent"), ("b", None)]


def test_note_is_rendered_from_numbers_and_indicators() -> None:
    rules = ruleset([{"name": "r", "when": {"last_score_below": -0.7},
                      "actions": {"note": "{rule}: {reason} score {last_score:+.2f} over "
                                          "{messages} ({trend}, {direction:+.2f}) "
                                          "{indicators} #{ticket_id} {{literal}}"}}])
    state = conversation([0.1, -0.75], indicators=[["fine"], ["still broken", "third time"]])
    note = evaluate(state, rules, {}, T0).decisions[0].actions.note
    assert note == ('r: very_negative_message score -0.75 over 2 (stable, +0.00) '
                    '"fine", "still broken", "third time" #42 {literal}')


def test_customer_text_in_a_note_is_never_expanded() -> None:
    rules = ruleset([{"name": "r", "when": {"last_score_below": 0},
                      "actions": {"note": "{indicators} / {subject}"}}])
    state = conversation([-0.5], indicators=[["{ticket_id} {0} {__class__}"]])
    state = replace(state, ticket=replace(state.ticket, subject="{rule.__init__}"))
    note = evaluate(state, rules, {}, T0).decisions[0].actions.note
    assert note == '"{ticket_id} {0} {__class__}" / {rule.__init__}'


def test_indicators_come_from_the_last_three_messages_deduplicated() -> None:
    state = conversation([0.0, 0.0, 0.0, -0.9],
                         indicators=[["old"], ["a"], ["b", "a"], ["c"]])
    decision = evaluate(state, ARTICLE, {}, T0).decisions[0]
    assert decision.indicators == ("a", "b", "c")


def test_apply_actions_adds_removes_and_only_raises() -> None:
    ticket = TicketView(source="s", ticket_id="1", priority="high",
                        tags=frozenset({"vip", "old"}))
    after = apply_actions(ticket, DecisionActions(add_tags=("new",), remove_tags=("old",),
                                                  priority="normal"))
    assert (after.tags, after.priority) == (frozenset({"vip", "new"}), "high")
    assert apply_actions(ticket, DecisionActions(priority="urgent")).priority == "urgent"
    assert apply_actions(ticket, DecisionActions()) == ticket


# --- inhibition and lifecycle -------------------------------------------------------

def test_inhibited_while_the_inhibitors_tag_is_on_the_ticket() -> None:
    state = conversation([-0.9], tags=["sentiment-declining"])
    assert fired(evaluate(state, ARTICLE, {}, T0)) == []
    state = conversation([-0.9], tags=["something-else"])
    assert fired(evaluate(state, ARTICLE, {}, T0)) == ["very-negative-message"]


def test_inhibited_when_the_inhibitor_fires_even_without_tags() -> None:
    rules = ruleset([
        {"name": "a", "when": {"last_score_below": 0}, "actions": {"notify": ["x"]}},
        {"name": "b", "when": {"last_score_below": 0}, "inhibited_by": ["a"],
         "actions": {"notify": ["x"]}},
    ])
    evaluation = evaluate(conversation([-0.5]), rules, {}, T0)
    assert fired(evaluation) == ["a"]
    assert "b" not in evaluation.history


def test_inhibited_while_the_inhibitors_alert_is_current() -> None:
    # a fired, its tag is not (yet) on the ticket: b stays quiet within a's repeat_after
    rules = ruleset([
        {"name": "a", "when": {"last_score_below": -0.5}, "repeat_after": "1h",
         "actions": {"add_tags": ["a-tag"]}},
        {"name": "b", "when": {"last_score_below": 0}, "inhibited_by": ["a"]},
    ])
    first = evaluate(conversation([-0.6]), rules, {}, T0)
    assert fired(first) == ["a"]
    soon = evaluate(conversation([-0.6, -0.2]), rules, first.history, T0 + timedelta(minutes=59))
    assert fired(soon) == []
    later = evaluate(conversation([-0.6, -0.2, -0.3]), rules, soon.history,
                     T0 + timedelta(hours=1))
    assert fired(later) == ["b"]
    # ... unless the tag is on the ticket
    tagged = replace(conversation([-0.6, -0.2, -0.3], tags=["a-tag"]))
    assert fired(evaluate(tagged, rules, soon.history, T0 + timedelta(hours=1))) == []


def test_an_inhibitor_without_repeat_inhibits_while_its_episode_is_open() -> None:
    rules = ruleset([
        {"name": "a", "when": {"last_score_below": -0.5}, "resolve_after": "1h"},
        {"name": "b", "when": {"last_score_below": 0}, "inhibited_by": ["a"]},
    ])
    first = evaluate(conversation([-0.6]), rules, {}, T0)
    waiting = evaluate(conversation([-0.6, -0.2]), rules, first.history,
                       T0 + timedelta(hours=5))
    assert [d.kind for d in waiting.decisions] == []  # a pending resolve, b inhibited
    resolved = evaluate(conversation([-0.6, -0.2, -0.1]), rules, waiting.history,
                        T0 + timedelta(hours=6))
    assert [(d.rule, d.kind) for d in resolved.decisions] == [("a", "resolve"), ("b", "fire")]


def test_repeat_after_and_history() -> None:
    first = evaluate(conversation([-0.9]), ARTICLE, {}, T0)
    assert fired(first) == ["very-negative-message"]
    assert first.history["very-negative-message"].last_message_id == "m0"
    state = conversation([-0.9, -0.8])
    assert fired(evaluate(state, ARTICLE, first.history, T0 + timedelta(hours=23))) == []
    repeat = evaluate(state, ARTICLE, first.history, T0 + timedelta(hours=24))
    assert fired(repeat) == ["very-negative-message"]
    assert repeat.decisions[0].step == "repeat"
    assert repeat.history["very-negative-message"].fire_count == 2


def test_a_silent_ticket_is_not_re_alerted_by_re_evaluation() -> None:
    state = conversation([-0.9])
    first = evaluate(state, ARTICLE, {}, T0)
    for days in (1, 2, 30):
        assert evaluate(state, ARTICLE, first.history, T0 + timedelta(days=days)).decisions \
            == ()


def test_escalate_if_worse_by_fires_early_when_clearly_worse() -> None:
    rules = one_rule({"current_avg_below": -0.3}, repeat_after="24h", escalate_if_worse_by=0.3)
    first = evaluate(conversation([-0.4, -0.4]), rules, {}, T0)
    assert first.history["r"].last_severity == 0.4
    later = T0 + timedelta(hours=1)
    assert fired(evaluate(conversation([-0.4, -0.4, -0.6]), rules, first.history, later)) == []
    worse = evaluate(conversation([-0.4, -0.4, -0.9, -0.9]), rules, first.history, later)
    assert [(d.rule, d.step) for d in worse.decisions] == [("r", "worse")]


def test_resolve_runs_on_resolve_actions_after_resolve_after() -> None:
    rules = ruleset([{
        "name": "low", "when": {"current_avg_below": -0.5},
        "actions": {"add_tags": ["unhappy"], "priority": "high", "notify": ["slack"]},
        "resolve_after": "2h",
        "on_resolve": {"remove_tags": ["unhappy"], "note": "recovered to {current_avg}",
                       "notify": ["slack"]}}])
    bad = conversation([-0.8, -0.8])
    first = evaluate(bad, rules, {}, T0)
    good = replace(conversation([-0.8, -0.8, 0.9, 0.9]),
                   ticket=apply_actions(bad.ticket, first.decisions[0].actions))
    waiting = evaluate(good, rules, first.history, T0 + timedelta(hours=1))
    assert waiting.decisions == ()
    assert next_due_at(rules, waiting.history) == T0 + timedelta(hours=3)
    resolved = evaluate(good, rules, waiting.history, T0 + timedelta(hours=3))
    [decision] = resolved.decisions
    assert (decision.kind, decision.step, decision.reason) == ("resolve", "resolve", "resolved")
    assert decision.actions == DecisionActions(remove_tags=("unhappy",),
                                               note="recovered to 0.33", notify=("slack",))
    assert resolved.history["low"].state == "resolved"
    assert next_due_at(rules, resolved.history) is None
    # it comes back: a new episode fires at once, without waiting for a repeat
    again = evaluate(conversation([-0.8, -0.8, 0.9, 0.9, -0.9, -0.9, -0.9]), rules,
                     resolved.history, T0 + timedelta(hours=4))
    assert [(d.rule, d.step) for d in again.decisions] == [("low", "first")]


def test_history_of_unknown_rules_is_kept() -> None:
    stale = {"gone": RuleHistory(rule="gone", last_fired_at=T0, fire_count=1)}
    assert evaluate(conversation([0.1]), ARTICLE, stale, T0).history == stale


def test_a_rules_own_actions_never_count_as_recovery() -> None:
    # priority_below: urgent stops applying once the rule raised the ticket to urgent;
    # that must not resolve the episode (no "recovered" for our own change)
    rules = ruleset([{"name": "r", "when": {"last_score_below": 0, "priority_below": "urgent"},
                      "actions": {"priority": "urgent"}, "resolve_after": "0s",
                      "on_resolve": {"notify": ["x"]}}])
    state = conversation([-0.5], priority="normal")
    first = evaluate(state, rules, {}, T0)
    after = replace(state, ticket=apply_actions(state.ticket, first.decisions[0].actions))
    again = evaluate(after, rules, first.history, T0 + timedelta(hours=1))
    assert again.decisions == ()
    assert again.history == first.history


# --- languages ----------------------------------------------------------------------

def _with_languages(state: ConversationState, languages: list[tuple[str, bool]],
                    ) -> ConversationState:
    messages = tuple(replace(m, language=language, supported=supported)
                     for m, (language, supported) in zip(state.customer_messages, languages,
                                                         strict=True))
    return replace(state, customer_messages=messages)


def test_an_unreadable_message_is_not_read_as_calm() -> None:
    # Angry, then a message the scorer could not read (stored as 0.0): the very
    # negative rule still sees the angry message as the latest readable one, and the
    # 0.0 does not pull the recent average up.
    state = _with_languages(conversation([0.2, -0.85, 0.0], signals=[(), (),
                                                                      ("unsupported_language",)]),
                            [("en", True), ("en", True), ("nl", False)])
    evaluation = evaluate(state, ARTICLE, {}, T0)
    assert fired(evaluation) == ["very-negative-message"]
    assert evaluation.decisions[0].numbers["last_score"] == -0.85
    assert evaluation.decisions[0].numbers["messages"] == 2
    same_but_read = conversation([0.2, -0.85, 0.0])
    assert fired(evaluate(same_but_read, ARTICLE, {}, T0)) == []


def test_a_rule_can_send_unreadable_languages_to_a_person() -> None:
    rules = one_rule({"signals_any": ["unsupported_language"], "signals_window": 1})
    state = _with_languages(conversation([0.0], signals=[("unsupported_language",)]),
                            [("it", False)])
    assert fired(evaluate(state, rules, {}, T0)) == ["r"]
    # Only unreadable messages: no score condition can hold on them.
    assert fired(evaluate(state, one_rule({"last_score_below": 0.5}), {}, T0)) == []


@pytest.mark.parametrize(("languages", "applies"), [
    ([("de", True), ("fr", True)], True),      # the latest message decides: fr
    ([("fr", True), ("en", True)], False),
    ([("de", True), ("und", True)], False),    # "und" is skipped: de
    ([("", True), ("", True)], False),         # no language known
])
def test_languages_filter_uses_the_latest_known_language(languages: list[tuple[str, bool]],
                                                         applies: bool) -> None:
    rules = one_rule({"languages": ["fr", "es"], "last_score_below": -0.5})
    state = _with_languages(conversation([-0.6, -0.8]), languages)
    assert (fired(evaluate(state, rules, {}, T0)) == ["r"]) is applies
