"""One source's coordinator: polls it, and turns every failure into one outcome.

The shape of Home Assistant's DataUpdateCoordinator: `SourceCoordinator.poll()` reads one
source until caught up (bounded), hands each batch to the pipeline under the source's
lease, and ends with one canonical `poll` log line.  Whatever goes wrong passes through
ONE failure policy (`failure_policy`, a table from exception to outcome and wait), and
the source's health is reported once on each edge: `source_unavailable` (or
`source_failed`, `source_paused`) when it turns bad, `source_recovered` when a poll
succeeds again, never every poll in between.  docs/architecture.md has the table.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import sqlalchemy as sa
import structlog

from connectors.base import AuthError, Connector, FatalError, RetriableError
from connectors.settings import SourceSettings
from daemon.config import parse_start_from
from daemon.leases import LeaseBalancer
from daemon.logs import get_logger
from daemon.metrics import Metrics
from daemon.pipeline import Pipeline
from daemon.store import LeaseLost, Store
from vocab import utcnow
from vocab.backoff import Backoff

log = get_logger("sentinel.service")

#: A poll keeps reading while the connector says it is not caught up, at most this often.
MAX_ROUNDS_PER_POLL = 10
#: Poll outcomes that mean the source was not read (`run --once` exits 1 naming them).
#: Not among them: `leased_elsewhere` and `lease_lost` (another replica reads it).
FAILED_OUTCOMES = frozenset({"paused", "retriable", "auth", "fatal", "backing_off"})
#: A source the vendor calls unavailable without a Retry-After: 5 s, doubling, 5 min cap.
SOURCE_BACKOFF = Backoff(base=5.0, cap=300.0)
#: Waits of the failures that are not the vendor's to time.
FATAL_WAIT = 300.0  # a broken page or a refused request: a person has to look
DATABASE_WAIT = 5.0  # the database restarted or a lock timed out
CRASH_WAIT = 30.0  # a bug of ours on this source's data


def db_error(exc: Exception) -> str:
    """One line naming a database error, without SQL or parameters (customer text)."""
    cause = getattr(exc, "orig", None) or exc
    first = (str(cause).strip().splitlines() or [""])[0]
    return f"{type(cause).__name__}: {first[:200]}"


@dataclass(frozen=True, slots=True)
class Failure:
    """What the policy decided about one failed poll."""

    outcome: str  # the summary's outcome
    error: str  # recorded on the source row and in the summary (never a secret)
    wait: float | None  # seconds until the next poll; None: no backoff recorded
    pause: bool = False  # stop polling until a reload (refused credentials)
    record: bool = True  # count it on the source row (not when the lease is gone)
    unhealthy: bool = True  # turns the source's health bad
    event: str = "source_unavailable"  # the log line
    level: Literal["warning", "error", "exception"] = "warning"
    edge_only: bool = True  # log it only when the source turns bad, not every poll


def failure_policy(exc: Exception, consecutive_failures: int) -> Failure:
    """The one place a poll's exception becomes an outcome and a wait."""
    if isinstance(exc, RetriableError):
        wait = exc.retry_after or SOURCE_BACKOFF.delay(consecutive_failures)
        return Failure("retriable", str(exc), wait)
    if isinstance(exc, AuthError):  # before FatalError: it is one
        return Failure("auth", str(exc), None, pause=True, event="source_paused",
                       level="error", edge_only=False)
    if isinstance(exc, FatalError):
        return Failure("fatal", str(exc), FATAL_WAIT, event="source_failed", level="error")
    if isinstance(exc, LeaseLost):
        return Failure("lease_lost", str(exc), None, record=False, unhealthy=False,
                       event="lease_lost", edge_only=False)
    if isinstance(exc, sa.exc.DBAPIError):
        return Failure("retriable", f"database error ({db_error(exc)})", DATABASE_WAIT,
                       event="database_error", edge_only=False)
    return Failure("retriable", f"internal error ({type(exc).__name__})", CRASH_WAIT,
                   event="poll_crashed", level="exception", edge_only=False)


@dataclass(slots=True)
class SourceHealth:
    healthy: bool = True
    paused_reason: str | None = None
    last_summary: str = ""
    announced_resume: datetime | None = None  # the backoff end already logged


class SourceCoordinator:
    """Polls one source under its lease; `health` is what the heartbeat reports."""

    def __init__(self, settings: SourceSettings, connector: Connector, *, store: Store,
                 pipeline: Pipeline, leases: LeaseBalancer, metrics: Metrics, scorer_name: str,
                 stop_requested: Callable[[], bool]) -> None:
        self.name = settings.name
        self.settings = settings
        self.connector = connector
        self.store = store
        self.pipeline = pipeline
        self.leases = leases
        self.metrics = metrics
        self.scorer_name = scorer_name
        self.stop_requested = stop_requested
        self.health = SourceHealth()
        self._polled = False  # polled once since start

    def resume(self) -> None:
        """Credentials may have been fixed (a reload): a paused source is tried again."""
        self.health.paused_reason = None

    def poll(self) -> dict[str, Any]:
        """Poll until caught up (bounded); returns the canonical summary."""
        started = time.monotonic()
        summary: dict[str, Any] = {"source": self.name, "fetched": 0, "new": 0, "scored": 0,
                                   "escalated": 0, "requests": 0, "outcome": "ok"}
        with structlog.contextvars.bound_contextvars(source=self.name,
                                                     poll_id=uuid.uuid4().hex[:8]):
            if self.health.paused_reason is not None:
                summary.update(outcome="paused", error=self.health.paused_reason)
                return summary
            claimed = self._claim(summary)
            if claimed is None:
                return summary
            token, state = claimed
            now = utcnow()
            try:
                with self.leases.polling(self.name):
                    self._read(token, state, now, summary)
            except Exception as exc:  # never let one source's failure stop the daemon
                self._fail(exc, state, now, token, summary)
            else:
                if not self.health.healthy:
                    log.info("source_recovered")
                self.health.healthy = True
            self._finish(summary, started)
        return summary

    def _claim(self, summary: dict[str, Any]) -> tuple[int, dict[str, Any]] | None:
        """Our lease's token and the source row, or None with the summary saying why not."""
        try:
            token = self.leases.token(self.name)
            state = self.store.sources.state(self.name) if token is not None else {}
        except sa.exc.DBAPIError as exc:
            log.warning("database_error", error=db_error(exc))
            summary["outcome"] = "retriable"
            return None
        if token is None:
            summary["outcome"] = "leased_elsewhere"
            return None
        not_before = state.get("not_before")
        if not_before is not None and not_before > utcnow():
            summary.update(outcome="backing_off", resumes_at=not_before.isoformat(),
                           error=state.get("last_error") or "")
            if self.health.announced_resume != not_before:  # once per backoff, not per poll
                self.health.announced_resume = not_before
                log.warning("source_backing_off", resumes_at=summary["resumes_at"],
                            last_error=summary["error"])
            return None
        return token, state

    def _read(self, token: int, state: dict[str, Any], now: datetime,
              summary: dict[str, Any]) -> None:
        cursor = state.get("cursor")
        start_from = parse_start_from(self.settings.start_from, now)
        for _ in range(MAX_ROUNDS_PER_POLL):
            result = self.connector.poll(cursor, start_from)
            if not self.leases.renew(self.name, token):  # a long read may outlast the lease
                raise LeaseLost(f"source {self.name}: lease lost during the poll (token "
                                f"{token}, renewal refused); nothing written")
            batch = self.pipeline.process(self.name, result.messages, result.next_cursor,
                                          fencing=token)
            cursor = result.next_cursor
            for key in ("fetched", "new", "scored", "escalated"):
                summary[key] += getattr(batch, key)
            summary["requests"] += result.requests
            self.metrics.scored(self.scorer_name, batch.scored)
            for _ticket, decision in batch.decisions:
                if decision.kind == "fire":
                    self.metrics.escalated(decision.rule)
            for reason, count in batch.fallbacks.items():
                self.metrics.fallback(reason, count)
            for _ticket, mark in batch.marks:
                self.metrics.feedback_mark(mark.rule, mark.kind)
            self.metrics.scorer_disagreements(batch.disagreements)
            if result.caught_up or self.stop_requested():
                return
        summary["outcome"] = "partial"

    def _fail(self, exc: Exception, state: dict[str, Any], now: datetime, token: int,
              summary: dict[str, Any]) -> None:
        """Apply the failure policy; called inside the `except` (tracebacks are logged)."""
        failure = failure_policy(exc, int(state.get("consecutive_failures") or 0))
        summary["outcome"] = failure.outcome
        if failure.outcome == "lease_lost":
            self.leases.forget(self.name)
        else:
            summary["error"] = failure.error
        resumes = None if failure.wait is None else now + timedelta(seconds=failure.wait)
        if resumes is not None:
            summary["resumes_at"] = resumes.isoformat()
        if failure.record:
            self._record_failure(failure.error, now, resumes, token)
        if failure.pause:
            self.health.paused_reason = failure.error
        if not failure.edge_only or self.health.healthy:
            self._log_failure(failure)
        if failure.unhealthy:
            self.health.healthy = False

    @staticmethod
    def _log_failure(failure: Failure) -> None:
        fields: dict[str, Any] = {"error": failure.error}
        if failure.event == "source_unavailable" and failure.wait is not None:
            fields["retry_in_s"] = round(failure.wait, 1)
        if failure.event == "source_paused":
            fields["hint"] = "fix the credentials and reload (SIGHUP) or restart"
        getattr(log, failure.level)(failure.event, **fields)

    def _record_failure(self, error: str, now: datetime, not_before: datetime | None,
                        token: int) -> None:
        """Count a failed poll; if the database cannot take even that, say so and go on
        (the cursor did not move, so the next poll reads the same messages again)."""
        try:
            self.store.sources.record_failure(self.name, error, now, not_before, token)
        except sa.exc.DBAPIError as exc:
            log.warning("poll_failure_not_recorded", error=db_error(exc))

    def _finish(self, summary: dict[str, Any], started: float) -> None:
        summary["duration_ms"] = round((time.monotonic() - started) * 1000, 1)
        if summary["outcome"] != "lease_lost":
            self.metrics.poll_finished(self.name, summary["outcome"],
                                       summary["duration_ms"] / 1000, summary["fetched"])
        self.health.last_summary = (f"{self.name}: {summary['outcome']}, {summary['new']} new,"
                                    f" {summary['escalated']} escalated")
        # A calm console: a poll that found nothing is a debug line, except a source's
        # first (it shows the source works); news and failures are info.
        quiet = (summary["outcome"] == "ok" and not summary["new"]
                 and not summary["escalated"] and self._polled)
        self._polled = True
        (log.debug if quiet else log.info)(
            "poll", **{k: v for k, v in summary.items() if k != "source"})

