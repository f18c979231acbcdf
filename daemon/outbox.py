"""Delivers the side effects the pipeline queued: ticket changes and chat alerts.

Rows are claimed (SKIP LOCKED on PostgreSQL, so replicas share the queue), delivered in
order, and marked done in their own transaction right after the vendor said yes.  A
retriable failure backs off (the server's Retry-After when it gave one, else exponential
backoff) and leaves the rest of that target's rows for a later round; a fatal failure, or
the last allowed attempt, parks the row where `report`, the metrics and the logs show it.
Nothing is dropped silently.  A crash between a send and its commit re-sends that one
row after restart: at-least-once, with the dedupe key keeping it to one row.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from connectors.base import (
    Alert,
    Connector,
    ConnectorError,
    FatalError,
    Notifier,
    RetriableError,
    TicketChange,
)
from daemon.logs import get_logger
from daemon.store import Store
from vocab import utcnow
from vocab.backoff import Backoff

log = get_logger("sentinel.outbox")
#: Pauses between attempts to record a delivery the vendor accepted (bounded: 1.7 s).
DONE_RETRY_PAUSES = (0.2, 0.5, 1.0)


@dataclass(frozen=True, slots=True)
class OutboxPolicy:
    max_attempts: int = 8
    backoff_base: timedelta = timedelta(seconds=5)
    backoff_cap: timedelta = timedelta(minutes=30)
    batch_size: int = 50
    claim_hold: timedelta = timedelta(minutes=2)

    def backoff(self, attempts: int) -> timedelta:
        pacing = Backoff(self.backoff_base.total_seconds(), self.backoff_cap.total_seconds(),
                         jitter_low=0.8, jitter_high=1.2)
        return timedelta(seconds=pacing.delay(attempts - 1))


@dataclass(slots=True)
class DeliveryStats:
    delivered: int = 0
    retried: int = 0
    parked: int = 0
    deferred: int = 0

    def __iadd__(self, other: DeliveryStats) -> DeliveryStats:
        self.delivered += other.delivered
        self.retried += other.retried
        self.parked += other.parked
        self.deferred += other.deferred
        return self


class OutboxDispatcher:
    def __init__(self, store: Store, connectors: Mapping[str, Connector],
                 notifiers: Mapping[str, Notifier], owner: str,
                 policy: OutboxPolicy | None = None, clock: Callable[[], datetime] = utcnow,
                 on_result: Callable[[str, str, str], None] | None = None) -> None:
        self.store = store
        self.connectors = connectors
        self.notifiers = notifiers
        self.owner = owner
        self.policy = policy or OutboxPolicy()
        self._clock = clock
        self._on_result = on_result  # (kind, target, outcome) for metrics
        self._lost_claims = False  # a round failed on the database: its claims are orphans

    def deliver_due(self, max_rounds: int = 20) -> DeliveryStats:
        """Deliver what is due now, in bounded rounds of `batch_size` rows."""
        stats = DeliveryStats()
        if self._lost_claims:  # rounds run one at a time: none of our claims is in use
            self.store.outbox.release_claims(owner=self.owner)
            self._lost_claims = False
        try:
            for _ in range(max_rounds):
                round_stats, claimed = self._round()
                stats += round_stats
                if claimed < self.policy.batch_size or round_stats.delivered == 0:
                    break
        except sa.exc.DBAPIError:
            # Even the claim itself may have committed without us hearing back: free
            # whatever we hold at the start of the next run instead of in `claim_hold`.
            self._lost_claims = True
            raise
        return stats

    def _round(self) -> tuple[DeliveryStats, int]:
        now = self._clock()
        rows = self.store.outbox.claim(self.owner, now, self.policy.batch_size,
                                       self.policy.claim_hold)
        stats = DeliveryStats()
        blocked: dict[str, datetime] = {}  # target -> not before
        for row in rows:
            self._handle(row, stats, blocked)
        return stats, len(rows)

    def _handle(self, row: dict[str, Any], stats: DeliveryStats,
                blocked: dict[str, datetime]) -> None:
        target = row["target"]
        if target in blocked:
            self.store.outbox.release(row["id"], blocked[target])
            stats.deferred += 1
            return
        outcome = self._send(row)
        if isinstance(outcome, dict):
            self._mark_done(row, outcome)
            stats.delivered += 1
            self._report(row, "delivered")
            return
        error, retry_after, fatal = outcome
        attempts = int(row["attempts"]) + 1
        park = fatal or attempts >= self.policy.max_attempts
        wait = self.policy.backoff(attempts)
        if retry_after is not None:
            wait = max(wait, timedelta(seconds=retry_after))
        next_attempt = self._clock() + wait
        self.store.outbox.failed(row["id"], error, next_attempt, park)
        if park:
            stats.parked += 1
            self._report(row, "parked")
            log.warning("outbox_parked", outbox_id=row["id"], kind=row["kind"],
                        target=target, ticket_id=row["ticket_id"], attempts=attempts,
                        error=error)
        else:
            stats.retried += 1
            blocked[target] = next_attempt
            self._report(row, "retry")
            log.info("outbox_retry", outbox_id=row["id"], kind=row["kind"], target=target,
                     attempts=attempts, wait_s=round(wait.total_seconds(), 1), error=error)

    def _mark_done(self, row: dict[str, Any], result: dict[str, Any]) -> None:
        """Record a delivery the vendor accepted.  A database blip here would send it
        again once the claim runs out, so try a few times (bounded) before giving up."""
        for pause in (*DONE_RETRY_PAUSES, None):
            try:
                self.store.outbox.done(row["id"], self._clock(), result)
                return
            except sa.exc.DBAPIError:
                if pause is None:
                    log.warning("outbox_done_not_recorded", outbox_id=row["id"],
                                kind=row["kind"], target=row["target"],
                                hint="it is sent again when its claim runs out")
                    raise
                time.sleep(pause)

    def _send(self, row: dict[str, Any]) -> dict[str, Any] | tuple[str, float | None, bool]:
        """The vendor call: the result to record when delivered, else (error,
        retry_after, fatal).  Database errors propagate: they say nothing of the vendor."""
        try:
            if row["kind"] == "change":
                connector = self.connectors.get(row["target"])
                if connector is None:
                    return f"no configured source named {row['target']!r}", None, True
                connector.apply(row["ticket_id"], TicketChange.from_json(row["payload"]))
                return {}
            if row["kind"] == "alert":
                notifier = self.notifiers.get(row["target"])
                if notifier is None:
                    return f"no configured notifier named {row['target']!r}", None, True
                alert = Alert.from_json(row["payload"])
                if alert.thread_ts is None:  # thread under this ticket's latest alert
                    thread = self.store.outbox.latest_thread_key(row["source"], row["ticket_id"],
                                                         row["target"])
                    if thread:
                        alert = Alert.from_json({**row["payload"], "thread_ts": thread})
                return {"thread_key": notifier.send(alert).thread_key}
            return f"unknown outbox kind {row['kind']!r}", None, True
        except RetriableError as exc:
            return str(exc), exc.retry_after, False
        except FatalError as exc:
            return str(exc), None, True
        except ConnectorError as exc:
            return str(exc), None, False
        except sa.exc.DBAPIError:
            raise
        except Exception as exc:  # a bug in a connector must not stop the queue
            log.exception("outbox_delivery_crashed", outbox_id=row["id"], target=row["target"])
            return f"internal error ({type(exc).__name__})", None, False

    def _report(self, row: dict[str, Any], outcome: str) -> None:
        if self._on_result is not None:
            self._on_result(row["kind"], row["target"], outcome)
