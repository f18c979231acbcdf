"""The escalation decision: one pure function over a conversation and its history.

`evaluate(state, rules, history, now)` looks at a ticket's scored customer messages
(oldest first) and its snapshot, at what each rule already did on this ticket, and
returns the decisions to act on plus the new per-rule history to persist.  Rules run
top to bottom over a running view of the ticket (tags and priority as the earlier
decisions of this evaluation leave them), so a rule sees its inhibitor's tag even before
the helpdesk does.  No I/O, no clock reads (`now` is an argument), no database: the
same function runs in the daemon, in `rules test` replays and in property tests.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

from rules.expr import run_expr, validate_expr
from rules.lifecycle import Policy, RuleHistory, Step, needs_update, resolve_due_at
from rules.model import INCIDENT_INHIBITOR, Actions, Rule, RuleSet, When, priority_rank
from rules.notes import render
from rules.trend import Trend, compute_trend

__all__ = [
    "ConversationState", "Decision", "DecisionActions", "Evaluation", "RuleHistory",
    "ScoredMessage", "TicketView", "apply_actions", "conversation_language", "evaluate",
    "features", "next_due_at",
]

#: Customer messages whose indicator phrases a decision quotes (the article's window).
INDICATOR_WINDOW = 3


@dataclass(frozen=True, slots=True)
class ScoredMessage:
    message_id: str
    created_at: datetime
    score: float
    label: str = "neutral"
    signals: frozenset[str] = frozenset()
    indicators: tuple[str, ...] = ()
    language: str = ""  # ISO 639-1, "und" or "" (unknown)
    # False: the scorer could not read the language.  Its score (0.0) is no verdict, so
    # score conditions and the trend skip the message; its signals still count.
    supported: bool = True


def conversation_language(messages: tuple[ScoredMessage, ...]) -> str:
    """The language of the latest customer message that has one ("" when none does)."""
    for message in reversed(messages):
        if message.language and message.language != "und":
            return message.language
    return ""


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
    in_incident: bool = False  # a member of an open incident (rules/incidents.py)


@dataclass(frozen=True, slots=True)
class ConversationState:
    ticket: TicketView
    customer_messages: tuple[ScoredMessage, ...] = ()


@dataclass(frozen=True, slots=True)
class DecisionActions:
    add_tags: tuple[str, ...] = ()
    remove_tags: tuple[str, ...] = ()
    priority: str | None = None  # set only when it raises the ticket's current priority
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
    step: Step = "first"  # first | repeat | worse | resolve


@dataclass(frozen=True, slots=True)
class Evaluation:
    decisions: tuple[Decision, ...] = ()
    history: Mapping[str, RuleHistory] = field(default_factory=dict)  # full new history
    #: Rules whose `expr` failed on this data (counted as not holding); type names only.
    warnings: tuple[str, ...] = ()


@dataclass(slots=True)
class _Scored:
    """What a conversation's scores say, shared by the rules of one evaluation.  The
    trend and signals are what conditions test; the summary statistics are computed
    only when a rule acts (its numbers) or an `expr` reads them."""

    trend: Trend
    scores: list[float]
    signals: frozenset[str]  # in the signals_window
    _values: dict[str, Any] | None = None

    def values(self) -> dict[str, Any]:
        if self._values is None:
            trend, scores = self.trend, self.scores
            self._values = {
                "trend": trend.trend,
                "direction": trend.direction,
                "current_avg": trend.current_avg,
                "last_score": scores[-1] if scores else 0.0,
                "min_score": min(scores) if scores else 0.0,
                "max_score": max(scores) if scores else 0.0,
                "mean_score": sum(scores) / len(scores) if scores else 0.0,
                "messages": len(scores),
                "scores": tuple(scores),
                "signals": self.signals,
            }
        return self._values


@dataclass(slots=True)  # not frozen: made three times per evaluation, frozen init is slow
class _Check:
    holds: bool
    reason: str
    scored: _Scored
    extra: Mapping[str, Any]  # the rule's own numbers: its thresholds, matched signals
    warning: str | None = None
    applicable: bool = True  # False: a ticket filter excludes the ticket

    @property
    def severity(self) -> float:
        return -self.scored.trend.current_avg

    @property
    def signals(self) -> frozenset[str]:  # in the rule's signals_window
        return self.scored.signals

    @property
    def numbers(self) -> dict[str, Any]:
        """The numbers behind the decision; built only for the rules that act (most
        evaluations end with every rule quiet)."""
        return {**_base_numbers(self.scored.trend, self.scored.values()), **self.extra}


FeatureCache = dict[tuple[float, str, float, int], _Scored]


def features(state: ConversationState, decline_threshold: float = 0.3,
             method: str = "article", alpha: float = 0.5,
             signals_window: int = 3,
             cache: FeatureCache | None = None) -> tuple[Trend, dict[str, Any]]:
    """The trend and the expression features of a conversation (see rules.expr.FEATURES).

    `cache` shares the score-derived part between the rules of one evaluation (they see
    the same messages; only the ticket view changes as earlier rules act).
    """
    scored = _scored(state, decline_threshold, method, alpha, signals_window, cache)
    ticket = state.ticket
    values: dict[str, Any] = {
        **scored.values(),
        "tags": ticket.tags,
        "priority": ticket.priority or "",
        "priority_rank": priority_rank(ticket.priority),
        "status": ticket.status or "",
        "source": ticket.source,
        "language": conversation_language(state.customer_messages),
    }
    return scored.trend, values


def _scored(state: ConversationState, decline_threshold: float, method: str, alpha: float,
            signals_window: int, cache: FeatureCache | None) -> _Scored:
    key = (decline_threshold, method, alpha, signals_window)
    if cache is not None:
        cached = cache.get(key)
        if cached is not None:
            return cached
    messages = state.customer_messages
    scores = [m.score for m in messages if m.supported]
    scored = _Scored(compute_trend(scores, method, decline_threshold, alpha), scores,
                     frozenset(s for m in messages[-signals_window:] for s in m.signals))
    if cache is not None:
        cache[key] = scored
    return scored


def _base_numbers(trend: Trend, values: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "method": trend.method,
        "trend": trend.trend,
        "direction": trend.direction,
        "current_avg": trend.current_avg,
        "last_score": round(values["last_score"], 3),
        "min_score": round(values["min_score"], 3),
        "messages": values["messages"],
    }


def _check(rule: Rule, state: ConversationState, cache: FeatureCache | None = None) -> _Check:
    """Whether the rule's conditions hold, why, and the numbers behind it."""
    when = rule.when
    scored = _scored(state, when.decline_threshold, when.method, when.alpha,
                     when.signals_window, cache)
    trend = scored.trend
    messages = state.customer_messages
    ticket = state.ticket
    numbers: dict[str, Any] = {}
    reasons: list[str] = []

    def no() -> _Check:
        return _Check(False, "", scored, numbers)

    if not messages:
        return no()
    # Ticket filters decide whether the rule applies at all; when one excludes the
    # ticket the episode is left alone (see lifecycle.needs_update, `applicable`).
    if not _applies(when, ticket, messages):
        return _Check(False, "", scored, numbers, applicable=False)
    readable = [m for m in messages if m.supported]
    if when.priority_below is not None:
        numbers["priority_below"] = when.priority_below
    if when.min_customer_messages is not None:
        if len(messages) < when.min_customer_messages:
            return no()
        numbers["min_customer_messages"] = when.min_customer_messages
    if not _score_conditions(when, trend, readable, numbers, reasons):
        return no()
    if when.signals_any is not None:
        matched = sorted(set(when.signals_any) & scored.signals)
        if not matched:
            return no()
        numbers["signals"] = matched
        reasons.append("signal_" + "_".join(matched))
    if when.expr is not None:
        _trend, values = features(state, when.decline_threshold, when.method, when.alpha,
                                  when.signals_window, cache)
        try:
            ok = run_expr(validate_expr(when.expr), values)
        except Exception as exc:
            # A data-dependent failure (division by zero on this ticket): the rule
            # does not hold, and the daemon logs the type, never the data.
            return _Check(False, "", scored, numbers,
                          f"rule {rule.name}: expr failed ({type(exc).__name__})")
        if not ok:
            return no()
        numbers["expr"] = when.expr
        reasons.append("expr")
    if when.current_avg_below is not None and not reasons:
        reasons.append("low_current_avg")
    return _Check(True, reasons[0] if reasons else rule.name, scored, numbers)


def _score_conditions(when: When, trend: Trend, readable: list[ScoredMessage],
                      numbers: dict[str, Any], reasons: list[str]) -> bool:
    """The conditions on the scores (trend, averages, last and consecutive messages):
    whether they all hold, recording their numbers and reasons as they pass."""
    if when.trend is not None:
        if trend.trend != when.trend:
            return False
        numbers["decline_threshold"] = when.decline_threshold
        reasons.append(f"sentiment_{when.trend}")
    if when.current_avg_below is not None:
        # The rounded current_avg, as the article compares it (-0.504 is not < -0.5).
        if not trend.current_avg < when.current_avg_below:
            return False
        numbers["current_avg_below"] = when.current_avg_below
    if when.last_score_below is not None:
        if not readable or not readable[-1].score < when.last_score_below:
            return False
        numbers["last_score_below"] = when.last_score_below
        reasons.append("very_negative_message")
    if when.consecutive_negative is not None:
        run = when.consecutive_negative
        recent = readable[-run.count:]
        if len(recent) < run.count or not all(m.score < run.below for m in recent):
            return False
        numbers["consecutive_negative"] = run.count
        numbers["consecutive_below"] = run.below
        reasons.append("consecutive_negative")
    return True


def _applies(when: When, ticket: TicketView, messages: tuple[ScoredMessage, ...]) -> bool:
    if when.sources is not None and ticket.source not in when.sources:
        return False
    if when.languages is not None and conversation_language(messages) not in when.languages:
        return False
    if when.status is not None and (ticket.status or "") not in when.status:
        return False
    if when.priority_below is not None \
            and not priority_rank(ticket.priority) < priority_rank(when.priority_below):
        return False
    if when.has_tags is not None and not set(when.has_tags) <= ticket.tags:
        return False
    return not (when.lacks_tags is not None and set(when.lacks_tags) & ticket.tags)


def _policy(rule: Rule) -> Policy:
    return Policy(repeat_after=rule.repeat_after,
                  escalate_if_worse_by=rule.escalate_if_worse_by,
                  resolve_after=rule.resolve_after)


def _inhibited(rule: Rule, rules: RuleSet, view: TicketView,
               history: Mapping[str, RuleHistory], now: datetime,
               muted: frozenset[str] = frozenset()) -> bool:
    """Whether a rule named in `inhibited_by` is active on this ticket.

    `incident` is active while the ticket is a member of an open incident.  A rule is
    active when one of its tags is on the ticket, or its alert is current (episode
    open and last fired within its repeat_after; for a rule without repeat_after, while
    the episode is open).  `history` already holds this evaluation's firings, so an
    inhibitor firing now counts.  The alert being current covers the minutes between a
    firing and the helpdesk showing its tag (an undelivered outbox row, a snapshot read
    before delivery), which would otherwise let the inhibited rule send a second alert
    for the same problem.
    """
    for name in rule.inhibited_by:
        if name == INCIDENT_INHIBITOR:
            if view.in_incident:
                return True
            continue
        if name in muted:  # an escalation an agent called a false alarm still covers it
            return True
        inhibitor = rules.by_name(name)
        if inhibitor is None:  # validation makes this unreachable; stay quiet if not
            continue
        if set(inhibitor.actions.add_tags) & view.tags:
            return True
        record = history.get(name)
        if record is None or record.state != "firing" or record.last_fired_at is None:
            continue
        if inhibitor.repeat_after is None or now - record.last_fired_at < inhibitor.repeat_after:
            return True
    return False


def _note_values(rule: Rule, check: _Check, reason: str, step: Step,
                 numbers: Mapping[str, Any], indicators: tuple[str, ...],
                 view: TicketView) -> dict[str, Any]:
    signals = sorted(check.signals)
    return {
        "rule": rule.name, "reason": reason, "step": step,
        "trend": numbers["trend"], "method": numbers["method"],
        "direction": numbers["direction"], "current_avg": numbers["current_avg"],
        "last_score": numbers["last_score"], "min_score": numbers["min_score"],
        "messages": numbers["messages"],
        "indicators": ", ".join(f'"{phrase}"' for phrase in indicators) or "none",
        "signals": ", ".join(signals) or "none",
        "ticket_id": view.ticket_id, "subject": view.subject, "source": view.source,
        "priority": view.priority or "none", "status": view.status or "none",
        "requester": view.requester or "", "url": view.url,
    }


def _actions(spec: Actions, view: TicketView, values: Mapping[str, Any]) -> DecisionActions:
    raises = spec.priority is not None \
        and priority_rank(spec.priority) > priority_rank(view.priority)
    return DecisionActions(
        add_tags=spec.add_tags, remove_tags=spec.remove_tags,
        priority=spec.priority if raises else None,
        note=render(spec.note, values) if spec.note is not None else None,
        notify=spec.notify)


def apply_actions(ticket: TicketView, actions: DecisionActions | Actions) -> TicketView:
    """The ticket after the actions: tags removed then added, priority only raised."""
    tags = (ticket.tags - set(actions.remove_tags)) | set(actions.add_tags)
    priority = ticket.priority
    if actions.priority is not None and priority_rank(actions.priority) > priority_rank(priority):
        priority = actions.priority
    return replace(ticket, tags=frozenset(tags), priority=priority)


def evaluate(state: ConversationState, rules: RuleSet, history: Mapping[str, RuleHistory],
             now: datetime, muted: frozenset[str] = frozenset()) -> Evaluation:
    """Decisions for one ticket now, in rule order, and the full new history.

    Each rule's lifecycle step comes from `rules.lifecycle.needs_update`; a rule is
    inhibited while a rule named in its `inhibited_by` is active (see `_inhibited`).
    `muted` names rules an agent marked as a false alarm on this ticket with no customer
    message since (rules.feedback.muted_rules): they are held as if inhibited.
    """
    new_history: dict[str, RuleHistory] = dict(history)
    decisions: list[Decision] = []
    warnings: list[str] = []
    view = state.ticket
    latest = state.customer_messages[-1].message_id if state.customer_messages else None
    indicators: tuple[str, ...] | None = None  # made when a rule acts
    cache: FeatureCache = {}
    for rule in rules.rules:
        check = _check(rule, state if view is state.ticket else replace(state, ticket=view),
                       cache)
        if check.warning is not None:
            warnings.append(check.warning)
        previous = history.get(rule.name)
        if previous is None and not check.holds:
            continue  # never fired here and not holding: needs_update's "not holding", None
        inhibited = check.holds and (rule.name in muted or _inhibited(
            rule, rules, view, new_history, now, muted))
        transition = needs_update(previous, rule=rule.name, holds=check.holds,
                                  inhibited=inhibited, severity=check.severity,
                                  policy=_policy(rule), now=now, applicable=check.applicable,
                                  message_id=latest)
        if transition.history is not None:
            new_history[rule.name] = transition.history
        if transition.step == "none":
            continue
        if transition.step == "resolve":
            spec = rule.on_resolve or Actions()
            kind: Literal["fire", "resolve"] = "resolve"
            reason = "resolved"
        else:
            spec = rule.actions
            kind = "fire"
            reason = check.reason
        if indicators is None:
            indicators = tuple(dict.fromkeys(
                phrase for m in state.customer_messages[-INDICATOR_WINDOW:]
                for phrase in m.indicators))
        numbers = check.numbers
        values = _note_values(rule, check, reason, transition.step, numbers, indicators, view)
        actions = _actions(spec, view, values)
        decisions.append(Decision(rule=rule.name, kind=kind, reason=reason,
                                  numbers=numbers, indicators=indicators,
                                  actions=actions, step=transition.step))
        view = apply_actions(view, actions)
    return Evaluation(tuple(decisions), new_history, tuple(warnings))


def next_due_at(rules: RuleSet, history: Mapping[str, RuleHistory]) -> datetime | None:
    """The earliest time a pending resolve becomes due, so the daemon can re-evaluate a
    quiet ticket then (evaluation otherwise happens only when a message arrives)."""
    due = [when for rule in rules.rules if (h := history.get(rule.name)) is not None
           and (when := resolve_due_at(h, _policy(rule))) is not None]
    return min(due) if due else None
