"""One unit of work: a poll's messages -> normalise -> score -> persist -> evaluate -> enqueue.

`Pipeline.process` takes what a connector returned and the cursor that becomes valid
once those messages are stored.  Scoring happens before the transaction (so a slow remote
scorer never holds a database lock); then one transaction inserts the messages and
scores, refreshes ticket snapshots, evaluates the rules for every ticket that got a new
customer score, writes the per-rule history, the escalation log and the outbox rows, and
advances the cursor under the source's fencing token.  A crash anywhere before the
commit means the same messages come again; the unique keys make the second pass
harmless.  Side effects never happen here: the outbox job delivers them.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Connection

from connectors.base import Alert, Message, TicketChange
from daemon.alerting import (
    AlertContext,
    alert_context,
    excerpt_redactor,
    ticket_people,
)
from daemon.incidents import IncidentTracker
from daemon.logs import get_logger
from daemon.scoring.base import Score, Scorer
from daemon.scoring.redact import Redactor
from daemon.store import Store
from daemon.text import normalise
from rules.engine import (
    ConversationState,
    Decision,
    RuleHistory,
    ScoredMessage,
    TicketView,
    apply_actions,
    evaluate,
    next_due_at,
)
from rules.feedback import FeedbackState, FeedbackTags, Mark, muted_rules, read_marks
from rules.incidents import IncidentDecision
from rules.lifecycle import RuleHistory as _History
from rules.model import RuleSet
from vocab import aware, utcnow

log = get_logger("sentinel.pipeline")


@dataclass(slots=True)
class BatchResult:
    fetched: int = 0
    new: int = 0
    scored: int = 0
    escalated: int = 0
    enqueued: int = 0
    fallbacks: dict[str, int] = dataclasses.field(default_factory=dict)  # reason -> count
    decisions: list[tuple[str, Decision]] = dataclasses.field(default_factory=list)
    incidents: list[IncidentDecision] = dataclasses.field(default_factory=list)
    marks: list[tuple[str, Mark]] = dataclasses.field(default_factory=list)  # agents' marks
    disagreements: int = 0  # messages whose model verdict the evidence overruled


def _snapshot_row(source: str, message: Message, now: datetime) -> dict[str, Any]:
    ticket = message.ticket
    return {"source": source, "ticket_id": message.ticket_id, "subject": ticket.subject[:500],
            "url": ticket.url, "status": ticket.status, "priority": ticket.priority,
            "tags": list(ticket.tags), "requester": ticket.requester,
            "assignee": ticket.assignee, "assignee_group": ticket.group, "updated_at": now}


def _snapshot_key(row: Mapping[str, Any]) -> tuple[Any, ...]:
    return (row.get("subject"), row.get("url"), row.get("status"), row.get("priority"),
            tuple(row.get("tags") or ()), row.get("requester"), row.get("assignee"),
            row.get("assignee_group"))


def _ticket_view(source: str, row: Mapping[str, Any], in_incident: bool = False) -> TicketView:
    return TicketView(source=source, ticket_id=row["ticket_id"], subject=row.get("subject") or "",
                      url=row.get("url") or "", status=row.get("status"),
                      priority=row.get("priority"), tags=frozenset(row.get("tags") or ()),
                      requester=row.get("requester"), in_incident=in_incident)


class Pipeline:
    """Turns polled messages into stored scores, decisions and queued side effects."""

    def __init__(self, store: Store, scorer: Scorer, rules: Callable[[], RuleSet], *,
                 max_chars: int = 20_000, score_agent_messages: bool = False,
                 clock: Callable[[], datetime] = utcnow,
                 series_cache_size: int = 5_000, redactor: Redactor | None = None,
                 incidents: IncidentTracker | None = None,
                 feedback_tags: FeedbackTags | None = None) -> None:
        self.store = store
        self.incidents = incidents
        self.scorer = scorer
        self._rules = rules
        self.max_chars = max_chars
        self.score_agent_messages = score_agent_messages
        self._clock = clock
        #: (source, ticket) -> committed customer series; saves re-reading every batch.
        self._series: OrderedDict[tuple[str, str], tuple[ScoredMessage, ...]] = OrderedDict()
        self._series_token: dict[str, int] = {}
        self._series_lock = threading.Lock()
        #: (source, ticket) -> the snapshot this process last wrote (skip identical writes)
        self._written: OrderedDict[tuple[str, str], tuple[Any, ...]] = OrderedDict()
        self.series_cache_size = series_cache_size
        #: Alert excerpts are redacted like text sent to a model: chat is a third party.
        self.redactor = redactor or excerpt_redactor()
        #: (source, ticket) -> assignee/group of the latest snapshot polled (for alerts)
        self._people: OrderedDict[tuple[str, str], dict[str, str | None]] = OrderedDict()
        self.feedback_tags = feedback_tags or FeedbackTags()

    def process(self, source: str, messages: Sequence[Message], next_cursor: str | None, *,
                fencing: int | None = None, evaluate_rules: bool = True,
                side_effects: bool = True) -> BatchResult:
        now = aware(self._clock())
        assert now is not None
        result = BatchResult(fetched=len(messages))
        unique: dict[str, Message] = {}
        for message in messages:
            if not message.own_note:
                unique.setdefault(message.message_id, message)
        with self.store.reading() as conn:
            known = self.store.known_message_ids(conn, source, list(unique))
        fresh = [m for m in unique.values() if m.message_id not in known]
        result.new = len(fresh)

        texts = [normalise(m.body, is_html=m.body_is_html, max_chars=self.max_chars)
                 for m in fresh]
        to_score = [i for i, m in enumerate(fresh) if self._scored(m)]
        scores: dict[int, Score] = {}
        if to_score:
            produced = self.scorer.score([texts[i].text for i in to_score])
            scores = dict(zip(to_score, produced, strict=True))
        result.scored = len(scores)
        for index, produced_score in scores.items():
            if "scorer_disagreement" in produced_score.signals:
                result.disagreements += 1
                # Ids and numbers only: the text is the customer's.
                log.warning("scorer_disagreement", source=source,
                            ticket_id=fresh[index].ticket_id,
                            message_id=fresh[index].message_id, score=produced_score.score)
            if produced_score.scorer == "fallback":
                reason = produced_score.fallback_reason or "unavailable"
                result.fallbacks[reason] = result.fallbacks.get(reason, 0) + 1

        rows: list[dict[str, Any]] = []
        for index, message in enumerate(fresh):
            text = texts[index]
            score = scores.get(index)
            rows.append({
                "source": source, "message_id": message.message_id[:128],
                "ticket_id": message.ticket_id[:128], "author_role": message.author_role,
                "author_id": message.author_id, "author_name": (message.author_name or "")[:256]
                or None, "public": message.public, "created_at": message.created_at,
                "body": text.text, "body_chars": text.original_chars, "truncated": text.truncated,
                "score": score.score if score else None, "label": score.label if score else None,
                "confidence": score.confidence if score else None,
                "indicators": list(score.indicators) if score else [],
                "signals": sorted(score.signals) if score else [],
                "scorer": score.scorer if score else None,
                "model": score.model[:64] if score else None,
                "needs_rescore": bool(score and score.needs_rescore),
                "language": (score.language or None) if score else None,
                "language_supported": score.language_supported if score else None,
                "stored_at": now})
        snapshots: dict[str, dict[str, Any]] = {}
        for message in messages:  # the last snapshot of a ticket in the batch wins
            snapshots[message.ticket_id] = _snapshot_row(source, message, now)
        self._note_people(source, messages)
        touched = sorted({fresh[i].ticket_id for i in scores if fresh[i].author_role == "customer"})
        added: dict[str, list[ScoredMessage]] = {}
        for index, score in scores.items():
            message = fresh[index]
            if message.author_role == "customer":
                added.setdefault(message.ticket_id, []).append(ScoredMessage(
                    message_id=message.message_id[:128], created_at=message.created_at,
                    score=score.score, label=score.label, signals=frozenset(score.signals),
                    indicators=tuple(score.indicators), language=score.language,
                    supported=score.language_supported))

        # Topics are read outside the transaction, like scores (CPU only, no lock held).
        candidates = (self.incidents.candidates(source, fresh, [t.text for t in texts], scores)
                      if self.incidents is not None and side_effects else [])
        if fencing is not None and self._series_token.get(source) != fencing:
            self._forget(source)  # the lease changed hands since: another replica may have written
        pending: dict[tuple[str, str], tuple[ScoredMessage, ...]] = {}
        try:
            with self.store.transaction() as conn:
                self.store.check_fence(conn, source, fencing)
                self.store.insert_messages(conn, rows)
                # A snapshot identical to the one this process last wrote is not written again.
                keys = {ticket_id: _snapshot_key(row) for ticket_id, row in snapshots.items()}
                with self._series_lock:
                    changed = [row for ticket_id, row in snapshots.items()
                               if self._written.get((source, ticket_id)) != keys[ticket_id]]
                self.store.upsert_tickets(conn, changed)
                if candidates and self.incidents is not None:
                    step = self.incidents.process(conn, candidates, now, {
                        fresh[i].message_id[:128]: texts[i].text for i in scores})
                    result.enqueued += step.enqueued
                    result.incidents += step.decisions
                feedback, histories = (
                    self._read_feedback(conn, source, snapshots, added, now, result)
                    if evaluate_rules and snapshots else (None, None))
                if evaluate_rules and touched:
                    self._evaluate(conn, source, touched, now, side_effects, result, added, pending,
                                   snapshots, feedback, histories)
                if next_cursor is not None:
                    self.store.advance_cursor(conn, source, next_cursor, now, result.new)
        except BaseException:
            # Rolled back, or committed without our hearing so (the connection dropped at
            # COMMIT): either way this source's caches may now disagree with the database.
            self._forget(source)
            raise
        self._remember(source, fencing, pending,  # only once committed
                       {(source, row["ticket_id"]): keys[row["ticket_id"]] for row in changed})
        return result

    def incident_timers(self) -> BatchResult:
        """Announce pending incident updates and resolve quiet incidents (the sweep)."""
        result = BatchResult()
        if self.incidents is not None and self.incidents.enabled:
            with self.store.transaction() as conn:
                step = self.incidents.process(conn, [], self._clock())
            result.enqueued += step.enqueued
            result.incidents += step.decisions
        return result

    def reevaluate(self, source: str, ticket_ids: Sequence[str]) -> BatchResult:
        """Evaluate tickets without new messages (resolve timers of firing rules).

        It reads the series cache but never writes it: a poll of the same source may be
        committing newer messages at the same time.
        """
        result = BatchResult()
        if ticket_ids:
            with self.store.transaction() as conn:
                self._evaluate(conn, source, list(ticket_ids), self._clock(), True, result,
                               {}, {})
        return result

    def _note_people(self, source: str, messages: Sequence[Message]) -> None:
        """Remember who owns each ticket (when the connector says), for alerts."""
        latest = {m.ticket_id: ticket_people(m.ticket) for m in messages}
        with self._series_lock:
            for ticket_id, people in latest.items():
                if people:
                    key = (source, ticket_id)
                    self._people[key] = people
                    self._people.move_to_end(key)
            while len(self._people) > self.series_cache_size:
                self._people.popitem(last=False)

    def _scored(self, message: Message) -> bool:
        if not message.public or message.author_role == "system":
            return False
        return message.author_role == "customer" or self.score_agent_messages

    def forget_cached(self) -> None:
        """Drop every cached series and snapshot: retention or an erasure changed the
        rows under them (the next batch reads the database again)."""
        with self._series_lock:
            self._series.clear()
            self._written.clear()

    def _forget(self, source: str) -> None:
        with self._series_lock:
            for key in [k for k in self._series if k[0] == source]:
                del self._series[key]
            for key in [k for k in self._written if k[0] == source]:
                del self._written[key]

    def _remember(self, source: str, fencing: int | None,
                  pending: dict[tuple[str, str], tuple[ScoredMessage, ...]],
                  written: dict[tuple[str, str], tuple[Any, ...]]) -> None:
        """What a batch committed: its series and the snapshots it wrote (bounded LRUs)."""
        with self._series_lock:
            if fencing is not None:
                self._series_token[source] = fencing
            caches: tuple[tuple[OrderedDict[Any, Any], Mapping[Any, Any]], ...] = (
                (self._series, pending), (self._written, written))
            for cache, entries in caches:
                for key, value in entries.items():
                    cache[key] = value
                    cache.move_to_end(key)
                while len(cache) > self.series_cache_size:
                    cache.popitem(last=False)

    def _series_for(self, conn: Connection, source: str, ticket_ids: list[str],
                    added: dict[str, list[ScoredMessage]],
                    pending: dict[tuple[str, str], tuple[ScoredMessage, ...]],
                    ) -> dict[str, tuple[ScoredMessage, ...]]:
        """Each ticket's scored customer messages, oldest first: cache plus this batch.

        The cache holds committed series only, for sources whose lease this process
        holds; a miss reads the database (which already has this batch's rows).
        """
        out: dict[str, tuple[ScoredMessage, ...]] = {}
        misses: list[str] = []
        for ticket_id in ticket_ids:
            with self._series_lock:
                cached = self._series.get((source, ticket_id))
            if cached is None:
                misses.append(ticket_id)
                continue
            new = added.get(ticket_id, [])
            if new and cached and min(m.created_at for m in new) < cached[-1].created_at:
                merged = sorted((*cached, *new), key=lambda m: m.created_at)  # stable
                out[ticket_id] = tuple(merged)
            else:
                out[ticket_id] = (*cached, *new)
        if misses:
            loaded = self.store.customer_series(conn, source, misses)
            for ticket_id in misses:
                out[ticket_id] = tuple(
                    ScoredMessage(message_id=m["message_id"], created_at=aware(m["created_at"])
                                  or datetime.min.replace(tzinfo=UTC), score=float(m["score"]),
                                  label=m["label"] or "neutral",
                                  signals=frozenset(m["signals"] or ()),
                                  indicators=tuple(m["indicators"] or ()),
                                  language=m["language"] or "",
                                  supported=m["language_supported"] is not False)
                    for m in loaded.get(ticket_id, []))
        for ticket_id, series in out.items():
            pending[(source, ticket_id)] = series
        return out

    def _read_feedback(self, conn: Connection, source: str,
                       snapshots: dict[str, dict[str, Any]],
                       added: dict[str, list[ScoredMessage]], now: datetime,
                       result: BatchResult) -> tuple[dict[str, dict[str, FeedbackState]],
                                                     dict[str, dict[str, dict[str, Any]]]]:
        """Agents' marks in this batch's ticket snapshots (no extra vendor request): logged
        against the escalation, the episode closed and the rule muted (rules.feedback).
        Returns every snapshot ticket's feedback records and rule histories (as stored,
        with this step's changes), so the evaluation need not read them again."""
        rules = self._rules()
        ticket_ids = list(snapshots)
        histories = self.store.rule_states(conn, source, ticket_ids)
        stored = self.store.feedback_states(conn, source, ticket_ids)
        out: dict[str, dict[str, FeedbackState]] = {}
        state_rows: list[dict[str, Any]] = []
        rule_rows: list[dict[str, Any]] = []
        log_rows: list[dict[str, Any]] = []
        mark_tags = {self.feedback_tags.false_alarm, self.feedback_tags.missed}
        for ticket_id in ticket_ids:
            tags = frozenset(snapshots[ticket_id].get("tags") or ())
            raw = histories.get(ticket_id, {})
            if not (stored.get(ticket_id) or tags & mark_tags
                    or any(data.get("state") == "firing" for data in raw.values())):
                out[ticket_id] = {}  # nothing fired, nothing marked: nothing to read
                continue
            states = {rule: FeedbackState.from_row(row)
                      for rule, row in stored.get(ticket_id, {}).items()}
            history = {name: _History.from_json(data) for name, data in raw.items()}
            new = added.get(ticket_id)
            reading = read_marks(
                tags=tags, rules=rules,
                history=history, states=states, marks=self.feedback_tags,
                latest_message_id=max(new, key=lambda m: m.created_at).message_id
                if new else None, now=now)
            states.update(reading.states)
            out[ticket_id] = states
            for rule, state in reading.states.items():
                state_rows.append({"source": source, "ticket_id": ticket_id, "rule": rule,
                                   **state.to_row(), "updated_at": now})
            for name, record in reading.history.items():
                histories.setdefault(ticket_id, {})[name] = record.to_json()
                rule_rows.append({"source": source, "ticket_id": ticket_id, "rule": name,
                                  "state": record.state, "history": record.to_json(),
                                  "updated_at": now, "due_at": None})
            for mark in reading.marks:
                result.marks.append((ticket_id, mark))
                log.info("feedback_mark", source=source, ticket_id=ticket_id, rule=mark.rule,
                         kind=mark.kind, via=mark.via, fire_count=mark.fire_count)
                log_rows.append({"source": source, "ticket_id": ticket_id, "rule": mark.rule,
                                 "kind": mark.kind, "reason": f"agent_{mark.via}",
                                 "numbers": {"fire_count": mark.fire_count,
                                             "escalated_at": mark.escalated_at.isoformat()
                                             if mark.escalated_at else None},
                                 "at": now, "backfill": False})
        self.store.save_feedback_states(conn, state_rows)
        self.store.save_rule_states(conn, rule_rows)
        self.store.log_escalations(conn, log_rows)
        return out, histories

    def _evaluate(self, conn: Connection, source: str, ticket_ids: list[str], now: datetime,
                  side_effects: bool, result: BatchResult,
                  added: dict[str, list[ScoredMessage]],
                  pending: dict[tuple[str, str], tuple[ScoredMessage, ...]],
                  snapshots: dict[str, dict[str, Any]] | None = None,
                  feedback: dict[str, dict[str, FeedbackState]] | None = None,
                  histories: dict[str, dict[str, dict[str, Any]]] | None = None) -> None:
        rules = self._rules()
        if feedback is None:
            feedback = {ticket: {rule: FeedbackState.from_row(row) for rule, row in rows.items()}
                        for ticket, rows in self.store.feedback_states(
                            conn, source, ticket_ids).items()}
        debug = logging.getLogger("sentinel.pipeline").isEnabledFor(logging.DEBUG)
        series = self._series_for(conn, source, ticket_ids, added, pending)
        # This batch's snapshots are what was just written; read only the others.
        tickets = {t: snapshots[t] for t in ticket_ids if snapshots and t in snapshots}
        missing = [t for t in ticket_ids if t not in tickets]
        if missing:
            tickets.update(self.store.tickets(conn, source, missing))
        states = ({t: histories.get(t, {}) for t in ticket_ids} if histories is not None
                  and all(t in (feedback or {}) for t in ticket_ids)
                  else self.store.rule_states(conn, source, ticket_ids))
        in_incident = (self.store.tickets_in_open_incidents(conn, source, ticket_ids)
                       if rules.inhibited_by_incident() else set())
        rule_rows: list[dict[str, Any]] = []
        log_rows: list[dict[str, Any]] = []
        outbox_rows: list[dict[str, Any]] = []
        ticket_rows: list[dict[str, Any]] = []
        for ticket_id in ticket_ids:
            ticket_row = tickets.get(ticket_id) or {"ticket_id": ticket_id}
            scored = series.get(ticket_id, ())
            state = ConversationState(ticket=_ticket_view(source, ticket_row,
                                                          ticket_id in in_incident),
                                      customer_messages=scored)
            history = {name: RuleHistory.from_json(data)
                       for name, data in states.get(ticket_id, {}).items()}
            latest = scored[-1].message_id if scored else None
            evaluation = evaluate(state, rules, history, now,
                                  muted_rules(feedback.get(ticket_id, {}), latest))
            if debug:
                log.debug("ticket_scored", source=source, ticket_id=ticket_id,
                          scores=[round(m.score, 2) for m in scored[-8:]],
                          messages=len(scored), fired=[d.rule for d in evaluation.decisions])
            for warning in evaluation.warnings:
                log.warning("rule_warning", source=source, ticket_id=ticket_id, warning=warning)
            for name, new in evaluation.history.items():
                if history.get(name) != new:
                    rule_rows.append({"source": source, "ticket_id": ticket_id, "rule": name,
                                      "state": new.state, "history": new.to_json(),
                                      "updated_at": aware(now),
                                      "due_at": next_due_at(rules, {name: new})})
            changed_ticket = dict(ticket_row)
            for decision in evaluation.decisions:
                result.decisions.append((ticket_id, decision))
                if decision.kind == "fire":
                    result.escalated += 1
                log_rows.append({"source": source, "ticket_id": ticket_id, "rule": decision.rule,
                                 "kind": decision.kind, "reason": decision.reason[:64],
                                 "numbers": _jsonable(decision.numbers), "at": aware(now),
                                 "backfill": not side_effects})
                if not side_effects:
                    continue
                new_history = evaluation.history.get(decision.rule)
                sequence = getattr(new_history, "fire_count", 0)
                key = f"{source}|{ticket_id}|{decision.rule}|{decision.kind}|{sequence}"
                actions = decision.actions
                before = changed_ticket  # this decision's alert shows the priority it found
                change = TicketChange(add_tags=tuple(actions.add_tags),
                                      remove_tags=tuple(actions.remove_tags),
                                      priority=actions.priority, note=actions.note)
                if not change.is_empty():
                    outbox_rows.append(self._outbox_row(key + "|change", source, ticket_id,
                                                        "change", source, change.to_json(), now))
                    # What the ticket will look like once delivered: later evaluations
                    # (inhibition by tag, priority_below) see it before the vendor does.
                    expected = apply_actions(_ticket_view(source, changed_ticket), actions)
                    changed_ticket = {**changed_ticket, "tags": sorted(expected.tags),
                                      "priority": expected.priority}
                context: AlertContext | None = None
                if actions.notify:
                    with self._series_lock:
                        people = dict(self._people.get((source, ticket_id), {}))
                    context = alert_context(self.store, conn, source, ticket_id, before,
                                            people, scored, decision, self.redactor,
                                            self.feedback_tags.false_alarm)
                for notifier in actions.notify:
                    assert context is not None
                    alert = Alert(
                        source=source, ticket_id=ticket_id,
                        ticket_url=ticket_row.get("url") or "",
                        subject=ticket_row.get("subject") or "",
                        customer=ticket_row.get("requester"), rule=decision.rule,
                        kind=decision.kind, reason=decision.reason,
                        numbers=_jsonable(decision.numbers), indicators=decision.indicators,
                        scores=[round(m.score, 3) for m in scored][-30:], **context.fields())
                    outbox_rows.append(self._outbox_row(f"{key}|notify:{notifier}", source,
                                                        ticket_id, "alert", notifier,
                                                        alert.to_json(), now))
            if changed_ticket != ticket_row and "source" in changed_ticket:
                ticket_rows.append({**changed_ticket, "updated_at": aware(now)})
        self.store.save_rule_states(conn, rule_rows)
        self.store.log_escalations(conn, log_rows)
        self.store.enqueue(conn, outbox_rows)
        self.store.upsert_tickets(conn, ticket_rows)
        result.enqueued += len(outbox_rows)

    @staticmethod
    def _outbox_row(key: str, source: str, ticket_id: str, kind: str, target: str,
                    payload: dict[str, Any], now: datetime) -> dict[str, Any]:
        return {"dedupe_key": key[:512], "source": source, "ticket_id": ticket_id, "kind": kind,
                "target": target, "payload": payload, "status": "pending", "attempts": 0,
                "next_attempt_at": aware(now), "created_at": aware(now), "result": {}}


def _jsonable(numbers: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in numbers.items():
        if isinstance(value, str | int | float | bool) or value is None:
            out[key] = value
        elif isinstance(value, frozenset | set | tuple | list):
            out[key] = sorted(str(v) for v in value)
        else:
            out[key] = str(value)
    return out
