"""Hypothesis properties of the engine: monotonic thresholds, numbers behind every
decision, idempotence under re-evaluation, priorities never lowered, bounded firing."""

from __future__ import annotations

from datetime import timedelta
from itertools import pairwise
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from rules.engine import ConversationState, apply_actions, evaluate
from rules.model import PRIORITIES, RuleSet, priority_rank
from tests.rules.support import T0, conversation, ruleset

# Per test, not a global profile: other suites keep their own hypothesis settings.
examples = settings(max_examples=150, deadline=None)

score = st.floats(-1, 1, allow_nan=False).map(lambda s: round(s, 3))
scores = st.lists(score, min_size=0, max_size=12)
threshold = st.floats(-1, 1, allow_nan=False).map(lambda t: round(t, 2))
signal_lists = st.lists(st.sets(st.sampled_from(["churn_risk", "legal_threat", "urgent"]),
                                max_size=2), max_size=12)
priorities = st.sampled_from([None, *PRIORITIES])
tag_sets = st.sets(st.sampled_from(["vip", "t0", "t1", "t2", "spam"]), max_size=3)


@st.composite
def states(draw: st.DrawFn) -> ConversationState:
    values = draw(scores)
    return conversation(values, priority=draw(priorities), tags=draw(tag_sets),
                        signals=draw(signal_lists)[:len(values)],
                        indicators=[[f"phrase {i}"] for i in range(len(values))])


@st.composite
def when_clauses(draw: st.DrawFn) -> dict[str, Any]:
    when: dict[str, Any] = {}
    if draw(st.booleans()):
        when["trend"] = draw(st.sampled_from(["declining", "improving", "stable"]))
        when["decline_threshold"] = draw(st.floats(0, 1).map(lambda t: round(t, 2)))
        when["method"] = draw(st.sampled_from(["article", "ewma"]))
    if draw(st.booleans()):
        when["current_avg_below"] = draw(threshold)
    if draw(st.booleans()):
        when["last_score_below"] = draw(threshold)
    if draw(st.booleans()):
        when["consecutive_negative"] = {"count": draw(st.integers(1, 4)), "below": draw(threshold)}
    if draw(st.booleans()):
        when["signals_any"] = draw(st.lists(st.sampled_from(["churn_risk", "legal_threat"]),
                                            min_size=1, max_size=2, unique=True))
    if draw(st.booleans()):
        when["priority_below"] = draw(st.sampled_from(PRIORITIES))
    if draw(st.booleans()):
        when["min_customer_messages"] = draw(st.integers(1, 5))
    if draw(st.booleans()):
        when["expr"] = draw(st.sampled_from(["min_score < -0.5", "messages >= 3",
                                             "'vip' in tags or last_score < 0"]))
    if not when:
        when["last_score_below"] = draw(threshold)
    return when


@st.composite
def rule_sets(draw: st.DrawFn) -> RuleSet:
    rules: list[dict[str, Any]] = []
    for index in range(draw(st.integers(1, 4))):
        rule: dict[str, Any] = {
            "name": f"r{index}", "when": draw(when_clauses()),
            "actions": {"add_tags": [f"t{index}"], "priority": draw(priorities),
                        "note": "{rule} {reason} {current_avg} {indicators}",
                        "notify": ["escalations"]},
        }
        if draw(st.booleans()):
            rule["repeat_after"] = draw(st.sampled_from(["1h", "24h"]))
        if draw(st.booleans()):
            rule["escalate_if_worse_by"] = draw(st.sampled_from([0.1, 0.3]))
        if draw(st.booleans()):
            rule["resolve_after"] = draw(st.sampled_from(["0s", "2h"]))
            rule["on_resolve"] = {"remove_tags": [f"t{index}"], "notify": ["escalations"]}
        if index and draw(st.booleans()):
            rule["inhibited_by"] = [f"r{draw(st.integers(0, index - 1))}"]
        rules.append(rule)
    return ruleset(rules)


def fires(state: ConversationState, when: dict[str, Any]) -> bool:
    rules = ruleset([{"name": "r", "when": when}])
    return any(d.kind == "fire" for d in evaluate(state, rules, {}, T0).decisions)


@examples
@given(state=states(), high=threshold, low=threshold)
def test_lowering_last_score_below_never_makes_a_rule_fire(state: ConversationState,
                                                           high: float, low: float) -> None:
    high, low = max(high, low), min(high, low)
    if fires(state, {"last_score_below": low}):
        assert fires(state, {"last_score_below": high})


@examples
@given(state=states(), high=threshold, low=threshold)
def test_lowering_current_avg_below_never_makes_a_rule_fire(state: ConversationState,
                                                            high: float, low: float) -> None:
    high, low = max(high, low), min(high, low)
    if fires(state, {"trend": "declining", "current_avg_below": low}):
        assert fires(state, {"trend": "declining", "current_avg_below": high})


@examples
@given(state=states(), small=st.floats(0, 1), large=st.floats(0, 1),
       method=st.sampled_from(["article", "ewma"]))
def test_raising_decline_threshold_never_makes_a_decline_fire(
        state: ConversationState, small: float, large: float, method: str) -> None:
    small, large = min(small, large), max(small, large)
    if fires(state, {"trend": "declining", "decline_threshold": large, "method": method}):
        assert fires(state, {"trend": "declining", "decline_threshold": small, "method": method})


@examples
@given(state=states(), rules=rule_sets())
def test_no_decision_without_its_numbers(state: ConversationState, rules: RuleSet) -> None:
    for decision in evaluate(state, rules, {}, T0).decisions:
        numbers = decision.numbers
        assert {"method", "trend", "direction", "current_avg", "last_score", "messages"} \
            <= set(numbers)
        assert decision.reason
        rule = rules.by_name(decision.rule)
        assert rule is not None
        when = rule.when
        if when.trend is not None:
            assert numbers["trend"] == when.trend
            assert numbers["decline_threshold"] == when.decline_threshold
        if when.current_avg_below is not None:
            assert numbers["current_avg"] < numbers["current_avg_below"] == when.current_avg_below
        if when.last_score_below is not None:
            assert numbers["last_score_below"] == when.last_score_below
            assert state.customer_messages[-1].score < when.last_score_below
        if when.consecutive_negative is not None:
            assert numbers["consecutive_negative"] == when.consecutive_negative.count
        if when.signals_any is not None:
            assert set(numbers["signals"]) <= set(when.signals_any) and numbers["signals"]
        if when.min_customer_messages is not None:
            assert numbers["messages"] >= numbers["min_customer_messages"]
        if when.expr is not None:
            assert numbers["expr"] == when.expr
        note = decision.actions.note
        assert note is not None and decision.rule in note and "{" not in note


@examples
@given(state=states(), rules=rule_sets(), minutes=st.integers(0, 3000))
def test_re_evaluating_with_the_returned_history_fires_nothing_new(
        state: ConversationState, rules: RuleSet, minutes: int) -> None:
    now = T0 + timedelta(minutes=minutes)
    first = evaluate(state, rules, {}, now)
    ticket = state.ticket
    for decision in first.decisions:
        ticket = apply_actions(ticket, decision.actions)
    # Once the helpdesk shows our changes, nothing is new.
    again = evaluate(ConversationState(ticket, state.customer_messages), rules,
                     first.history, now)
    assert again.decisions == ()
    assert again.history == first.history
    # Before it does, the only rules that may act are those that read the ticket (a
    # filter or an `expr`) when an earlier rule had just changed it: the documented
    # limit in docs/rules.md, "Ticket filters and our own pending changes".
    stale = evaluate(state, rules, first.history, now)
    reads_ticket = {rule.name for rule in rules.rules if ticket != state.ticket and (
        rule.when.priority_below is not None or rule.when.has_tags is not None
        or rule.when.lacks_tags is not None or rule.when.expr is not None)}
    assert {d.rule for d in stale.decisions} <= reads_ticket


@examples
@given(state=states(), rules=rule_sets())
def test_priority_is_never_lowered(state: ConversationState, rules: RuleSet) -> None:
    ticket = state.ticket
    for decision in evaluate(state, rules, {}, T0).decisions:
        if decision.actions.priority is not None:
            assert priority_rank(decision.actions.priority) > priority_rank(ticket.priority)
        after = apply_actions(ticket, decision.actions)
        assert priority_rank(after.priority) >= priority_rank(ticket.priority)
        ticket = after


@examples
@given(values=st.lists(score, min_size=1, max_size=15), rules=rule_sets(),
       gap=st.sampled_from([1, 30, 90]))
def test_a_replay_fires_within_its_repeat_budget(values: list[float], rules: RuleSet,
                                                 gap: int) -> None:
    """Over a conversation, a rule fires at most once per episode plus once per
    repeat_after, and never twice at the same time."""
    history: dict[str, Any] = {}
    ticket = conversation([]).ticket
    firings: dict[str, list[Any]] = {}
    resolves: dict[str, int] = {}
    for count in range(1, len(values) + 1):
        now = T0 + timedelta(minutes=gap * count)
        state = ConversationState(ticket, conversation(values[:count]).customer_messages)
        evaluation = evaluate(state, rules, history, now)
        history = dict(evaluation.history)
        for decision in evaluation.decisions:
            ticket = apply_actions(ticket, decision.actions)
            if decision.kind == "fire":
                firings.setdefault(decision.rule, []).append((now, decision.step))
            else:
                resolves[decision.rule] = resolves.get(decision.rule, 0) + 1
    for rule in rules.rules:
        times = firings.get(rule.name, [])
        assert len({t for t, _ in times}) == len(times)
        if rule.repeat_after is None and rule.escalate_if_worse_by is None:
            # one firing per episode; episodes only start after a resolve
            assert len(times) <= 1 + resolves.get(rule.name, 0)
        for (earlier, _), (later, step) in pairwise(times):
            if step == "repeat":
                assert rule.repeat_after is not None and later - earlier >= rule.repeat_after
