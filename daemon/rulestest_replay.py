"""Replaying a `rules test` case on its fake clock, through the daemon's own decisions.

One ticket: each message, in order, goes through the very `rules.evaluate` the daemon
calls after every message; each decision is applied with `rules.engine.apply_actions`
and the rule history carried forward, so lifecycle, inhibition and priority-only-raises
behave exactly as in production.  Several tickets: their messages are merged in time
order; a weak customer message is also a candidate for `rules.incidents.
evaluate_incidents` (with the config's `incidents:` settings), and the rules see which
tickets are in an open incident.  Either replay keeps a trace, shown when a test fails.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from daemon.rulestest_spec import MessageSpec, TestCase, TicketSpec, message_times
from daemon.scoring.base import Score, Scorer, label_for
from daemon.text import normalise
from daemon.topics import extract_topic, topic_of_label
from rules.engine import ConversationState, ScoredMessage, TicketView, apply_actions, evaluate
from rules.incidents import (
    Candidate,
    IncidentDecision,
    IncidentSettings,
    IncidentWindow,
    evaluate_incidents,
    is_weak_candidate,
)
from rules.lifecycle import RuleHistory
from rules.model import RuleSet


@dataclass(slots=True)
class Replay:
    """What happened during one replay; compared with the test's `expect`."""

    fired: list[str] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)
    ticket: TicketView | None = None
    trace: list[str] = field(default_factory=list)


@dataclass(slots=True)
class IncidentReplay:
    """What a several-ticket replay saw: incidents opened and each ticket's firings."""

    opened: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)  # topic, members
    members: dict[str, set[str]] = field(default_factory=dict)  # incident id -> ticket ids
    topics: dict[str, str] = field(default_factory=dict)
    resolved: set[str] = field(default_factory=set)
    fired: dict[str, list[str]] = field(default_factory=dict)
    trace: list[str] = field(default_factory=list)


def _offset(now: datetime, start: datetime) -> str:
    seconds = int((now - start).total_seconds())
    hours, rest = divmod(seconds, 3600)
    return f"+{hours}:{rest // 60:02d}:{rest % 60:02d}"


def _view(spec: TicketSpec) -> TicketView:
    return TicketView(source=spec.source, ticket_id=spec.ticket_id, subject=spec.subject,
                      status=spec.status, priority=spec.priority, tags=frozenset(spec.tags),
                      requester=spec.requester)


def _scores(scorer: Scorer, messages: Sequence[MessageSpec]) -> Iterator[Score]:
    """The scorer's scores of the customer texts, in order, after the daemon's
    normalisation: one batch, as the daemon scores a poll."""
    texts = [normalise(m.text).text for m in messages
             if m.author == "customer" and m.text is not None]
    return iter(scorer.score(texts) if texts else [])


def _next_score(scores: Iterator[Score]) -> Score:
    score = next(scores, None)
    if score is None:
        raise ValueError("the scorer returned fewer scores than texts")
    return score


def _scored_message(message: MessageSpec, index: int, now: datetime,
                    scores: Iterator[Score]) -> ScoredMessage:
    """A customer message of a one-ticket test as the engine sees it."""
    if message.score is not None:
        return ScoredMessage(message_id=str(index), created_at=now, score=message.score,
                             signals=frozenset(message.signals), indicators=message.indicators)
    score = _next_score(scores)
    return ScoredMessage(message_id=str(index), created_at=now, score=score.score,
                         label=score.label, signals=score.signals, indicators=score.indicators,
                         language=score.language, supported=score.language_supported)


def _score_of(message: MessageSpec, scores: Iterator[Score]) -> Score:
    """A customer message of a several-ticket test as a score (topic included)."""
    if message.score is not None:
        return Score(score=message.score, label=label_for(message.score), confidence=1.0,
                     indicators=message.indicators, signals=frozenset(message.signals),
                     topic=message.topic or "")
    return _next_score(scores)


def replay(case: TestCase, rules: RuleSet, scorer: Scorer) -> Replay:
    """Run one test's conversation through the engine (ValueError if the scorer fails us)."""
    scores = _scores(scorer, case.messages)
    view = _view(case.ticket)
    customer_messages: list[ScoredMessage] = []
    history: dict[str, RuleHistory] = {}
    result = Replay()
    start = case.clock_start
    for index, (message, now) in enumerate(zip(case.messages, message_times(case),
                                               strict=True)):
        if message.author == "customer":
            customer_messages.append(_scored_message(message, index, now, scores))
            result.trace.append(f"{_offset(now, start)} customer score "
                                f"{customer_messages[-1].score:+.3f}")
        else:
            result.trace.append(f"{_offset(now, start)} agent")
        state = ConversationState(ticket=view, customer_messages=tuple(customer_messages))
        evaluation = evaluate(state, rules, history, now)
        history = dict(evaluation.history)
        for decision in evaluation.decisions:
            (result.fired if decision.kind == "fire" else result.resolved).append(decision.rule)
            view = apply_actions(view, decision.actions)
            shown = {k: v for k, v in decision.numbers.items()
                     if k in ("trend", "direction", "current_avg", "last_score", "signals")}
            result.trace.append(f"{_offset(now, start)}   {decision.kind} {decision.rule} "
                                f"({decision.step}, {decision.reason}) {shown}")
        for warning in evaluation.warnings:
            result.trace.append(f"{_offset(now, start)}   warning: {warning}")
    result.ticket = view
    return result


#: A message of a several-ticket test: when, which ticket (its index), which message of it.
Event = tuple[datetime, int, int, MessageSpec]


def _timeline(case: TestCase) -> list[Event]:
    """Every ticket's messages in time order (ties: the ticket listed first, then the
    message listed first)."""
    events: list[Event] = []
    for number, script in enumerate(case.tickets):
        for position, (message, at) in enumerate(zip(script.messages,
                                                     message_times(case, script.messages),
                                                     strict=True)):
            events.append((at, number, position, message))
    events.sort(key=lambda event: event[:3])
    return events


def replay_tickets(case: TestCase, rules: RuleSet, scorer: Scorer,
                   settings: IncidentSettings) -> IncidentReplay:
    """Several tickets' messages in time order through the rules and the incident
    decision, as the daemon runs them poll by poll."""
    settings = settings.model_copy(update={"enabled": True})
    events = _timeline(case)
    scores = _scores(scorer, [message for _, _, _, message in events])
    tickets = _SeveralTickets.begin(case, rules, settings)
    last = tickets.start
    for at, number, position, message in events:
        last = at
        tickets.message(at, number, position, message, scores)
    # Whether an incident resolves: one window after the last message.
    tickets.incidents(last + settings.window, [])
    return tickets.result


@dataclass(slots=True)
class _SeveralTickets:
    """A several-ticket replay between two messages: each ticket's view, scored messages
    and rule history, the incident window, and which tickets are in an incident."""

    rules: RuleSet
    settings: IncidentSettings
    start: datetime
    views: dict[int, TicketView]
    series: dict[int, list[ScoredMessage]]
    histories: dict[int, dict[str, RuleHistory]]
    result: IncidentReplay
    window: IncidentWindow = field(default_factory=IncidentWindow)
    in_incident: set[str] = field(default_factory=set)

    @classmethod
    def begin(cls, case: TestCase, rules: RuleSet, settings: IncidentSettings,
              ) -> _SeveralTickets:
        views = {number: _view(script.ticket) for number, script in enumerate(case.tickets)}
        return cls(rules=rules, settings=settings, start=case.clock_start, views=views,
                   series={number: [] for number in views},
                   histories={number: {} for number in views},
                   result=IncidentReplay(fired={v.ticket_id: [] for v in views.values()}))

    def message(self, at: datetime, number: int, position: int, message: MessageSpec,
                scores: Iterator[Score]) -> None:
        ticket_id = self.views[number].ticket_id
        if message.author != "customer":
            self.result.trace.append(f"{_offset(at, self.start)} {ticket_id} agent")
            return
        score = _score_of(message, scores)
        message_id = f"{number}-{position}"
        self.series[number].append(ScoredMessage(
            message_id=message_id, created_at=at, score=score.score,
            label=score.label, signals=score.signals, indicators=score.indicators))
        self.result.trace.append(f"{_offset(at, self.start)} {ticket_id} customer score "
                                 f"{score.score:+.3f}")
        if is_weak_candidate(score.score, score.signals, self.settings.below):
            self.incidents(at, [self._candidate(at, number, message_id, message, score)])
        self._rules(at, number)

    def _candidate(self, at: datetime, number: int, message_id: str, message: MessageSpec,
                   score: Score) -> Candidate:
        view = self.views[number]
        topic = topic_of_label(score.topic) if score.topic else \
            extract_topic(normalise(message.text or "").text)
        return Candidate(source=view.source, ticket_id=view.ticket_id, message_id=message_id,
                         at=at, score=score.score, language=topic.language, terms=topic.terms,
                         words=topic.words, signals=score.signals, label=score.topic)

    def incidents(self, now: datetime, candidates: list[Candidate]) -> None:
        """The incident decision at `now`, recorded; the rules then see its window."""
        evaluation = evaluate_incidents(self.window, candidates, self.settings, now)
        self.window = evaluation.window
        for decision in evaluation.decisions:
            self._record(now, decision)
        self.in_incident = {member.ticket_id for incident in self.window.incidents
                            for member in incident.members}

    def _record(self, now: datetime, decision: IncidentDecision) -> None:
        incident = decision.incident
        tickets = {member.ticket_id for member in incident.members}
        if decision.kind == "open":
            self.result.opened.append((incident.topic, tuple(sorted(tickets))))
        if decision.kind == "resolve":
            self.result.resolved.add(incident.incident_id)
        self.result.members[incident.incident_id] = tickets
        self.result.topics[incident.incident_id] = incident.topic
        self.result.trace.append(f"{_offset(now, self.start)}   incident {decision.kind} "
                                 f"{incident.topic!r}: {len(tickets)} tickets")

    def _rules(self, at: datetime, number: int) -> None:
        """The ticket's rules after its message, as the daemon evaluates them."""
        view = self.views[number]
        state = ConversationState(
            ticket=replace(view, in_incident=view.ticket_id in self.in_incident),
            customer_messages=tuple(self.series[number]))
        ruled = evaluate(state, self.rules, self.histories[number], at)
        self.histories[number] = dict(ruled.history)
        for decision in ruled.decisions:
            if decision.kind == "fire":
                self.result.fired[view.ticket_id].append(decision.rule)
            self.views[number] = apply_actions(self.views[number], decision.actions)
            self.result.trace.append(f"{_offset(at, self.start)}   {view.ticket_id} "
                                     f"{decision.kind} {decision.rule}")
