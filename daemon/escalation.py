"""The rules' step of a batch, inside its transaction: agents' marks, evaluation, records.

For the tickets of one batch: read the agents' marks from the ticket snapshots
(rules.feedback: log them, close the episode, mute the rule), evaluate the rules over each
ticket's customer series, and write what follows: the per-rule history, the escalation
log, the outbox rows (ticket changes and alerts) and the ticket as it will look once the
changes are delivered.  Everything a batch's alerts tell the agent is read once for the
batch (daemon.alerting), so the cost per message does not grow with the number of tickets.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection

from connectors.base import Alert, TicketChange
from daemon.alerting import alert_context
from daemon.logs import get_logger
from daemon.scoring.redact import Redactor
from daemon.store import Store
from daemon.store.outbox import pending_row
from rules.engine import (
    ConversationState,
    Decision,
    Evaluation,
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

log = get_logger("sentinel.pipeline")

Rows = list[dict[str, Any]]
Histories = dict[str, dict[str, dict[str, Any]]]  # ticket -> rule -> stored history


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


@dataclass(slots=True)
class _Evaluated:
    """One ticket's evaluation, before its records are written."""

    ticket_id: str
    ticket: dict[str, Any]  # the snapshot as evaluated
    scored: tuple[ScoredMessage, ...]
    evaluation: Evaluation


def ticket_view(source: str, row: Mapping[str, Any], in_incident: bool = False) -> TicketView:
    return TicketView(source=source, ticket_id=row["ticket_id"], subject=row.get("subject") or "",
                      url=row.get("url") or "", status=row.get("status"),
                      priority=row.get("priority"), tags=frozenset(row.get("tags") or ()),
                      requester=row.get("requester"), in_incident=in_incident)


class Escalator:
    """Reads marks and evaluates rules for a batch's tickets; writes what follows."""

    def __init__(self, store: Store, rules: Callable[[], RuleSet], feedback_tags: FeedbackTags,
                 redactor: Redactor, people: Callable[[str, str], dict[str, str | None]]) -> None:
        self.store = store
        self._rules = rules
        self.feedback_tags = feedback_tags
        self.redactor = redactor
        self._people = people

    def read_feedback(self, conn: Connection, source: str, snapshots: dict[str, dict[str, Any]],
                      added: dict[str, list[ScoredMessage]], now: datetime,
                      result: BatchResult) -> tuple[dict[str, dict[str, FeedbackState]], Histories]:
        """Agents' marks in this batch's ticket snapshots (no extra vendor request): logged
        against the escalation, the episode closed and the rule muted (rules.feedback).
        Returns every snapshot ticket's feedback records and rule histories (as stored,
        with this step's changes), so the evaluation need not read them again."""
        rules = self._rules()
        histories = self.store.rules.states(conn, source, list(snapshots))
        stored = self.store.rules.feedback(conn, source, list(snapshots))
        out: dict[str, dict[str, FeedbackState]] = {}
        rows: tuple[Rows, Rows, Rows] = ([], [], [])  # feedback, rule state, escalation log
        mark_tags = {self.feedback_tags.false_alarm, self.feedback_tags.missed}
        for ticket_id, snapshot in snapshots.items():
            tags = frozenset(snapshot.get("tags") or ())
            raw = histories.get(ticket_id, {})
            out[ticket_id] = {}
            if not (stored.get(ticket_id) or tags & mark_tags
                    or any(data.get("state") == "firing" for data in raw.values())):
                continue  # nothing fired, nothing marked: nothing to read
            states = {rule: FeedbackState.from_row(row)
                      for rule, row in stored.get(ticket_id, {}).items()}
            new = added.get(ticket_id)
            reading = read_marks(
                tags=tags, rules=rules, states=states, marks=self.feedback_tags, now=now,
                history={name: _History.from_json(data) for name, data in raw.items()},
                latest_message_id=max(new, key=lambda m: m.created_at).message_id
                if new else None)
            out[ticket_id] = {**states, **reading.states}
            base = {"source": source, "ticket_id": ticket_id}
            rows[0].extend({**base, "rule": rule, **state.to_row(), "updated_at": now}
                           for rule, state in reading.states.items())
            for name, record in reading.history.items():
                histories.setdefault(ticket_id, {})[name] = record.to_json()
                rows[1].append({**base, "rule": name, "state": record.state,
                                "history": record.to_json(), "updated_at": now, "due_at": None})
            for mark in reading.marks:
                result.marks.append((ticket_id, mark))
                log.info("feedback_mark", source=source, ticket_id=ticket_id, rule=mark.rule,
                         kind=mark.kind, via=mark.via, fire_count=mark.fire_count)
                rows[2].append(_mark_row(base, mark, now))
        self.store.rules.save_feedback(conn, rows[0])
        self.store.rules.save_states(conn, rows[1])
        self.store.rules.log_escalations(conn, rows[2])
        return out, histories

    def evaluate(self, conn: Connection, source: str, series: dict[str, tuple[ScoredMessage, ...]],
                 now: datetime, result: BatchResult,
                 snapshots: Mapping[str, dict[str, Any]] | None = None,
                 feedback: dict[str, dict[str, FeedbackState]] | None = None,
                 histories: Histories | None = None) -> None:
        """Evaluate the tickets of `series`; write history, log, outbox rows, tickets.

        `snapshots`, `feedback` and `histories` are what the batch already holds (read
        from the database what is missing)."""
        rules = self._rules()
        ticket_ids = list(series)
        tickets = {t: snapshots[t] for t in ticket_ids if snapshots and t in snapshots}
        if missing := [t for t in ticket_ids if t not in tickets]:
            tickets.update(self.store.messages.tickets(conn, source, missing))
        if feedback is None or histories is None or any(t not in feedback for t in ticket_ids):
            feedback = {t: {rule: FeedbackState.from_row(row) for rule, row in rows.items()}
                        for t, rows in self.store.rules.feedback(conn, source, ticket_ids).items()}
            histories = self.store.rules.states(conn, source, ticket_ids)
        in_incident = (self.store.incidents.tickets_in_open(conn, source, ticket_ids)
                       if rules.inhibited_by_incident() else set())
        debug = log_debug()
        evaluated: list[_Evaluated] = []
        rule_rows: Rows = []
        for ticket_id, scored in series.items():
            ticket = tickets.get(ticket_id) or {"ticket_id": ticket_id}
            history = {name: RuleHistory.from_json(data)
                       for name, data in histories.get(ticket_id, {}).items()}
            state = ConversationState(ticket=ticket_view(source, ticket, ticket_id in in_incident),
                                      customer_messages=scored)
            latest = scored[-1].message_id if scored else None
            evaluation = evaluate(state, rules, history, now,
                                  muted_rules(feedback.get(ticket_id, {}), latest))
            if debug:
                log.debug("ticket_scored", source=source, ticket_id=ticket_id,
                          scores=[round(m.score, 2) for m in scored[-8:]],
                          messages=len(scored), fired=[d.rule for d in evaluation.decisions])
            for warning in evaluation.warnings:
                log.warning("rule_warning", source=source, ticket_id=ticket_id, warning=warning)
            rule_rows.extend({"source": source, "ticket_id": ticket_id, "rule": name,
                              "state": new.state, "history": new.to_json(), "updated_at": now,
                              "due_at": next_due_at(rules, {name: new})}
                             for name, new in evaluation.history.items()
                             if history.get(name) != new)
            evaluated.append(_Evaluated(ticket_id, ticket, scored, evaluation))
        self.store.rules.save_states(conn, rule_rows)
        self._record(conn, source, evaluated, now, result)

    def _record(self, conn: Connection, source: str, evaluated: list[_Evaluated], now: datetime,
                result: BatchResult) -> None:
        """The escalation log, outbox rows and expected tickets of the decisions."""
        facts = self._alert_facts(conn, source, evaluated)
        log_rows: Rows = []
        outbox_rows: Rows = []
        ticket_rows: Rows = []
        for item in evaluated:
            changed = item.ticket
            for decision in item.evaluation.decisions:
                result.decisions.append((item.ticket_id, decision))
                result.escalated += decision.kind == "fire"
                log_rows.append({"source": source, "ticket_id": item.ticket_id,
                                 "rule": decision.rule, "kind": decision.kind,
                                 "reason": decision.reason, "at": now,
                                 "numbers": jsonable(decision.numbers)})
                changed = self._queue(source, item, decision, changed, facts, now, outbox_rows)
            if changed != item.ticket and "source" in changed:
                ticket_rows.append({**changed, "updated_at": now})
        self.store.rules.log_escalations(conn, log_rows)
        self.store.outbox.enqueue(conn, outbox_rows)
        self.store.messages.upsert_tickets(conn, ticket_rows)
        result.enqueued += len(outbox_rows)

    def _queue(self, source: str, item: _Evaluated, decision: Decision, ticket: dict[str, Any],
               facts: Mapping[str, tuple[str | None, tuple[int, int]]], now: datetime,
               outbox_rows: Rows) -> dict[str, Any]:
        """Queue one decision's ticket change and alerts; the ticket as it will look."""
        history = item.evaluation.history.get(decision.rule)
        key = (f"{source}|{item.ticket_id}|{decision.rule}|{decision.kind}|"
               f"{getattr(history, 'fire_count', 0)}")
        actions = decision.actions
        change = TicketChange(add_tags=tuple(actions.add_tags),
                              remove_tags=tuple(actions.remove_tags),
                              priority=actions.priority, note=actions.note)
        expected = ticket
        if not change.is_empty():
            outbox_rows.append(pending_row(key + "|change", source, item.ticket_id, "change",
                                          source, change.to_json(), now))
            # What the ticket will look like once delivered: later evaluations
            # (inhibition by tag, priority_below) see it before the vendor does.
            view = apply_actions(ticket_view(source, ticket), actions)
            expected = {**ticket, "tags": sorted(view.tags), "priority": view.priority}
        if actions.notify:
            body, earlier = facts[item.ticket_id]
            context = alert_context(ticket, self._people(source, item.ticket_id), body, earlier,
                                    decision, self.redactor, self.feedback_tags.false_alarm)
            alert = Alert(
                source=source, ticket_id=item.ticket_id, ticket_url=item.ticket.get("url") or "",
                subject=item.ticket.get("subject") or "", customer=item.ticket.get("requester"),
                rule=decision.rule, kind=decision.kind, reason=decision.reason,
                numbers=jsonable(decision.numbers), indicators=decision.indicators,
                scores=[round(m.score, 3) for m in item.scored][-30:], **context.fields())
            outbox_rows.extend(pending_row(f"{key}|notify:{notifier}", source, item.ticket_id,
                                          "alert", notifier, alert.to_json(), now)
                               for notifier in actions.notify)
        return expected

    def _alert_facts(self, conn: Connection, source: str, evaluated: list[_Evaluated],
                     ) -> dict[str, tuple[str | None, tuple[int, int]]]:
        """ticket -> (latest customer text, earlier escalations) for tickets that alert:
        one read of each for the batch, as the database stood before its decisions."""
        alerting = [item for item in evaluated
                    if any(d.actions.notify for d in item.evaluation.decisions)]
        if not alerting:
            return {}
        latest = {item.ticket_id: item.scored[-1].message_id for item in alerting if item.scored}
        bodies = self.store.messages.bodies(conn, [(source, m) for m in latest.values()])
        earlier = self.store.rules.escalations_before(
            conn, source, {item.ticket_id: item.ticket.get("requester") for item in alerting})
        return {item.ticket_id: (bodies.get((source, latest.get(item.ticket_id, ""))),
                                 earlier[item.ticket_id]) for item in alerting}


def log_debug() -> bool:
    return logging.getLogger("sentinel.pipeline").isEnabledFor(logging.DEBUG)


def _mark_row(base: dict[str, Any], mark: Mark, now: datetime) -> dict[str, Any]:
    return {**base, "rule": mark.rule, "kind": mark.kind, "reason": f"agent_{mark.via}",
            "numbers": {"fire_count": mark.fire_count,
                        "escalated_at": mark.escalated_at.isoformat()
                        if mark.escalated_at else None}, "at": now}


def jsonable(numbers: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in numbers.items():
        if isinstance(value, str | int | float | bool) or value is None:
            out[key] = value
        elif isinstance(value, frozenset | set | tuple | list):
            out[key] = sorted(str(v) for v in value)
        else:
            out[key] = str(value)
    return out
