"""`helpdesk-sentinel rules test`: replay conversations through the rules before they go live.

In the spirit of `promtool test rules`: a YAML file lists tests, each a ticket snapshot,
messages replayed in order on a fake clock (1 minute apart unless `at` says otherwise)
and what to expect (every firing in order, tags present at the end, the priority at the
end).  Messages carry a given `score` or a `text` scored by the configured scorer after
the same normalisation the daemon applies.  The replay calls the very `rules.evaluate`
the daemon calls after every message, applies each decision with
`rules.engine.apply_actions`, and carries the rule history forward, so lifecycle,
inhibition and priority-only-raises behave exactly as in production.  Exit status: 0
when every test passes, 1 when one fails, 2 when a file cannot be read or validated.

A test may instead list several `tickets` (each a ticket and its messages, with times:
`at` as an ISO time, or `+10m` after that ticket's previous message or, for its first,
after the test's `start`).  Their messages are replayed together in time order through
the rules and through `rules.incidents.evaluate_incidents` with the config's
`incidents:` settings, the rules seeing which tickets are in an open incident (for
`inhibited_by: [incident]`); `expect.incident` then says whether an incident opens, its
members, its topic and whether it resolves (a window after the last message), and
`expect.fired_by_ticket` what each ticket's rules fired.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal, TextIO, cast

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from daemon.scoring.base import Score, Scorer, label_for
from daemon.terminal import TerminalSafe
from daemon.text import normalise
from daemon.topics import extract_topic, topic_of_label
from daemon.yamlsafe import YamlDocument, YamlError, load_yaml, validation_errors
from rules.engine import (
    ConversationState,
    ScoredMessage,
    TicketView,
    apply_actions,
    evaluate,
)
from rules.incidents import (
    Candidate,
    IncidentSettings,
    IncidentWindow,
    evaluate_incidents,
    is_weak_candidate,
)
from rules.lifecycle import RuleHistory
from rules.model import KNOWN_SIGNALS, Priority, RuleSet, parse_duration

#: Where a test's clock starts unless it sets `start` (a Monday morning, UTC).
DEFAULT_START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
DEFAULT_GAP = timedelta(minutes=1)
MAX_MESSAGES = 10_000  # per test: keeps a replay bounded


def _as_tuple(value: object) -> object:
    return (value,) if isinstance(value, str) else value


Strings = Annotated[tuple[str, ...], BeforeValidator(_as_tuple)]


class _Strict(BaseModel):
    # ticket_id: 1234 in YAML is an int; people mean the id.
    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)


class TicketSpec(_Strict):
    source: str = "test"
    ticket_id: str = "1"
    subject: str = ""
    status: str | None = "open"
    priority: Priority | None = None
    tags: Strings = ()
    requester: str | None = None


class MessageSpec(_Strict):
    author: Literal["customer", "agent"] = "customer"
    score: float | None = Field(None, ge=-1, le=1)
    text: str | None = Field(None, max_length=100_000)
    at: str | datetime | None = None  # "+2h" after the previous message, or an ISO time
    signals: Strings = ()  # with `score` only: what a scorer would have found
    indicators: Strings = ()
    topic: str | None = Field(None, min_length=1, max_length=80)  # with `score`: its topic

    @model_validator(mode="after")
    def _one_source_of_score(self) -> MessageSpec:
        if self.author == "agent":
            if self.score is not None or self.signals or self.indicators:
                raise ValueError("agent messages are not scored; give only text and at")
        elif (self.score is None) == (self.text is None):
            raise ValueError("a customer message needs exactly one of score or text")
        if (self.signals or self.indicators or self.topic) and self.score is None:
            raise ValueError("signals, indicators and topic go with score; for text the "
                             "scorer finds them")
        unknown = set(self.signals) - KNOWN_SIGNALS
        if unknown:
            raise ValueError(f"unknown signal(s): {', '.join(sorted(unknown))}")
        if isinstance(self.at, str):
            _parse_at(self.at, DEFAULT_START)  # raises ValueError with a useful message
        return self


class IncidentExpect(_Strict):
    opened: bool = True  # whether an incident opens at all
    members: Strings | None = None  # exactly these ticket ids (of the one incident)
    min_members: int | None = Field(None, ge=1)
    topic: str | None = None  # contained in the incident's topic
    resolved: bool | None = None  # resolves within a window after the last message


class Expect(_Strict):
    fired: Strings | None = None  # every firing, in order; [] means none
    resolved: Strings | None = None  # every resolve, in order
    tags: Strings | None = None  # must be on the ticket at the end
    absent_tags: Strings | None = None  # must not be on the ticket at the end
    priority: Priority | None = None  # the ticket's priority at the end
    incident: IncidentExpect | None = None  # with `tickets`
    fired_by_ticket: dict[str, tuple[str, ...]] | None = None  # with `tickets`


class TicketScript(_Strict):
    ticket: TicketSpec
    messages: list[MessageSpec] = Field(min_length=1, max_length=MAX_MESSAGES)


class TestCase(_Strict):
    name: str = Field(min_length=1, max_length=200)
    ticket: TicketSpec = TicketSpec()
    start: datetime = DEFAULT_START
    messages: list[MessageSpec] = Field(default_factory=list, max_length=MAX_MESSAGES)
    tickets: list[TicketScript] = Field(default_factory=list, max_length=1000)
    expect: Expect

    @model_validator(mode="after")
    def _times_move_forward(self) -> TestCase:
        if bool(self.messages) == bool(self.tickets):
            raise ValueError("give either messages (one ticket) or tickets (several)")
        if self.tickets:
            ids = [script.ticket.ticket_id for script in self.tickets]
            if len(set(ids)) != len(ids):
                raise ValueError("tickets need distinct ticket_id values")
            if self.expect.fired or self.expect.resolved or self.expect.tags \
                    or self.expect.absent_tags or self.expect.priority:
                raise ValueError("with tickets, expect incident and fired_by_ticket")
            for script in self.tickets:
                message_times(self, script.messages)
        else:
            if self.expect.incident is not None or self.expect.fired_by_ticket is not None:
                raise ValueError("expect incident and fired_by_ticket need tickets")
            message_times(self)
        return self


def message_times(case: TestCase, messages: Sequence[MessageSpec] | None = None,
                  ) -> list[datetime]:
    """When each message of a test (or of one of its tickets) happens; ValueError if
    time would go backwards."""
    start = _utc(case.start)
    previous = start - DEFAULT_GAP  # so the first message is at `start` by default
    times = []
    for index, message in enumerate(case.messages if messages is None else messages):
        now = _parse_at(message.at, previous)
        if now < previous:
            raise ValueError(f"messages[{index}].at goes back in time")
        times.append(now)
        previous = now
    return times


class TestFile(_Strict):
    tests: list[TestCase] = Field(min_length=1)


@dataclass(slots=True)
class Replay:
    """What happened during one replay; compared with the test's `expect`."""

    fired: list[str] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)
    ticket: TicketView | None = None
    trace: list[str] = field(default_factory=list)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _parse_at(at: str | datetime | None, previous: datetime) -> datetime:
    if at is None:
        return previous + DEFAULT_GAP
    if isinstance(at, datetime):
        return _utc(at)
    text = at.strip()
    if text.startswith("+"):
        return previous + parse_duration(text[1:])
    try:
        return _utc(datetime.fromisoformat(text))
    except ValueError:
        raise ValueError(f"at: expected an offset such as +2h or an ISO time, got {at!r}") \
            from None


def replay(case: TestCase, rules: RuleSet, scorer: Scorer) -> Replay:
    """Run one test's conversation through the engine (ValueError if the scorer fails us)."""
    texts = [normalise(m.text).text for m in case.messages
             if m.author == "customer" and m.text is not None]
    scores = iter(scorer.score(texts) if texts else [])
    spec = case.ticket
    view = TicketView(source=spec.source, ticket_id=spec.ticket_id, subject=spec.subject,
                      status=spec.status, priority=spec.priority, tags=frozenset(spec.tags),
                      requester=spec.requester)
    customer_messages: list[ScoredMessage] = []
    history: dict[str, RuleHistory] = {}
    result = Replay()
    start = _utc(case.start)
    for index, (message, now) in enumerate(zip(case.messages, message_times(case),
                                               strict=True)):
        if message.author == "customer":
            if message.score is not None:
                customer_messages.append(ScoredMessage(
                    message_id=str(index), created_at=now, score=message.score,
                    signals=frozenset(message.signals), indicators=message.indicators))
            else:
                score = next(scores, None)
                if score is None:
                    raise ValueError("the scorer returned fewer scores than texts")
                customer_messages.append(ScoredMessage(
                    message_id=str(index), created_at=now, score=score.score,
                    label=score.label, signals=score.signals, indicators=score.indicators,
                    language=score.language, supported=score.language_supported))
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


@dataclass(slots=True)
class IncidentReplay:
    """What a several-ticket replay saw: incidents opened and each ticket's firings."""

    opened: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)  # topic, members
    members: dict[str, set[str]] = field(default_factory=dict)  # incident id -> ticket ids
    topics: dict[str, str] = field(default_factory=dict)
    resolved: set[str] = field(default_factory=set)
    fired: dict[str, list[str]] = field(default_factory=dict)
    trace: list[str] = field(default_factory=list)


def replay_tickets(case: TestCase, rules: RuleSet, scorer: Scorer,
                   settings: IncidentSettings) -> IncidentReplay:
    """Several tickets' messages in time order through the rules and the incident
    decision, as the daemon runs them poll by poll."""
    settings = settings.model_copy(update={"enabled": True})
    events: list[tuple[datetime, int, int, MessageSpec]] = []
    for number, script in enumerate(case.tickets):
        for position, (message, at) in enumerate(zip(script.messages,
                                                     message_times(case, script.messages),
                                                     strict=True)):
            events.append((at, number, position, message))
    events.sort(key=lambda event: event[:3])
    texts = [normalise(m.text).text for _, _, _, m in events
             if m.author == "customer" and m.text is not None]
    scores = iter(scorer.score(texts) if texts else [])
    views = {n: TicketView(source=s.ticket.source, ticket_id=s.ticket.ticket_id,
                           subject=s.ticket.subject, status=s.ticket.status,
                           priority=s.ticket.priority, tags=frozenset(s.ticket.tags),
                           requester=s.ticket.requester)
             for n, s in enumerate(case.tickets)}
    series: dict[int, list[ScoredMessage]] = {n: [] for n in views}
    histories: dict[int, dict[str, RuleHistory]] = {n: {} for n in views}
    window = IncidentWindow()
    result = IncidentReplay(fired={v.ticket_id: [] for v in views.values()})
    start = _utc(case.start)
    in_incident: set[str] = set()

    def apply(decisions_now: datetime, evaluation_window: IncidentWindow,
              decisions: Sequence[Any]) -> None:
        for decision in decisions:
            incident = decision.incident
            tickets = {m.ticket_id for m in incident.members}
            if decision.kind == "open":
                result.opened.append((incident.topic, tuple(sorted(tickets))))
            if decision.kind == "resolve":
                result.resolved.add(incident.incident_id)
            result.members[incident.incident_id] = tickets
            result.topics[incident.incident_id] = incident.topic
            result.trace.append(f"{_offset(decisions_now, start)}   incident {decision.kind} "
                                f"{incident.topic!r}: {len(tickets)} tickets")
        in_incident.clear()
        in_incident.update(m.ticket_id for i in evaluation_window.incidents for m in i.members)

    last = start
    for at, number, position, message in events:
        last = at
        view = views[number]
        if message.author != "customer":
            result.trace.append(f"{_offset(at, start)} {view.ticket_id} agent")
            continue
        score = _score_of(message, scores)
        series[number].append(ScoredMessage(
            message_id=f"{number}-{position}", created_at=at, score=score.score,
            label=score.label, signals=score.signals, indicators=score.indicators))
        result.trace.append(f"{_offset(at, start)} {view.ticket_id} customer score "
                            f"{score.score:+.3f}")
        if is_weak_candidate(score.score, score.signals, settings.below):
            topic = topic_of_label(score.topic) if score.topic else \
                extract_topic(normalise(message.text or "").text)
            candidate = Candidate(source=view.source, ticket_id=view.ticket_id,
                                  message_id=f"{number}-{position}", at=at, score=score.score,
                                  language=topic.language, terms=topic.terms,
                                  words=topic.words, signals=score.signals,
                                  label=score.topic)
            evaluation = evaluate_incidents(window, [candidate], settings, at)
            window = evaluation.window
            apply(at, window, evaluation.decisions)
        state = ConversationState(
            ticket=replace(view, in_incident=view.ticket_id in in_incident),
            customer_messages=tuple(series[number]))
        ruled = evaluate(state, rules, histories[number], at)
        histories[number] = dict(ruled.history)
        for decision in ruled.decisions:
            if decision.kind == "fire":
                result.fired[view.ticket_id].append(decision.rule)
            views[number] = apply_actions(views[number], decision.actions)
            result.trace.append(f"{_offset(at, start)}   {view.ticket_id} {decision.kind} "
                                f"{decision.rule}")
    end = last + settings.window
    final = evaluate_incidents(window, [], settings, end)
    apply(end, final.window, final.decisions)
    return result


def _score_of(message: MessageSpec, scores: Any) -> Score:
    if message.score is not None:
        return Score(score=message.score, label=label_for(message.score), confidence=1.0,
                     indicators=message.indicators, signals=frozenset(message.signals),
                     topic=message.topic or "")
    score = next(scores, None)
    if score is None:
        raise ValueError("the scorer returned fewer scores than texts")
    assert isinstance(score, Score)
    return score


def compare_tickets(expect: Expect, result: IncidentReplay) -> list[str]:
    problems: list[str] = []
    wanted = expect.incident
    if wanted is not None:
        if not wanted.opened:
            if result.opened:
                problems.append(f"incident: expected none, got {result.opened}")
        elif not result.opened:
            problems.append("incident: expected one to open, none did")
        else:
            incident_id = next(iter(result.members))
            members = sorted(result.members[incident_id])
            if wanted.members is not None and sorted(wanted.members) != members:
                problems.append(f"incident.members: expected {sorted(wanted.members)}, "
                                f"got {members}")
            if wanted.min_members is not None and len(members) < wanted.min_members:
                problems.append(f"incident.min_members: expected {wanted.min_members}, "
                                f"got {len(members)}")
            topic = result.topics[incident_id]
            if wanted.topic is not None and wanted.topic.lower() not in topic.lower():
                problems.append(f"incident.topic: expected {wanted.topic!r} in {topic!r}")
            if wanted.resolved is not None and wanted.resolved != (incident_id in
                                                                    result.resolved):
                problems.append(f"incident.resolved: expected {wanted.resolved}")
    for ticket_id, fired in (expect.fired_by_ticket or {}).items():
        got = result.fired.get(ticket_id)
        if got is None:
            problems.append(f"fired_by_ticket: no ticket {ticket_id!r} in the test")
        elif list(fired) != got:
            problems.append(f"fired_by_ticket[{ticket_id}]: expected {list(fired)}, got {got}")
    return problems


def _offset(now: datetime, start: datetime) -> str:
    seconds = int((now - start).total_seconds())
    hours, rest = divmod(seconds, 3600)
    return f"+{hours}:{rest // 60:02d}:{rest % 60:02d}"


def compare(expect: Expect, result: Replay) -> list[str]:
    """One line per unmet expectation, `what: expected X, got Y`."""
    problems: list[str] = []
    assert result.ticket is not None
    if expect.fired is not None and list(expect.fired) != result.fired:
        problems.append(f"fired: expected {list(expect.fired)}, got {result.fired}")
    if expect.resolved is not None and list(expect.resolved) != result.resolved:
        problems.append(f"resolved: expected {list(expect.resolved)}, got {result.resolved}")
    if expect.tags is not None:
        missing = [tag for tag in expect.tags if tag not in result.ticket.tags]
        if missing:
            problems.append(f"tags: expected {list(expect.tags)} present, missing {missing}; "
                            f"got {sorted(result.ticket.tags)}")
    if expect.absent_tags is not None:
        present = [tag for tag in expect.absent_tags if tag in result.ticket.tags]
        if present:
            problems.append(f"absent_tags: expected {list(expect.absent_tags)} absent, "
                            f"present {present}")
    if expect.priority is not None and expect.priority != result.ticket.priority:
        problems.append(f"priority: expected {expect.priority}, got {result.ticket.priority}")
    return problems


def _unknown_rules(test_file: TestFile, rules: RuleSet, doc: YamlDocument) -> list[str]:
    names = {rule.name for rule in rules.rules}
    errors = []
    for index, case in enumerate(test_file.tests):
        for key in ("fired", "resolved"):
            for position, name in enumerate(getattr(case.expect, key) or ()):
                if name not in names:
                    where = ("tests", index, "expect", key, position)
                    errors.append(f"{doc.path}:{doc.line_of(where)}: tests[{index}].expect."
                                  f"{key}[{position}]: unknown rule {name!r}")
        for ticket_id, fired in (case.expect.fired_by_ticket or {}).items():
            for position, name in enumerate(fired):
                if name not in names:
                    at = ("tests", index, "expect", "fired_by_ticket", ticket_id, position)
                    errors.append(f"{doc.path}:{doc.line_of(at)}: tests[{index}].expect."
                                  f"fired_by_ticket.{ticket_id}[{position}]: unknown rule "
                                  f"{name!r}")
    return errors


def run_file(path: Path, rules: RuleSet, scorer: Scorer, stdout: TextIO,
             incidents: IncidentSettings | None = None) -> int:
    try:
        doc = load_yaml(path)
        test_file = TestFile.model_validate(doc.data)
    except YamlError as exc:
        stdout.write("\n".join(exc.messages) + "\n")
        return 2
    except ValidationError as exc:
        stdout.write("\n".join(validation_errors(exc, doc, model=TestFile)) + "\n")
        return 2
    errors = _unknown_rules(test_file, rules, doc)
    if errors:
        stdout.write("\n".join(errors) + "\n")
        return 2
    failed = 0
    stdout.write(f"{path}\n")
    for index, case in enumerate(test_file.tests):
        trace: list[str]
        try:
            if case.tickets:
                several = replay_tickets(case, rules, scorer, incidents or IncidentSettings())
                problems, trace = compare_tickets(case.expect, several), several.trace
            else:
                result = replay(case, rules, scorer)
                problems, trace = compare(case.expect, result), result.trace
        except ValueError as exc:
            stdout.write(f"{doc.path}:{doc.line_of(('tests', index))}: tests[{index}]: {exc}\n")
            return 2
        if not problems:
            stdout.write(f"  PASS  {case.name}\n")
            continue
        failed += 1
        stdout.write(f"  FAIL  {case.name}  ({doc.path}:{doc.line_of(('tests', index))})\n")
        for problem in problems:
            stdout.write(f"        {problem}\n")
        stdout.write("        replay:\n")
        for line in trace:
            stdout.write(f"          {line}\n")
    passed = len(test_file.tests) - failed
    stdout.write(f"  {passed} passed, {failed} failed\n")
    return 1 if failed else 0


def run_rules_test(rules: RuleSet, scorer: Scorer, files: Sequence[Path], stdout: TextIO,
                   incidents: IncidentSettings | None = None) -> int:
    """Run every test file; 0 all pass, 1 a test failed, 2 a file is invalid.  Tests with
    several tickets use `incidents` (the config's settings; the defaults otherwise)."""
    status = 0
    stdout = cast(TextIO, TerminalSafe(stdout))  # names and traces are hostile text
    for path in files:
        status = max(status, run_file(Path(path), rules, scorer, stdout, incidents))
    return status
