"""Incident tracking in the daemon: topics, persisted window, outbox rows.

The decision is `rules.incidents.evaluate_incidents` (pure).  This module feeds it and
keeps its results: before a poll's transaction it turns the negative customer messages
into candidates (topic terms from daemon/topics.py, or Claude's topic label); inside the
poll's transaction it loads the window from the store (`incident_candidate`, `incident`,
`incident_member`), evaluates, writes the new window back and enqueues the side effects
with dedupe keys: the opening alert, rate-limited thread updates as tickets join, the
resolve, and the incident tag on every member ticket.  Everything commits with the
poll (under the source's fencing token) or not at all, so a restart or a second replica
never announces an incident twice.  On PostgreSQL an advisory lock serialises the
incident step of concurrent polls (sources polled in parallel, replicas), since an
incident spans sources.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection

from connectors.base import Alert, Message, TicketChange
from daemon.logs import get_logger
from daemon.scoring.base import Score
from daemon.store import T_INCIDENT_CANDIDATE as _CANDIDATE
from daemon.store import Store, clip
from daemon.store.outbox import pending_row
from daemon.topics import MAX_CHARS, extract_topic, surface_forms, topic_of_label
from rules.incidents import (
    Candidate,
    Incident,
    IncidentDecision,
    IncidentEvaluation,
    IncidentSettings,
    IncidentWindow,
    Member,
    evaluate_incidents,
    is_weak_candidate,
    next_incident_due,
)
from vocab import aware

log = get_logger("sentinel.incidents")

#: The outbox `source` of incident alerts: with the incident id as `ticket_id`, thread
#: updates find the opening alert's thread like a ticket's later alerts do.
INCIDENT_SOURCE = "incident"
#: Example phrases quoted in an alert, and the length of each.
EXAMPLES = 5
EXCERPT_CHARS = 140


@dataclass(slots=True)
class IncidentStep:
    decisions: list[IncidentDecision] = field(default_factory=list)
    enqueued: int = 0


def candidate_for(source: str, message: Message, text: str, score: Score,
                  below: float) -> Candidate | None:
    """The candidate a scored customer message makes, or None if it is not negative."""
    if message.author_role != "customer" \
            or not is_weak_candidate(score.score, score.signals, below):
        return None
    label = clip(_CANDIDATE.c.label, (score.topic or "").strip())
    topic = topic_of_label(label) if label else extract_topic(text)
    if label and not topic.terms:  # a label of stop words only: read the message instead
        topic = extract_topic(text)
    return Candidate(source=source, ticket_id=clip(_CANDIDATE.c.ticket_id, message.ticket_id),
                     message_id=clip(_CANDIDATE.c.message_id, message.message_id), at=message.created_at,
                     score=score.score, language=topic.language, terms=topic.terms,
                     words=topic.words, signals=frozenset(score.signals), label=label,
                     url=message.ticket.url, subject=clip(_CANDIDATE.c.subject, message.ticket.subject))


def excerpt(text: str, words: Sequence[str], limit: int = EXCERPT_CHARS) -> str:
    """The first sentence of `text` that contains one of `words` (the message's topic),
    on one line and capped; it is quoted to the on-call person as customer text."""
    text = text[:MAX_CHARS]  # where the topic words were read
    lowered = text.lower()
    for word in words:
        at = min((found for form in surface_forms(word)
                  if (found := lowered.find(form)) >= 0), default=-1)
        if at < 0:
            continue
        start = max((lowered.rfind(stop, 0, at) for stop in ".!?\n"), default=-1) + 1
        ends = [end for stop in ".!?\n" if (end := lowered.find(stop, at)) >= 0]
        end = min(ends) + 1 if ends else len(text)
        while end < len(text) and text[end] in ".!?":  # "broken!!!" keeps its three
            end += 1
        # A long sentence is cut around the word, not after its first `limit` characters.
        start = max(start, at - limit // 2)
        end = min(end, start + limit)
        sentence = " ".join(text[start:end].split())
        return sentence if len(sentence) < limit else sentence[:limit - 1] + "…"
    return ""


class IncidentTracker:
    """Loads, evaluates and persists the incident window inside a caller's transaction."""

    def __init__(self, store: Store, settings: Callable[[], IncidentSettings]) -> None:
        self.store = store
        self._settings = settings

    @property
    def settings(self) -> IncidentSettings:
        return self._settings()

    @property
    def enabled(self) -> bool:
        return self._settings().enabled

    def candidates(self, source: str, messages: Sequence[Message], texts: Sequence[str],
                   scores: dict[int, Score]) -> list[Candidate]:
        """Candidates among a batch (`scores` keyed by the message's index)."""
        settings = self._settings()
        if not settings.enabled:
            return []
        out = []
        for index, score in scores.items():
            candidate = candidate_for(source, messages[index], texts[index], score,
                                      settings.below)
            if candidate is not None and candidate.terms:
                out.append(candidate)
        return out

    def process(self, conn: Connection, new: Sequence[Candidate], now: datetime,
                texts: Mapping[str, str] | None = None) -> IncidentStep:
        """Evaluate and persist; `texts` (message id -> normalised text) are this batch's
        candidates' texts, quoted for new members (older members' come from the store)."""
        settings = self._settings()
        step = IncidentStep()
        if not settings.enabled:
            return step
        self.store.incidents.lock(conn)
        horizon = now - settings.window
        candidate_rows, incident_rows, member_rows = self.store.incidents.window(conn, horizon)
        window = _window(candidate_rows, incident_rows, member_rows)
        evaluation = self._with_excerpts(conn, evaluate_incidents(window, new, settings, now),
                                         texts or {})
        step.decisions = list(evaluation.decisions)

        before = {(c.source, c.message_id) for c in window.candidates}
        after = {(c.source, c.message_id): c for c in evaluation.window.candidates}
        # Only what a decision changed is written: an incident without one is as stored.
        touched: dict[str, Incident] = {}
        changed_members: dict[tuple[str, str, str], Member] = {}
        for decision in evaluation.decisions:
            incident = decision.incident
            touched[incident.incident_id] = incident
            # A join adds its members; open, update and resolve (re)announce them all.
            members = decision.members if decision.kind == "join" else incident.members
            for member in members:
                changed_members[(incident.incident_id, member.source, member.ticket_id)] = \
                    next(m for m in incident.members if m.ticket == member.ticket)
        for incident in evaluation.window.incidents:  # the latest state of each touched one
            if incident.incident_id in touched:
                touched[incident.incident_id] = incident
        due = {i.incident_id: next_incident_due(IncidentWindow((), (i,)), settings)
               for i in evaluation.window.incidents}
        self.store.incidents.save_window(
            conn,
            add_candidates=[_candidate_row(c) for key, c in after.items() if key not in before],
            drop_candidates=[key for key in before if key not in after], older_than=horizon,
            incidents=[_incident_row(i, due.get(i.incident_id)) for i in touched.values()],
            members=[_member_row(key[0], m) for key, m in changed_members.items()])
        rows: list[dict[str, Any]] = []
        for decision in evaluation.decisions:
            rows += self._outbox_rows(decision, settings, now)
            log.info("incident_" + decision.kind, incident_id=decision.incident.incident_id,
                     topic=decision.incident.topic, members=len(decision.incident.members),
                     new_members=len(decision.members))
        self.store.outbox.enqueue(conn, rows)
        step.enqueued = len(rows)
        return step

    def _with_excerpts(self, conn: Connection, evaluation: IncidentEvaluation,
                       texts: Mapping[str, str]) -> IncidentEvaluation:
        """New members quote their own sentence about the thing, not just its word.
        Computed here, for members only, so the other negative messages cost nothing."""
        new_members = [(incident_id, m) for d in evaluation.decisions if d.kind in ("open", "join")
                       for incident_id, m in ((d.incident.incident_id, m) for m in d.members)]
        if not new_members:
            return evaluation
        missing = [(m.source, m.message_id) for _, m in new_members if m.message_id not in texts]
        bodies = self.store.messages.bodies(conn, missing) if missing else {}
        quotes: dict[tuple[str, str], str] = {}
        for _, member in new_members:
            text = texts.get(member.message_id) or bodies.get((member.source, member.message_id))
            quote = excerpt(text, [member.phrase]) if text and member.phrase else ""
            if quote:
                quotes[(member.source, member.message_id)] = quote

        def quoted(incident: Incident) -> Incident:
            if not any((m.source, m.message_id) in quotes for m in incident.members):
                return incident
            return replace(incident, members=tuple(
                replace(m, phrase=quotes.get((m.source, m.message_id), m.phrase))
                for m in incident.members))

        return IncidentEvaluation(
            IncidentWindow(evaluation.window.candidates,
                           tuple(quoted(i) for i in evaluation.window.incidents)),
            tuple(replace(d, incident=quoted(d.incident), members=tuple(
                replace(m, phrase=quotes.get((m.source, m.message_id), m.phrase))
                for m in d.members)) for d in evaluation.decisions))

    def _outbox_rows(self, decision: IncidentDecision, settings: IncidentSettings,
                     now: datetime) -> list[dict[str, Any]]:
        incident = decision.incident
        key = f"incident|{incident.incident_id}|{decision.kind}"
        if decision.kind == "update":
            key += f"|{decision.sequence}"
        rows: list[dict[str, Any]] = []
        if decision.kind in ("open", "join") and settings.tag:
            change = TicketChange(add_tags=(settings.tag,)).to_json()
            for member in decision.members:
                rows.append(pending_row(f"incident|{incident.incident_id}|tag|{member.source}|"
                                        f"{member.ticket_id}", member.source, member.ticket_id,
                                        "change", member.source, change, now))
        if decision.kind == "join":
            return rows
        alert = incident_alert(decision, settings)
        for notifier in settings.notify:
            rows.append(pending_row(f"{key}|notify:{notifier}", INCIDENT_SOURCE,
                                    incident.incident_id, "alert", notifier, alert.to_json(),
                                    now))
        return rows


def incident_alert(decision: IncidentDecision, settings: IncidentSettings) -> Alert:
    """The chat message of an incident decision (rendered by the notifier)."""
    incident = decision.incident
    minutes = int(settings.window.total_seconds() // 60)
    shown = decision.members if decision.kind == "update" else incident.members
    phrases = list(dict.fromkeys(m.phrase for m in incident.members if m.phrase))[:EXAMPLES]
    reason = {"open": "incident_opened", "update": "incident_grew",
              "resolve": "incident_resolved"}.get(decision.kind, decision.kind)
    numbers: dict[str, Any] = {"customers": len(incident.members), "window_minutes": minutes}
    if decision.kind == "update":
        numbers["new_customers"] = len(decision.members)
    return Alert(source=INCIDENT_SOURCE, ticket_id=incident.incident_id, ticket_url="",
                 subject=incident.topic, customer=None, rule="incident",
                 kind="resolve" if decision.kind == "resolve" else "fire", reason=reason,
                 numbers=numbers, indicators=tuple(phrases),
                 members=tuple({"source": m.source, "ticket_id": m.ticket_id, "url": m.url,
                                "subject": m.subject} for m in shown))


def _window(candidate_rows: list[dict[str, Any]], incident_rows: list[dict[str, Any]],
            member_rows: list[dict[str, Any]]) -> IncidentWindow:
    members: dict[str, list[Member]] = {}
    for row in member_rows:
        members.setdefault(row["incident_id"], []).append(Member(
            source=row["source"], ticket_id=row["ticket_id"], message_id=row["message_id"],
            at=_at(row["joined_at"]), phrase=row["phrase"] or "", url=row["url"] or "",
            subject=row["subject"] or "", announced=bool(row["announced"])))
    incidents = tuple(Incident(
        incident_id=row["incident_id"], language=row["language"], key_term=row["key_term"],
        terms=tuple(row["terms"] or ()), topic=row["topic"] or "",
        opened_at=_at(row["opened_at"]), last_member_at=_at(row["last_member_at"]),
        members=tuple(members.get(row["incident_id"], ())), updates=int(row["updates"] or 0),
        last_update_at=aware(row["last_update_at"]), state="open") for row in incident_rows)
    candidates = tuple(Candidate(
        source=row["source"], ticket_id=row["ticket_id"], message_id=row["message_id"],
        at=_at(row["at"]), score=float(row["score"]), language=row["language"],
        terms=tuple(row["terms"] or ()), words=tuple(row["words"] or ()),
        signals=frozenset(row["signals"] or ()), label=row["label"] or "",
        url=row["url"] or "", subject=row["subject"] or "") for row in candidate_rows)
    return IncidentWindow(candidates, incidents)


def _at(value: datetime | None) -> datetime:
    moment = aware(value)
    assert moment is not None
    return moment


def _candidate_row(c: Candidate) -> dict[str, Any]:
    return {"source": c.source, "message_id": c.message_id, "ticket_id": c.ticket_id,
            "at": aware(c.at), "score": c.score, "language": c.language,
            "terms": list(c.terms), "words": list(c.words), "signals": sorted(c.signals),
            "label": c.label, "url": c.url, "subject": c.subject}


def _incident_row(i: Incident, due_at: datetime | None) -> dict[str, Any]:
    return {"incident_id": i.incident_id, "state": i.state, "language": i.language,
            "key_term": i.key_term, "terms": list(i.terms), "topic": i.topic,
            "opened_at": aware(i.opened_at), "last_member_at": aware(i.last_member_at),
            "resolved_at": aware(i.resolved_at), "updates": i.updates,
            "last_update_at": aware(i.last_update_at), "members": len(i.members),
            "due_at": aware(due_at)}


def _member_row(incident_id: str, m: Member) -> dict[str, Any]:
    return {"incident_id": incident_id, "source": m.source, "ticket_id": m.ticket_id,
            "message_id": m.message_id, "joined_at": aware(m.at), "phrase": m.phrase,
            "url": m.url, "subject": m.subject, "announced": m.announced}
