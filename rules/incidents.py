"""Incidents: many customers upset about the same thing at once become one alert.

`evaluate_incidents(window, new, settings, now)` is one pure function, shaped like
`rules.engine.evaluate`: the persisted window (recent negative customer messages not yet
in an incident, and the open incidents), the negative messages that just arrived, the
settings and `now` in; the decisions and the new window out.  No I/O, no clock reads.

A candidate is a customer message scored at or below `below`, or carrying a hard signal,
with its topic terms (normalised stems, daemon/topics.py, or the terms of Claude's topic
label).  An incident opens when one term is shared by candidates from at least
`min_tickets` different tickets within `window`, all in one language, and in one sense
(tickets that also share other words must not fall into two separate groups: "gift
card" and "card declined" are two things): that term is the incident's key, and the
terms most of its first members share become its topic.
Mildly negative messages on the same term (see WEAK_BELOW) are members too, but never
count towards `min_tickets`.  A
later candidate joins an open incident of its language when it contains the key term or
two of the topic terms; one ticket is one member however often its customer writes.
Members joining are announced in the incident's thread at most once per `update_every`
(pending ones go out with the next evaluation after that), and the incident resolves
when `window` passes with no new member.  Grouping by a shared term rather than by
whole-message similarity is deliberate: customers describe one outage in very different
words, but nearly all of them name the thing that broke.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from rules.model import Duration, Names, Tag

#: Signals that make a message a candidate whatever its score (prompt_injection is about
#: the text, not the customer's mood).
HARD_SIGNALS: frozenset[str] = frozenset(
    {"churn_risk", "legal_threat", "manager_request", "repeat_contact", "abusive", "urgent"})
#: A message at or below this score (the upper bound of the `negative` label) is "weakly"
#: negative: it does not count towards `min_tickets`, but once enough strongly negative
#: tickets share a term it is a member like them.  Hysteresis: a customer who says
#: "the checkout page freezes, lost my basket twice" politely is still hit by the outage.
WEAK_BELOW = -0.05
#: Shared topic terms that let a candidate join without the key term.
JOIN_SHARED_TERMS = 2
#: A topic term must be in at least this share of the opening members' messages.
TOPIC_SHARE = 0.5
#: Topic terms kept per incident, and phrases kept per member.
MAX_TOPIC_TERMS = 6
MAX_PHRASES = 3


class IncidentSettings(BaseModel):
    """`incidents:` in the config (docs/rules.md, "Incidents")."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = False
    window: Duration = timedelta(minutes=30)
    min_tickets: int = Field(5, ge=2, le=10_000)
    below: float = Field(-0.25, ge=-1, le=1)
    notify: Names = ()
    tag: Annotated[Tag | None, Field()] = "sentiment-incident"
    #: Thread updates as tickets join: at most one per this long.
    update_every: Duration = timedelta(minutes=5)

    @model_validator(mode="after")
    def _positive(self) -> IncidentSettings:
        if self.window <= timedelta(0):
            raise ValueError("window must be longer than 0")
        return self


@dataclass(frozen=True, slots=True)
class Candidate:
    """A negative customer message and what it is about."""

    source: str
    ticket_id: str
    message_id: str
    at: datetime
    score: float
    language: str
    terms: tuple[str, ...]  # normalised stems, in text order
    words: tuple[str, ...] = ()  # what the customer wrote for them (same order)
    signals: frozenset[str] = frozenset()
    label: str = ""  # Claude's short topic label, when the scorer gave one
    url: str = ""
    subject: str = ""

    @property
    def ticket(self) -> tuple[str, str]:
        return (self.source, self.ticket_id)


def is_candidate(score: float, signals: Iterable[str], below: float) -> bool:
    """Negative enough to count towards an incident: at or below `below`, or any hard
    signal."""
    return score <= below or bool(HARD_SIGNALS.intersection(signals))


def is_weak_candidate(score: float, signals: Iterable[str], below: float) -> bool:
    """Negative enough to be a member (see WEAK_BELOW), whether or not it counts."""
    return score <= max(below, WEAK_BELOW) or is_candidate(score, signals, below)


@dataclass(frozen=True, slots=True)
class Member:
    source: str
    ticket_id: str
    message_id: str
    at: datetime
    phrase: str = ""  # what this customer wrote about it (quoted in the alert)
    url: str = ""
    subject: str = ""
    announced: bool = False  # named in the opening alert or a thread update

    @property
    def ticket(self) -> tuple[str, str]:
        return (self.source, self.ticket_id)


@dataclass(frozen=True, slots=True)
class Incident:
    incident_id: str
    language: str
    key_term: str
    terms: tuple[str, ...]  # the topic: key term first
    topic: str  # for people: the words customers used most, or Claude's label
    opened_at: datetime
    last_member_at: datetime
    members: tuple[Member, ...]
    updates: int = 0  # thread updates announced so far
    last_update_at: datetime | None = None
    state: Literal["open", "resolved"] = "open"
    resolved_at: datetime | None = None

    def has(self, ticket: tuple[str, str]) -> bool:
        return any(member.ticket == ticket for member in self.members)


@dataclass(frozen=True, slots=True)
class IncidentWindow:
    """What the daemon persists between evaluations."""

    candidates: tuple[Candidate, ...] = ()  # recent, in no open incident
    incidents: tuple[Incident, ...] = ()  # open


@dataclass(frozen=True, slots=True)
class IncidentDecision:
    """`open`: announce it with `members`; `join`: tag `members` (announced later by an
    `update`); `update`: a thread reply naming `members`; `resolve`: it is over."""

    kind: Literal["open", "join", "update", "resolve"]
    incident: Incident  # as it is after this decision
    members: tuple[Member, ...] = ()
    sequence: int = 0  # the update's number (for exactly-once keys)


@dataclass(frozen=True, slots=True)
class IncidentEvaluation:
    window: IncidentWindow
    decisions: tuple[IncidentDecision, ...] = field(default_factory=tuple)


def _member(candidate: Candidate, key_term: str | None = None) -> Member:
    phrase = candidate.label
    if not phrase and key_term is not None and key_term in candidate.terms:
        phrase = candidate.words[candidate.terms.index(key_term)] \
            if len(candidate.words) == len(candidate.terms) else key_term
    if not phrase:
        phrase = " ".join(candidate.words[:MAX_PHRASES])
    return Member(candidate.source, candidate.ticket_id, candidate.message_id, candidate.at,
                  phrase=phrase, url=candidate.url, subject=candidate.subject)


def _matches(candidate: Candidate, incident: Incident) -> bool:
    if candidate.language != incident.language:
        return False
    if incident.key_term in candidate.terms:
        return True
    return len(set(incident.terms) & set(candidate.terms)) >= JOIN_SHARED_TERMS


def _incident_id(language: str, key_term: str, first: Candidate) -> str:
    """Deterministic: the same messages give the same id on every replica and replay."""
    seed = f"{language}|{key_term}|{first.source}|{first.message_id}"
    return hashlib.sha256(seed.encode()).hexdigest()[:16]


def _topic_label(members: Sequence[Candidate], key_term: str) -> str:
    """Claude's most common label, else the word customers used most for the key term."""
    labels = Counter(c.label.strip().lower() for c in members if c.label.strip())
    if labels:
        return labels.most_common(1)[0][0][:80]
    words = Counter(c.words[c.terms.index(key_term)] for c in members
                    if key_term in c.terms and len(c.words) == len(c.terms))
    return (words.most_common(1)[0][0] if words else key_term)[:80]


class _TermIndex:
    """(language, term) -> ticket -> that ticket's pooled candidates with the term: finds
    the tickets sharing a term without scanning the whole pool for every arrival."""

    def __init__(self, pool: Iterable[Candidate]) -> None:
        self.by_term: dict[tuple[str, str], dict[tuple[str, str], list[Candidate]]] = {}
        for candidate in pool:
            self.add(candidate)

    def add(self, candidate: Candidate) -> None:
        for term in set(candidate.terms):
            tickets = self.by_term.setdefault((candidate.language, term), {})
            tickets.setdefault(candidate.ticket, []).append(candidate)

    def remove(self, used: Iterable[Candidate]) -> None:
        for candidate in used:
            for term in set(candidate.terms):
                tickets = self.by_term.get((candidate.language, term))
                if tickets is None:
                    continue
                held = tickets.get(candidate.ticket)
                if held is not None:
                    held[:] = [c for c in held if c is not candidate]
                    if not held:
                        del tickets[candidate.ticket]


def _one_sense(chosen: Sequence[Candidate], key_term: str) -> list[Candidate]:
    """The members that use the key term in one sense.

    Tickets are linked when they share a term besides the key term.  When two or more
    groups of at least two tickets each form (the password "reset link" and the search
    filters that "reset"; a "gift card" and a "card declined at checkout"), the term
    means different things: only the largest group is kept, with the tickets that share
    nothing else (a bare "is checkout down?" fits any group).  One group: all of them.
    """
    parent = list(range(len(chosen)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first_with: dict[str, int] = {}
    for position, candidate in enumerate(chosen):
        for term in candidate.terms:
            if term == key_term:
                continue
            if term in first_with:
                parent[root(position)] = root(first_with[term])
            else:
                first_with[term] = position
    groups: dict[int, list[int]] = {}
    for position in range(len(chosen)):
        groups.setdefault(root(position), []).append(position)
    linked = sorted((g for g in groups.values() if len(g) >= 2), key=lambda g: (-len(g), g[0]))
    if len(linked) < 2:
        return list(chosen)
    keep = set(linked[0]) | {g[0] for g in groups.values() if len(g) == 1}
    return [c for position, c in enumerate(chosen) if position in keep]


def _open(index: _TermIndex, trigger: Candidate, settings: IncidentSettings,
          now: datetime) -> tuple[Incident, tuple[Candidate, ...]] | None:
    """An incident around one of `trigger`'s terms, if enough tickets share it (in one
    sense, see `_one_sense`)."""
    min_tickets, below = settings.min_tickets, settings.below
    if not is_candidate(trigger.score, trigger.signals, below):
        return None  # a weak candidate never tips the count: it only tags along
    best: tuple[int, str, list[Candidate]] | None = None
    for term in dict.fromkeys(trigger.terms):
        sharing = index.by_term.get((trigger.language, term), {})
        if len(sharing) < min_tickets:
            continue
        # One candidate per ticket (its latest message about the term) is the member.
        chosen = _one_sense(sorted((max(held, key=lambda c: c.at) for held in sharing.values()),
                                   key=lambda c: (c.at, c.source, c.message_id)), term)
        if trigger.ticket not in {c.ticket for c in chosen}:
            continue  # the trigger's own sense is not the main one: not this term
        counting = {c.ticket for c in chosen if any(
            is_candidate(h.score, h.signals, below) for h in sharing[c.ticket])}
        if len(counting) >= min_tickets and (best is None or (len(counting), term) > best[:2]):
            best = (len(counting), term, chosen)
    if best is None:
        return None
    _count, key_term, chosen = best
    sharing = index.by_term[(trigger.language, key_term)]
    members = {c.ticket for c in chosen}
    # The members' other candidates with the term are used up with them.
    used = tuple(c for ticket, held in sharing.items() if ticket in members for c in held)
    share = Counter(term for c in chosen for term in set(c.terms))
    needed = max(2, int(len(chosen) * TOPIC_SHARE + 0.999))
    others = [t for t, n in sorted(share.items(), key=lambda item: (-item[1], item[0]))
              if n >= needed and t != key_term]
    terms = (key_term, *others[:MAX_TOPIC_TERMS - 1])
    incident = Incident(
        incident_id=_incident_id(trigger.language, key_term, chosen[0]),
        language=trigger.language, key_term=key_term, terms=terms,
        topic=_topic_label(chosen, key_term), opened_at=now,
        last_member_at=max(c.at for c in chosen),
        members=tuple(replace(_member(c, key_term), announced=True) for c in chosen),
        last_update_at=now)
    return incident, used


def evaluate_incidents(window: IncidentWindow, new: Sequence[Candidate],
                       settings: IncidentSettings, now: datetime) -> IncidentEvaluation:
    """Decisions for the candidates that just arrived (may be none: timers only)."""
    horizon = now - settings.window
    decisions: list[IncidentDecision] = []
    incidents = list(window.incidents)
    known = {c.message_id for c in window.candidates} \
        | {m.message_id for i in incidents for m in i.members}
    pool = [c for c in window.candidates if c.at >= horizon]
    arrivals: list[Candidate] = []
    for candidate in sorted(new, key=lambda c: (c.at, c.source, c.message_id)):
        if candidate.message_id in known or not candidate.terms or candidate.at < horizon \
                or not is_weak_candidate(candidate.score, candidate.signals, settings.below):
            continue
        known.add(candidate.message_id)
        arrivals.append(candidate)

    joined: dict[str, list[Member]] = {}
    index: _TermIndex | None = None  # built on the first arrival that needs it
    for candidate in arrivals:
        home = next((index for index, incident in enumerate(incidents)
                     if _matches(candidate, incident)), None)
        if home is not None:
            incident = incidents[home]
            if not incident.has(candidate.ticket):
                member = _member(candidate, incident.key_term)
                incidents[home] = replace(
                    incident, members=(*incident.members, member),
                    last_member_at=max(incident.last_member_at, candidate.at))
                joined.setdefault(incident.incident_id, []).append(member)
            continue  # a member writing again, or a new member: not in the pool
        pool.append(candidate)
        if index is None:
            index = _TermIndex(pool)
        else:
            index.add(candidate)
        opened = _open(index, candidate, settings, now)
        if opened is not None:
            incident, used = opened
            incidents.append(incident)
            index.remove(used)
            used_ids = {id(c) for c in used}
            pool = [c for c in pool if id(c) not in used_ids]
            decisions.append(IncidentDecision("open", incident, incident.members))

    by_id = {incident.incident_id: incident for incident in incidents}
    for incident_id, members in joined.items():
        decisions.append(IncidentDecision("join", by_id[incident_id], tuple(members)))

    still_open = _timers(incidents, settings, now, decisions)
    return IncidentEvaluation(IncidentWindow(tuple(pool), tuple(still_open)), tuple(decisions))


def _timers(incidents: list[Incident], settings: IncidentSettings, now: datetime,
            decisions: list[IncidentDecision]) -> list[Incident]:
    """Resolve the quiet incidents and announce pending members where an update is due
    (appending those decisions); the incidents still open."""
    still_open: list[Incident] = []
    for incident in incidents:
        pending = tuple(m for m in incident.members if not m.announced)
        if incident.last_member_at + settings.window <= now:
            resolved = replace(incident, state="resolved", resolved_at=now,
                               members=tuple(replace(m, announced=True)
                                             for m in incident.members))
            decisions.append(IncidentDecision("resolve", resolved, pending))
            continue
        due = incident.last_update_at is None \
            or now - incident.last_update_at >= settings.update_every
        if pending and due:
            incident = replace(incident, updates=incident.updates + 1, last_update_at=now,
                               members=tuple(replace(m, announced=True)
                                             for m in incident.members))
            decisions.append(IncidentDecision("update", incident, pending,
                                              sequence=incident.updates))
        still_open.append(incident)
    return still_open


def next_incident_due(window: IncidentWindow, settings: IncidentSettings) -> datetime | None:
    """When an evaluation without new messages would change something (an update to
    announce, a resolve), so the daemon's sweep knows when to run one."""
    due: list[datetime] = []
    for incident in window.incidents:
        due.append(incident.last_member_at + settings.window)
        if any(not m.announced for m in incident.members):
            due.append((incident.last_update_at or incident.opened_at) + settings.update_every)
    return min(due) if due else None
