"""One unit of work: a poll's messages -> normalise -> score -> persist -> evaluate -> enqueue.

`Pipeline.process` takes what a connector returned and the cursor that becomes valid
once those messages are stored.  Scoring happens before the transaction (so a slow remote
scorer never holds a database lock); then one transaction inserts the messages and
scores, refreshes ticket snapshots, evaluates the rules for every ticket that got a new
customer score (daemon.escalation), writes the per-rule history, the escalation log and
the outbox rows, and advances the cursor under the source's fencing token.  A crash
anywhere before the commit means the same messages come again; the unique keys make the
second pass harmless.  Side effects never happen here: the outbox job delivers them.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection

from connectors.base import Message
from daemon.alerting import excerpt_redactor
from daemon.escalation import BatchResult, Escalator
from daemon.incidents import IncidentTracker
from daemon.logs import get_logger
from daemon.scoring.base import Score, Scorer
from daemon.scoring.redact import Redactor
from daemon.store import T_MESSAGE, T_TICKET, Store, clip, fitted
from daemon.text import NormalisedText, normalise
from daemon.ticket_cache import (
    Key,
    Series,
    TicketCache,
    extend,
    scored_from_row,
    shared_signals,
)
from rules.engine import ScoredMessage
from rules.feedback import FeedbackTags
from rules.model import RuleSet
from vocab import aware, utcnow

__all__ = ["BatchResult", "Pipeline"]

log = get_logger("sentinel.pipeline")


@dataclass(slots=True)
class _Batch:
    """A poll's messages once deduplicated, normalised and scored (no database lock held)."""

    fresh: list[Message]
    texts: list[NormalisedText]
    scores: dict[int, Score]  # index in `fresh` -> its score
    snapshots: dict[str, dict[str, Any]]  # ticket -> its last snapshot in the batch
    added: dict[str, list[ScoredMessage]] = dataclasses.field(default_factory=dict)

    def message_rows(self, source: str, now: datetime) -> list[dict[str, Any]]:
        return [_message_row(source, message, self.texts[index], self.scores.get(index), now)
                for index, message in enumerate(self.fresh)]

    def stored_ids(self) -> list[str]:
        """The messages' ids as stored."""
        return [clip(T_MESSAGE.c.message_id, m.message_id) for m in self.fresh]

    def scored_texts(self) -> dict[str, str]:
        """Stored message id -> normalised text of the scored messages (for incidents)."""
        return {clip(T_MESSAGE.c.message_id, self.fresh[i].message_id): self.texts[i].text
                for i in self.scores}


def _message_row(source: str, message: Message, text: NormalisedText, score: Score | None,
                 now: datetime) -> dict[str, Any]:
    return {
        "source": source, "message_id": message.message_id, "ticket_id": message.ticket_id,
        "author_role": message.author_role, "author_id": message.author_id,
        "author_name": message.author_name or None, "public": message.public,
        "created_at": message.created_at, "body": text.text, "body_chars": text.original_chars,
        "truncated": text.truncated, "score": score.score if score else None,
        "label": score.label if score else None,
        "confidence": score.confidence if score else None,
        "indicators": list(score.indicators) if score else [],
        "signals": sorted(score.signals) if score else [],
        "scorer": score.scorer if score else None, "model": score.model if score else None,
        "needs_rescore": bool(score and score.needs_rescore),
        "language": (score.language or None) if score else None,
        "language_supported": score.language_supported if score else None, "stored_at": now}


def _snapshot_row(source: str, message: Message, now: datetime) -> dict[str, Any]:
    """The ticket as this message saw it, cut to the columns' limits (it is also what the
    rules and the alerts see)."""
    ticket = message.ticket
    return fitted(T_TICKET, {
        "source": source, "ticket_id": message.ticket_id, "subject": ticket.subject,
        "url": ticket.url, "status": ticket.status, "priority": ticket.priority,
        "tags": list(ticket.tags), "requester": ticket.requester, "assignee": ticket.assignee,
        "assignee_group": ticket.group, "updated_at": now})


def _snapshot_key(row: Mapping[str, Any]) -> bytes:
    """A 128-bit digest of what a snapshot row says about the ticket: the cache keeps
    this instead of the values (subject, URL, people: ~500 bytes a ticket), and two
    different snapshots sharing one is a 2**-128 chance.  `repr` of the tuple of str and
    None tells every value and every boundary apart."""
    key = (row.get("subject"), row.get("url"), row.get("status"), row.get("priority"),
           tuple(row.get("tags") or ()), row.get("requester"), row.get("assignee"),
           row.get("assignee_group"))
    return hashlib.blake2b(repr(key).encode("utf-8", "surrogatepass"), digest_size=16).digest()


#: Tickets whose scored series stay in memory between batches (a miss costs one read of
#: the database). About 0.7 KB per ticket of ten messages, packed (daemon.ticket_cache),
#: so ~7 MB when full; at 10,000 active tickets a 5,000 cache missed half the touched
#: tickets (bench/pipeline.py).
SERIES_CACHE_TICKETS = 10_000


class Pipeline:
    """Turns polled messages into stored scores, decisions and queued side effects."""

    def __init__(self, store: Store, scorer: Scorer, rules: Callable[[], RuleSet], *,
                 max_chars: int = 20_000, score_agent_messages: bool = False,
                 clock: Callable[[], datetime] = utcnow,
                 series_cache_size: int = SERIES_CACHE_TICKETS,
                 redactor: Redactor | None = None,
                 incidents: IncidentTracker | None = None,
                 feedback_tags: FeedbackTags | None = None) -> None:
        self.store = store
        self.incidents = incidents
        self.scorer = scorer
        self.max_chars = max_chars
        self.score_agent_messages = score_agent_messages
        self._clock = clock
        self.cache = TicketCache(series_cache_size)
        #: Alert excerpts are redacted like text sent to a model: chat is a third party.
        self.escalator = Escalator(store, rules, feedback_tags or FeedbackTags(),
                                   redactor or excerpt_redactor(), self.cache.people)

    def _now(self) -> datetime:
        now = aware(self._clock())
        assert now is not None
        return now

    def process(self, source: str, messages: Sequence[Message], next_cursor: str | None, *,
                fencing: int | None = None, evaluate_rules: bool = True) -> BatchResult:
        """Store, score and act on a poll's messages in one transaction.

        Without `evaluate_rules` (a backfill without alerts) the messages are stored and
        scored only: no rule is evaluated and no incident is detected."""
        now = self._now()
        result = BatchResult(fetched=len(messages))
        batch = self._prepare(source, messages, now, result)
        self.cache.note_people(source, messages)
        # Topics are read outside the transaction, like scores (CPU only, no lock held).
        candidates = (self.incidents.candidates(source, batch.fresh,
                                                [t.text for t in batch.texts], batch.scores)
                      if self.incidents is not None and evaluate_rules else [])
        self.cache.check_owner(source, fencing)
        series: dict[Key, Series] = {}
        try:
            with self.store.transaction() as conn:
                self.store.sources.check_fence(conn, source, fencing)
                self.store.messages.insert(conn, batch.message_rows(source, now))
                self.store.series.extend(conn, source, batch.stored_ids())
                written = self._write_snapshots(conn, source, batch.snapshots)
                if candidates and self.incidents is not None:
                    step = self.incidents.process(conn, candidates, now, batch.scored_texts())
                    result.enqueued += step.enqueued
                    result.incidents += step.decisions
                if evaluate_rules:
                    series = self._decide(conn, source, batch, now, result)
                if next_cursor is not None:
                    self.store.sources.advance_cursor(conn, source, next_cursor, now, result.new)
        except BaseException:
            # Rolled back, or committed without our hearing so (the connection dropped at
            # COMMIT): either way this source's caches may now disagree with the database.
            self.cache.forget(source)
            raise
        self.cache.remember(source, fencing, series, written)  # only once committed
        return result

    def _prepare(self, source: str, messages: Sequence[Message], now: datetime,
                 result: BatchResult) -> _Batch:
        """Drop known messages and our own notes; normalise and score the rest."""
        unique: dict[str, Message] = {}
        for message in messages:
            if not message.own_note:
                unique.setdefault(message.message_id, message)
        with self.store.reading() as conn:
            known = self.store.messages.known_ids(conn, source, list(unique))
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
        self._count(source, fresh, scores, result)
        snapshots = {m.ticket_id: _snapshot_row(source, m, now)  # the last one wins
                     for m in messages}
        batch = _Batch(fresh, texts, scores, snapshots)
        for index, score in sorted(scores.items()):
            message = fresh[index]
            if message.author_role == "customer":
                batch.added.setdefault(message.ticket_id, []).append(ScoredMessage(
                    message_id=clip(T_MESSAGE.c.message_id, message.message_id),
                    created_at=message.created_at, score=score.score, label=score.label,
                    signals=shared_signals(score.signals), indicators=tuple(score.indicators),
                    language=score.language, supported=score.language_supported))
        return batch

    @staticmethod
    def _count(source: str, fresh: list[Message], scores: dict[int, Score],
               result: BatchResult) -> None:
        """Disagreements and fallbacks of the scorer, for the poll's log line."""
        for index, score in scores.items():
            if "scorer_disagreement" in score.signals:
                result.disagreements += 1
                # Ids and numbers only: the text is the customer's.
                log.warning("scorer_disagreement", source=source,
                            ticket_id=fresh[index].ticket_id,
                            message_id=fresh[index].message_id, score=score.score)
            if score.scorer == "fallback":
                reason = score.fallback_reason or "unavailable"
                result.fallbacks[reason] = result.fallbacks.get(reason, 0) + 1

    def _write_snapshots(self, conn: Connection, source: str,
                         snapshots: dict[str, dict[str, Any]]) -> dict[Key, bytes]:
        """Upsert the batch's ticket snapshots but those identical to what this process
        last wrote; what was written, for the cache once committed."""
        keys = {ticket_id: _snapshot_key(row) for ticket_id, row in snapshots.items()}
        changed = self.cache.unwritten(source, keys)
        self.store.messages.upsert_tickets(conn, [snapshots[t] for t in changed])
        return {(source, t): keys[t] for t in changed}

    def _decide(self, conn: Connection, source: str, batch: _Batch, now: datetime,
                result: BatchResult) -> dict[Key, Series]:
        """Agents' marks for every snapshot, rules for every ticket with a new customer
        score; the series evaluated, for the cache once committed."""
        if not batch.snapshots:
            return {}
        feedback, histories = self.escalator.read_feedback(
            conn, source, batch.snapshots, batch.added, now, result)
        touched = sorted(batch.added)
        if not touched:
            return {}
        series = self._series_for(conn, source, touched, batch.added)
        self.escalator.evaluate(conn, source, series, now, result, batch.snapshots,
                                feedback, histories)
        return {(source, t): s for t, s in series.items()}

    def _series_for(self, conn: Connection, source: str, ticket_ids: list[str],
                    added: Mapping[str, list[ScoredMessage]]) -> dict[str, Series]:
        """Each ticket's scored customer messages, oldest first: cache plus this batch.

        The cache holds committed series only, for sources whose lease this process
        holds; a miss reads the database (which already has this batch's rows).
        """
        cached = self.cache.series(source, ticket_ids)
        out = {t: extend(cached[t], added.get(t, ())) for t in ticket_ids if t in cached}
        if misses := [t for t in ticket_ids if t not in cached]:
            loaded = self.store.messages.customer_series(conn, source, misses)
            out.update({t: tuple(scored_from_row(row) for row in loaded.get(t, []))
                        for t in misses})
        return {t: out[t] for t in ticket_ids}

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
                series = self._series_for(conn, source, list(ticket_ids), {})
                self.escalator.evaluate(conn, source, series, self._now(), result)
        return result

    def _scored(self, message: Message) -> bool:
        if not message.public or message.author_role == "system":
            return False
        return message.author_role == "customer" or self.score_agent_messages

    def forget_cached(self) -> None:
        """Drop every cached series and snapshot: retention or an erasure changed the
        rows under them (the next batch reads the database again)."""
        self.cache.forget()
