"""The escalation decision: one pure function over a conversation and its history.

`evaluate(state, rules, history, now)` looks at a ticket's scored customer messages
(oldest first) and its snapshot, at which rules already fired for it and when, and
returns the decisions to act on plus the new per-rule history to persist.  No I/O, no
clock reads (`now` is an argument), no database: the same function runs in the daemon,
in `rules test` replays and in property tests.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

from rules.model import Rule, RuleSet
from rules.trend import Trend, article_trend


@dataclass(frozen=True, slots=True)
class ScoredMessage:
    message_id: str
    created_at: datetime
    score: float
    label: str = "neutral"
    signals: frozenset[str] = frozenset()
    indicators: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TicketView:
    source: str
    ticket_id: str
    subject: str = ""
    url: str = ""
    status: str | None = None
    priority: str | None = None
    tags: frozenset[str] = frozenset()
    requester: str | None = None


@dataclass(frozen=True, slots=True)
class ConversationState:
    ticket: TicketView
    customer_messages: tuple[ScoredMessage, ...] = ()


@dataclass(frozen=True, slots=True)
class RuleHistory:
    """What happened with one rule on one ticket; persisted by the daemon."""

    rule: str
    state: Literal["firing", "resolved"] = "firing"
    first_fired_at: datetime | None = None
    last_fired_at: datetime | None = None
    fire_count: int = 0
    last_severity: float = 0.0
    condition_false_since: datetime | None = None


@dataclass(frozen=True, slots=True)
class DecisionActions:
    add_tags: tuple[str, ...] = ()
    remove_tags: tuple[str, ...] = ()
    priority: str | None = None
    note: str | None = None  # rendered
    notify: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Decision:
    rule: str
    kind: Literal["fire", "resolve"]
    reason: str
    numbers: Mapping[str, Any]
    indicators: tuple[str, ...]
    actions: DecisionActions


@dataclass(frozen=True, slots=True)
class Evaluation:
    decisions: tuple[Decision, ...] = ()
    history: Mapping[str, RuleHistory] = field(default_factory=dict)  # full new history


#: Placeholders a note template may use.
NOTE_FIELDS: frozenset[str] = frozenset({
    "rule", "reason", "trend", "direction", "current_avg", "last_score", "messages",
    "indicators", "signals", "ticket_id", "subject", "source",
})


def template_fields(template: str) -> set[str]:
    """Field names used by a note template; raises ValueError on attribute/index access."""
    names: set[str] = set()
    for _, field_name, _, _ in string.Formatter().parse(template):
        if field_name is None:
            continue
        if not field_name.isidentifier():
            raise ValueError(f"placeholder {{{field_name}}} is not a plain name")
        names.add(field_name)
    return names


def features(state: ConversationState, decline_threshold: float = 0.3) -> tuple[Trend, dict[str, Any]]:
    scores = [m.score for m in state.customer_messages]
    trend = article_trend(scores, decline_threshold)
    last = state.customer_messages[-1] if state.customer_messages else None
    numbers: dict[str, Any] = {
        "trend": trend.trend,
        "direction": trend.direction,
        "current_avg": trend.current_avg,
        "last_score": round(last.score, 2) if last else None,
        "messages": len(scores),
    }
    return trend, numbers


def _holds(rule: Rule, state: ConversationState) -> tuple[bool, str, dict[str, Any]]:
    when = rule.when
    trend, numbers = features(state, when.decline_threshold)
    if not state.customer_messages:
        return False, "", numbers
    reasons: list[str] = []
    if when.trend is not None:
        if trend.trend != when.trend:
            return False, "", numbers
        reasons.append(f"sentiment_{when.trend}")
        numbers["decline_threshold"] = when.decline_threshold
    if when.current_avg_below is not None:
        if not trend.current_avg < when.current_avg_below:
            return False, "", numbers
        numbers["current_avg_below"] = when.current_avg_below
    if when.last_score_below is not None:
        last = state.customer_messages[-1].score
        if not last < when.last_score_below:
            return False, "", numbers
        numbers["last_score_below"] = when.last_score_below
        if not reasons:
            reasons.append("very_negative_message")
    return True, reasons[0] if reasons else rule.name, numbers


def _render(template: str | None, values: Mapping[str, Any]) -> str | None:
    if template is None:
        return None
    safe = {name: values.get(name, "") for name in NOTE_FIELDS}
    try:
        return template.format_map(safe)
    except (ValueError, TypeError):
        return template


def evaluate(state: ConversationState, rules: RuleSet, history: Mapping[str, RuleHistory],
             now: datetime) -> Evaluation:
    """Decisions for one ticket now; rules earlier in the list win when several hold.

    A rule fires when its condition holds and it never fired for this ticket, or when
    its `repeat_after` has passed since it last fired.  When several rules hold in the
    same evaluation only the first fires (the article escalates once, for the decline).
    """
    new_history: dict[str, RuleHistory] = dict(history)
    decisions: list[Decision] = []
    fired_now = False
    for rule in rules.rules:
        holds, reason, numbers = _holds(rule, state)
        previous = history.get(rule.name)
        if not holds:
            if previous is not None and previous.state == "firing":
                new_history[rule.name] = replace(previous, state="resolved",
                                                 condition_false_since=now)
            continue
        due = previous is None or (
            rule.repeat_after is not None and previous.last_fired_at is not None
            and now - previous.last_fired_at >= rule.repeat_after)
        if not due or fired_now:
            continue
        fired_now = True
        indicators = tuple(dict.fromkeys(
            phrase for m in state.customer_messages[-3:] for phrase in m.indicators))
        values = {**numbers, "rule": rule.name, "reason": reason,
                  "indicators": ", ".join(f'"{p}"' for p in indicators) or "none",
                  "signals": ", ".join(sorted({s for m in state.customer_messages
                                               for s in m.signals})) or "none",
                  "ticket_id": state.ticket.ticket_id, "subject": state.ticket.subject,
                  "source": state.ticket.source}
        actions = rule.actions
        decisions.append(Decision(
            rule=rule.name, kind="fire", reason=reason, numbers=numbers,
            indicators=indicators,
            actions=DecisionActions(add_tags=actions.add_tags, remove_tags=actions.remove_tags,
                                    priority=actions.priority,
                                    note=_render(actions.note, values),
                                    notify=actions.notify)))
        new_history[rule.name] = RuleHistory(
            rule=rule.name, state="firing",
            first_fired_at=previous.first_fired_at if previous else now,
            last_fired_at=now, fire_count=(previous.fire_count if previous else 0) + 1,
            last_severity=float(numbers.get("current_avg") or 0.0))
    return Evaluation(tuple(decisions), new_history)
