"""The running daemon: builds the parts from the config and schedules the work.

One APScheduler 3 `BlockingScheduler` in the main thread, with one interval job per
source (`poll:<name>`, `max_instances=1`, `coalesce=True`, jitter, misfire grace of an
interval), an outbox job, and housekeeping (heartbeat and watchdog, lease renewal, resolve
sweeps, re-scoring of fallback scores, retention).  SIGTERM/SIGINT let the running unit
of work finish and exit 0; SIGHUP (and a changed file with `watch: true`) reloads the
rules, keeping the running ones when the new file is invalid.  Signal handlers only record
the request (a flag, and a byte on a wake-up pipe through `signal.set_wakeup_fd`); the
main thread, which otherwise only waits on that pipe, performs the stop or the reload.  A
handler that took a lock or started a thread could interrupt the main thread holding the
same lock and wedge the process under a burst of signals.  Sources are claimed
through database leases, so several replicas on one PostgreSQL share them; with SQLite a
lock on the database file refuses a second daemon on the same database.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TextIO

import sqlalchemy as sa
from pydantic import BaseModel, SecretStr

from connectors.base import AuthError, Connector, FatalError, Notifier, RetriableError
from connectors.http import stop_all_clients
from connectors.settings import SourceSettings
from daemon import sdnotify
from daemon.alerting import excerpt_redactor
from daemon.config import (
    SANDBOX_PORTS,
    Config,
    ConfigError,
    load_config,
    parse_start_from,
    sandbox_placeholder,
)
from daemon.incidents import IncidentTracker
from daemon.localfiles import (
    AlreadyLocked,
    database_lock_path,
    exclusive_lock,
    private_dir,
    sqlite_file,
)
from daemon.logs import get_logger, redact_text, register_secrets
from daemon.metrics import Metrics, start_metrics_server
from daemon.outbox import OutboxDispatcher, OutboxPolicy
from daemon.pipeline import Pipeline
from daemon.scoring.base import Scorer
from daemon.scoring.http_limits import stop_all_limited_clients
from daemon.scoring.settings import build_scorer
from daemon.store import T_SOURCE, DatabaseUnavailable, LeaseLost, Store
from rules.feedback import FeedbackTags
from rules.incidents import IncidentSettings
from rules.model import RuleSet
from vocab import utcnow

log = get_logger("sentinel.service")

#: A poll keeps reading while the connector says it is not caught up, at most this often.
MAX_ROUNDS_PER_POLL = 10
#: Poll outcomes that mean the source was not read (`run --once` exits 1 naming them).
#: Not among them: `leased_elsewhere` and `lease_lost` (another replica reads it).
FAILED_OUTCOMES = frozenset({"paused", "retriable", "auth", "fatal", "backing_off"})
#: Seconds an HTTP request in flight at SIGTERM may still take (systemd allows 60 in all).
STOP_GRACE_SECONDS = 10.0


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("helpdesk-sentinel")
    except PackageNotFoundError:
        return "unknown"


def _db_error(exc: Exception) -> str:
    """One line naming a database error, without SQL or parameters (customer text)."""
    cause = getattr(exc, "orig", None) or exc
    first = (str(cause).strip().splitlines() or [""])[0]
    return f"{type(cause).__name__}: {first[:200]}"


def secrets_of(model: BaseModel) -> list[str]:
    out: list[str] = []
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, SecretStr):
            out.append(value.get_secret_value())
        elif isinstance(value, BaseModel):
            out += secrets_of(value)
    return out


def _sandbox_refs(model: BaseModel) -> Iterator[tuple[str, Any, str, str]]:
    """(field, value, sandbox kind, rest of the URL) for each `sandbox://` placeholder."""
    for name in type(model).model_fields:
        value = getattr(model, name)
        raw = value.get_secret_value() if isinstance(value, SecretStr) else value
        if not isinstance(raw, str):
            continue
        for kind in SANDBOX_PORTS:
            placeholder = sandbox_placeholder(kind)
            if raw == placeholder or raw.startswith(placeholder + "/"):
                yield name, value, kind, raw[len(placeholder):]


def with_sandbox_urls(model: BaseModel, urls: dict[str, str]) -> Any:
    """Swap the config's `sandbox://<kind>` placeholders for the started sandbox's URL."""
    updates: dict[str, Any] = {}
    for name, value, kind, rest in _sandbox_refs(model):
        if kind in urls:
            url = urls[kind] + rest
            updates[name] = SecretStr(url) if isinstance(value, SecretStr) else url
    return model.model_copy(update=updates) if updates else model


def referenced_sandboxes(model: BaseModel) -> set[str]:
    """The sandbox kinds a settings model points at (through `sandbox://` URLs)."""
    return {kind for _, _, kind, _ in _sandbox_refs(model)}


def start_sandboxes(config: Config, kinds: set[str] | None = None) -> tuple[list[Any],
                                                                            dict[str, str]]:
    """Start the config's sandboxes (or only `kinds` of them); servers and their URLs."""
    servers: list[Any] = []
    urls: dict[str, str] = {}
    if not config.sandbox:
        return servers, urls
    from connectors.sandbox import start_sandbox

    for kind, options in config.sandbox.items():
        if kinds is not None and kind not in kinds:
            continue
        server = start_sandbox(kind, **(options or {}))
        servers.append(server)
        urls[kind] = server.url
        log.info("sandbox_started", kind=kind, url=server.url)
    return servers, urls


@dataclass(slots=True)
class SourceHealth:
    healthy: bool = True
    paused_reason: str | None = None
    last_summary: str = ""
    announced_resume: datetime | None = None  # the backoff end already logged


@dataclass(slots=True)
class Daemon:
    config: Config
    owner: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}:"
                                                f"{uuid.uuid4().hex[:6]}")
    echo: TextIO | None = None
    store: Store = field(init=False)
    scorer: Scorer = field(init=False)
    connectors: dict[str, Connector] = field(init=False, default_factory=dict)
    notifiers: dict[str, Notifier] = field(init=False, default_factory=dict)
    pipeline: Pipeline = field(init=False)
    outbox: OutboxDispatcher = field(init=False)
    rules: RuleSet = field(init=False)
    incident_settings: IncidentSettings = field(init=False, default_factory=IncidentSettings)
    metrics: Metrics = field(init=False)
    sandboxes: list[Any] = field(init=False, default_factory=list)
    health: dict[str, SourceHealth] = field(init=False, default_factory=dict)
    _sources: dict[str, SourceSettings] = field(init=False, default_factory=dict)
    _tokens: dict[str, int] = field(init=False, default_factory=dict)  # leases we hold
    _polling: set[str] = field(init=False, default_factory=set)  # sources mid-poll
    _polled: set[str] = field(init=False, default_factory=set)  # polled once since start
    _lock_file: Any = field(init=False, default=None)
    _scheduler: Any = field(init=False, default=None)
    _stopping: threading.Event = field(init=False, default_factory=threading.Event)
    _heartbeat: float = field(init=False, default=0.0)
    _config_mtime: float = field(init=False, default=0.0)
    _metrics_server: Any = field(init=False, default=None)
    # Written by signal handlers (plain attribute stores, nothing that takes a lock) and
    # read by the main loop of `run`.
    _stop_signal: int | None = field(init=False, default=None)
    _reload_requested: bool = field(init=False, default=False)
    _wake_fd: int | None = field(init=False, default=None)  # the pipe the main loop waits on
    _dashboard: Any = field(init=False, default=None)

    # -- building -------------------------------------------------------------------

    def build(self) -> Daemon:
        config = self.config
        private_dir(config.state_dir)  # holds customer text: 0700 whatever the umask
        self.rules = config.rules
        urls = self._start_sandboxes()
        sources = [with_sandbox_urls(s, urls) for s in config.sources]
        notifier_settings = {n: with_sandbox_urls(s, urls) for n, s in config.notifiers.items()}
        scorer_settings = with_sandbox_urls(config.scorer, urls)
        for model in [*sources, *notifier_settings.values(), scorer_settings]:
            register_secrets(secrets_of(model))
        # A frozen replica's row locks last no longer than its leases; never under 10 s,
        # which is far above the idle gaps inside our own transactions (rule evaluation).
        self.store = Store(config.database_url,
                           stuck_after=max(config.top.lease.duration, timedelta(seconds=10)))
        if self.store.is_sqlite:
            self._take_lock()
        self._prepare_database([s.name for s in sources])
        self._restart_sandbox_sources([s.name for s in config.sources
                                       if referenced_sandboxes(s)])
        self.scorer = build_scorer(scorer_settings, cache_dir=config.state_dir / "cache")
        for source in sources:
            connector = source.create()
            self.connectors[source.name] = connector
            self.health[source.name] = SourceHealth()
        for name, settings in notifier_settings.items():
            self.notifiers[name] = settings.create(name)
        self._sources = {s.name: s for s in sources}
        # Alert excerpts go to chat: redact at least what the scorer redacts for a model.
        redaction = getattr(scorer_settings, "redaction", None)
        self.incident_settings = config.top.incidents
        self.pipeline = Pipeline(self.store, self.scorer, lambda: self.rules,
                                 max_chars=config.top.scoring.max_chars,
                                 score_agent_messages=config.top.scoring.score_agent_messages,
                                 redactor=excerpt_redactor(redaction.kinds if redaction
                                                           and redaction.enabled else ()),
                                 incidents=IncidentTracker(self.store,
                                                           lambda: self.incident_settings),
                                 feedback_tags=FeedbackTags(
                                     false_alarm=config.top.feedback.false_alarm_tag,
                                     missed=config.top.feedback.missed_tag))
        policy = OutboxPolicy(max_attempts=config.top.outbox.max_attempts,
                              backoff_base=config.top.outbox.backoff_base,
                              backoff_cap=config.top.outbox.backoff_cap,
                              batch_size=config.top.outbox.batch_size)
        self.outbox = OutboxDispatcher(self.store, self.connectors, self.notifiers, self.owner,
                                       policy, on_result=self._on_delivery)
        self._setup_metrics()
        if config.top.dashboard.enabled:
            from daemon.dashboard import start_dashboard

            self._dashboard = start_dashboard(self.store, config.top.dashboard,
                                              lambda: self.rules, list(self.connectors))
        self._config_mtime = self._mtime()
        return self

    def _prepare_database(self, sources: list[str]) -> None:
        """Schema and source rows; a database still starting up is waited for (bounded)."""
        deadline = time.monotonic() + self.config.top.database.startup_wait.total_seconds()
        pause = 0.5
        while True:
            try:
                self.store.create_schema()
                self.store.ensure_sources(sources)
                if self.store.is_sqlite:
                    # The lock file proves no other daemon runs here: source leases and
                    # outbox claims left by a killed process are void now, not later.
                    self.store.release_claims()
                    self.store.release_all_sources()
                return
            except sa.exc.OperationalError as exc:  # refused, reset, shutting down
                if time.monotonic() + pause > deadline:
                    raise DatabaseUnavailable(_db_error(exc)) from None
                log.warning("database_unavailable", error=_db_error(exc),
                            retry_in_s=pause)
                time.sleep(pause)
                pause = min(5.0, pause * 2)

    def _restart_sandbox_sources(self, names: list[str]) -> None:
        """A `sandbox://` source talks to a sandbox started empty with this process, so
        what its stored cursor and backoff describe is gone: read it from `start_from`
        again (its ids are new, see connectors.sandbox.live_id_offset).  Stored messages,
        escalations and the outbox stay; real sources are never touched."""
        if not names:
            return
        with self.store.transaction() as conn:
            conn.execute(T_SOURCE.update().where(T_SOURCE.c.source.in_(names)).values(
                cursor=None, cursor_updated_at=None, not_before=None, last_error=None,
                consecutive_failures=0))
        log.info("sandbox_sources_restarted", sources=names)

    def _start_sandboxes(self) -> dict[str, str]:
        servers, urls = start_sandboxes(self.config)
        self.sandboxes += servers
        return urls

    def _setup_metrics(self) -> None:
        settings = self.config.top.metrics
        self.metrics = Metrics(version=_version())
        self.metrics.declare(sources=list(self.connectors), scorers=[self.scorer.name],
                             rules=[r.name for r in self.rules.rules],
                             notifiers=list(self.notifiers))
        if settings.enabled:
            self._metrics_server = start_metrics_server(
                self.metrics, settings.port, addr=settings.addr)
            log.info("metrics_listening", addr=settings.addr, port=self._metrics_server.port)

    def _take_lock(self) -> None:
        """One daemon per SQLite database file (and per state directory: the cache)."""
        locks: list[Any] = []
        wanted = [(self.config.state_dir / "sentinel.lock", "state directory")]
        database = sqlite_file(self.store.url)
        if database is not None:
            wanted.insert(0, (database_lock_path(database), f"database {database}"))
        try:
            for path, what in wanted:
                try:
                    locks.append(exclusive_lock(path))
                except AlreadyLocked:
                    raise ConfigError([f"{path}: another helpdesk-sentinel is running on this "
                                       f"{what} (SQLite supports one daemon; use PostgreSQL "
                                       "for several replicas)"]) from None
        except ConfigError:
            for handle in locks:
                handle.close()
            raise
        self._lock_file = locks

    def close(self) -> None:
        for connector in self.connectors.values():
            connector.close()
        for notifier in self.notifiers.values():
            notifier.close()
        self.scorer.close()
        for server in self.sandboxes:
            server.stop()
        if self._metrics_server is not None:
            self._metrics_server.close()
        if self._dashboard is not None:
            self._dashboard.close()
        try:  # hand the sources over now rather than when the leases run out
            for name in list(self._tokens):
                self.store.release_source(name, self.owner)
            self.store.remove_replica(self.owner)
        except sa.exc.DBAPIError as exc:
            log.warning("database_error", job="close", error=_db_error(exc))
        self.store.close()
        for handle in self._lock_file or ():
            handle.close()

    # -- units of work ----------------------------------------------------------------

    def poll_source(self, name: str) -> dict[str, Any]:
        """Poll one source until caught up (bounded); returns the canonical summary."""
        import structlog

        started = time.monotonic()
        summary: dict[str, Any] = {"source": name, "fetched": 0, "new": 0, "scored": 0,
                                   "escalated": 0, "requests": 0, "outcome": "ok"}
        health = self.health[name]
        with structlog.contextvars.bound_contextvars(source=name, poll_id=uuid.uuid4().hex[:8]):
            if health.paused_reason is not None:
                summary["outcome"] = "paused"
                summary["error"] = health.paused_reason
                return summary
            now = utcnow()
            token = self._tokens.get(name)
            try:
                if token is not None and not self._renew(name, token):
                    token = None
                state = self.store.source_state(name) if token is not None else {}
            except sa.exc.DBAPIError as exc:
                log.warning("database_error", error=_db_error(exc))
                summary["outcome"] = "retriable"
                return summary
            if token is None:
                summary["outcome"] = "leased_elsewhere"
                return summary
            not_before = state.get("not_before")
            if not_before is not None and not_before > now:
                summary["outcome"] = "backing_off"
                summary["resumes_at"] = not_before.isoformat()
                summary["error"] = state.get("last_error") or ""
                if health.announced_resume != not_before:  # once per backoff, not per poll
                    health.announced_resume = not_before
                    log.warning("source_backing_off", resumes_at=summary["resumes_at"],
                                last_error=summary["error"])
                return summary
            settings = self._sources[name]
            connector = self.connectors[name]
            cursor = state.get("cursor")
            start_from = parse_start_from(settings.start_from, now)
            self._polling.add(name)  # balance_leases never releases a source mid-poll
            try:
                for _ in range(MAX_ROUNDS_PER_POLL):
                    result = connector.poll(cursor, start_from)
                    if not self._renew(name, token):  # a long read may outlast the lease
                        raise LeaseLost(f"source {name}: lease lost during the poll (token "
                                        f"{token}, renewal refused); nothing written")
                    batch = self.pipeline.process(name, result.messages, result.next_cursor,
                                                  fencing=token)
                    cursor = result.next_cursor
                    summary["fetched"] += batch.fetched
                    summary["new"] += batch.new
                    summary["scored"] += batch.scored
                    summary["escalated"] += batch.escalated
                    summary["requests"] += result.requests
                    self.metrics.scored(self.scorer.name, batch.scored)
                    for _ticket, decision in batch.decisions:
                        if decision.kind == "fire":
                            self.metrics.escalated(decision.rule)
                    for reason, count in batch.fallbacks.items():
                        self.metrics.fallback(reason, count)
                    for _ticket, mark in batch.marks:
                        self.metrics.feedback_mark(mark.rule, mark.kind)
                    self.metrics.scorer_disagreements(batch.disagreements)
                    if result.caught_up or self._stop_requested():
                        break
                else:
                    summary["outcome"] = "partial"
            except RetriableError as exc:
                wait = exc.retry_after or min(300.0, 5.0 * 2 ** min(
                    6, int(state.get("consecutive_failures") or 0)))
                self._record_failure(name, str(exc), now, now + timedelta(seconds=wait), token)
                summary["outcome"] = "retriable"
                summary["error"] = str(exc)
                summary["resumes_at"] = (now + timedelta(seconds=wait)).isoformat()
                if health.healthy:
                    log.warning("source_unavailable", error=str(exc), retry_in_s=round(wait, 1))
                health.healthy = False
            except AuthError as exc:
                self._record_failure(name, str(exc), now, None, token)
                health.paused_reason = str(exc)
                health.healthy = False
                summary["outcome"] = "auth"
                summary["error"] = str(exc)
                log.error("source_paused", error=str(exc),
                          hint="fix the credentials and reload (SIGHUP) or restart")
            except FatalError as exc:
                self._record_failure(name, str(exc), now, now + timedelta(minutes=5), token)
                summary["outcome"] = "fatal"
                summary["error"] = str(exc)
                if health.healthy:
                    log.error("source_failed", error=str(exc))
                health.healthy = False
            except LeaseLost as exc:
                self._tokens.pop(name, None)
                summary["outcome"] = "lease_lost"
                log.warning("lease_lost", error=str(exc))
            except sa.exc.DBAPIError as exc:  # the database restarted, or a lock timed out
                summary["outcome"] = "retriable"
                summary["error"] = f"database error ({_db_error(exc)})"
                log.warning("database_error", error=_db_error(exc))
                self._record_failure(name, f"database error ({_db_error(exc)})", now,
                                     now + timedelta(seconds=5), token)
                health.healthy = False
            except Exception as exc:  # never let one source's bug stop the daemon
                summary["outcome"] = "retriable"
                summary["error"] = f"internal error ({type(exc).__name__})"
                log.exception("poll_crashed")
                self._record_failure(name, f"internal error ({type(exc).__name__})", now,
                                     now + timedelta(seconds=30), token)
                health.healthy = False
            else:
                if not health.healthy:
                    log.info("source_recovered")
                health.healthy = True
            finally:
                self._polling.discard(name)
            summary["duration_ms"] = round((time.monotonic() - started) * 1000, 1)
            if summary["outcome"] != "lease_lost":
                self.metrics.poll_finished(name, summary["outcome"],
                                           summary["duration_ms"] / 1000, summary["fetched"])
            health.last_summary = (f"{name}: {summary['outcome']}, {summary['new']} new, "
                                   f"{summary['escalated']} escalated")
            # A calm console: a poll that found nothing is a debug line, except a source's
            # first (it shows the source works); news and failures are info.
            quiet = (summary["outcome"] == "ok" and not summary["new"]
                     and not summary["escalated"] and name in self._polled)
            self._polled.add(name)
            (log.debug if quiet else log.info)(
                "poll", **{k: v for k, v in summary.items() if k != "source"})
        return summary

    def _record_failure(self, name: str, error: str, now: datetime,
                        not_before: datetime | None, token: int) -> None:
        """Count a failed poll; if the database cannot take even that, say so and go on
        (the cursor did not move, so the next poll reads the same messages again)."""
        try:
            self.store.record_poll_failure(name, error, now, not_before, token)
        except sa.exc.DBAPIError as exc:
            log.warning("poll_failure_not_recorded", error=_db_error(exc))

    def deliver(self) -> dict[str, int]:
        stats = self.outbox.deliver_due()
        if stats.delivered or stats.retried or stats.parked:
            log.info("outbox", delivered=stats.delivered, retried=stats.retried,
                     parked=stats.parked, deferred=stats.deferred)
        counts = self.store.outbox_stats(utcnow())
        self.metrics.outbox(counts["pending"], counts["oldest_pending_age_s"], counts["parked"])
        return {"delivered": stats.delivered, "retried": stats.retried, "parked": stats.parked}

    def _on_delivery(self, kind: str, target: str, outcome: str) -> None:
        if kind == "alert":
            self.metrics.notified(target, {"delivered": "ok", "retry": "retriable"}.get(
                outcome, outcome))

    def sweep(self) -> None:
        """Re-evaluate tickets whose resolve timer ran out, so they resolve without new messages."""
        for name in list(self._tokens):
            tickets = self.store.due_tickets(name, utcnow())
            for start in range(0, len(tickets), 200):
                self.pipeline.reevaluate(name, tickets[start:start + 200])
        if self.incident_settings.enabled and self.store.incidents_due(utcnow()):
            self.pipeline.incident_timers()

    def rescore(self, limit: int = 100) -> int:
        """Replace fallback scores once the primary scorer is available again."""
        available = getattr(self.scorer, "is_available", None)
        if available is None or not available():
            return 0
        rows = self.store.messages_needing_rescore(limit)
        if not rows:
            return 0
        scores = self.scorer.score([row["body"] for row in rows])
        updates = [{"_id": row["id"], "score": s.score, "label": s.label,
                    "confidence": s.confidence, "indicators": list(s.indicators),
                    "signals": sorted(s.signals), "scorer": s.scorer, "model": s.model[:64],
                    "needs_rescore": s.needs_rescore, "language": s.language or None,
                    "language_supported": s.language_supported}
                   for row, s in zip(rows, scores, strict=True) if not s.needs_rescore]
        self.store.update_scores(updates)
        if updates:
            log.info("rescored", messages=len(updates))
        return len(updates)

    def retention(self) -> dict[str, int]:
        """Remove customer text older than `retention.message_text` everywhere we keep
        it: messages, ticket snapshots, outbox payloads and the Claude score cache."""
        keep = self.config.top.retention.message_text
        purged = self.store.purge_customer_text(utcnow() - keep)
        purge_cache = getattr(self.scorer, "purge_expired", None)
        purged["score_cache"] = int(purge_cache(keep.total_seconds())) if purge_cache else 0
        if any(purged.values()):
            self.pipeline.forget_cached()
            log.info("retention_purged", **purged)
        return purged

    def heartbeat(self) -> None:
        self._heartbeat = time.monotonic()
        self._guarded(self.balance_leases, "leases")()  # the watchdog still gets its ping
        sdnotify.watchdog()
        sdnotify.status("; ".join(h.last_summary for h in self.health.values() if
                                  h.last_summary) or "running")
        if self.config.top.watch and self._mtime() != self._config_mtime:
            if self._wake_fd is None:  # no main loop (tests, tools): reload right here
                self.reload()
            else:
                self._config_mtime = self._mtime()  # asked once, not every heartbeat
                self._reload_requested = True
                self._wake_main_loop()

    def _renew(self, name: str, token: int) -> bool:
        if self.store.renew_source(name, self.owner, token, utcnow(),
                                   self.config.top.lease.duration):
            return True
        if self._tokens.pop(name, None) is not None:
            log.warning("lease_expired", source=name, token=token)
        return False

    def heartbeat_interval(self) -> float:
        """Often enough for the watchdog and to renew a lease three times over its life."""
        lease = self.config.top.lease.duration.total_seconds()
        return max(0.5, min(5.0, lease / 3, sdnotify.watchdog_interval() or 5.0))

    def balance_leases(self) -> int:
        """Renew our leases and claim free sources up to our fair share of them.

        Every replica heartbeats into the `replica` table; with N alive, each holds at
        most ceil(sources / N), so a new replica gets work and a dead one's sources (its
        leases expire) are taken over by the next heartbeats.  Returns leases held.
        """
        now = utcnow()
        duration = self.config.top.lease.duration
        # Alive = heartbeated recently; the window spans several heartbeats so one late
        # beat does not make a replica look dead and shift everyone's fair share.
        window = max(duration, timedelta(seconds=3 * self.heartbeat_interval()))
        live = self.store.touch_replica(self.owner, now, window)
        if self.store.is_postgres:  # outbox rows a dead replica had claimed
            self.store.release_claims(keep_owners=self.store.live_replicas(now, 2 * duration))
        names = sorted(self.connectors)
        fair = -(-len(names) // live)
        # Keep what we hold (renew), release what is above our share, then claim free ones.
        for name in [n for n in names if n in self._tokens]:
            if len(self._tokens) > fair and name not in self._polling:
                self.store.release_source(name, self.owner)
                log.info("lease_released", source=name, token=self._tokens.pop(name),
                         replicas=live)
                continue
            self._renew(name, self._tokens[name])
        offset = hash(self.owner) % max(1, len(names))  # replicas start at different places
        for name in names[offset:] + names[:offset]:
            if len(self._tokens) >= fair:
                break
            if name in self._tokens:
                continue
            token = self.store.claim_source(name, self.owner, now, duration)
            if token is not None:
                self._tokens[name] = token
                log.info("lease_acquired", source=name, token=token, replicas=live)
        self.metrics.leases_held(len(self._tokens))
        return len(self._tokens)

    def _mtime(self) -> float:
        try:
            return self.config.path.stat().st_mtime
        except OSError:
            return 0.0

    def reload(self) -> bool:
        """Swap in the rules of the config file; keep the running ones if it is invalid."""
        sdnotify.reloading()
        self._config_mtime = self._mtime()
        try:
            new = load_config(self.config.path)
        except ConfigError as exc:
            log.error("reload_failed", errors=exc.messages, kept_rules=len(self.rules.rules))
            sdnotify.ready("reload failed; running rules kept")
            return False
        except Exception as exc:  # a bug must not kill the reload thread or the old rules
            # The type only: an exception's text could carry a resolved secret.
            log.error("reload_failed", errors=[f"unexpected {type(exc).__name__} while "
                                               "loading; run check-config"],
                      kept_rules=len(self.rules.rules))
            sdnotify.ready("reload failed; running rules kept")
            return False
        self.rules = new.rules
        self.incident_settings = new.top.incidents
        for health in self.health.values():
            health.paused_reason = None  # credentials may have been fixed: try again
        log.info("reloaded", rules=[r.name for r in new.rules.rules])
        sdnotify.ready("reloaded")
        return True

    # -- running ----------------------------------------------------------------------

    def run_once(self, max_rounds: int = 50) -> dict[str, Any]:
        """Poll every source until caught up, deliver the outbox until empty, return.

        The totals name, under `failed`, every source that was not read (failed, paused
        or still backing off) with why.  SIGTERM/SIGINT finish the unit of work in hand
        and skip the rest (`stopped_by`): a clean stop, not a failure of the source."""
        totals: dict[str, Any] = {"new": 0, "escalated": 0, "delivered": 0, "parked": 0}
        failed: dict[str, str] = {}
        with self._recording_signals():
            self.balance_leases()
            for name in self.connectors:
                if self._stop_requested():
                    break
                summary = self.poll_source(name)
                totals["new"] += summary["new"]
                totals["escalated"] += summary["escalated"]
                if summary["outcome"] in FAILED_OUTCOMES:
                    failed[name] = redact_text(self._describe_failure(summary))
            for _ in range(max_rounds):
                if self._stop_requested():
                    break
                stats = self.deliver()
                totals["delivered"] += stats["delivered"]
                totals["parked"] += stats["parked"]
                if not stats["delivered"]:
                    break
        if failed:
            totals["failed"] = failed
        if self._stop_signal is not None:
            totals["stopped_by"] = signal.Signals(self._stop_signal).name
            log.info("stopping", signal=totals["stopped_by"])
        return totals

    @staticmethod
    def _describe_failure(summary: dict[str, Any]) -> str:
        text = f"{summary['outcome']}: {summary.get('error') or 'no detail'}"
        if summary.get("resumes_at"):
            text += f" (polled again from {summary['resumes_at']})"
        return text

    def _stop_requested(self) -> bool:
        return self._stop_signal is not None or self._stopping.is_set()

    @contextlib.contextmanager
    def _recording_signals(self) -> Iterator[None]:
        """Record SIGTERM/SIGINT/SIGHUP (nothing else) while the block runs, in the main
        thread; elsewhere (signals cannot be caught there) the block just runs."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        handlers = {signal.SIGTERM: self._on_stop_signal, signal.SIGINT: self._on_stop_signal,
                    signal.SIGHUP: self._on_reload_signal}
        previous = {number: signal.signal(number, handler)
                    for number, handler in handlers.items()}
        try:
            yield
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)

    @staticmethod
    def _guarded(work: Callable[[], object], job: str) -> Callable[[], None]:
        """A scheduler job that outlives a database restart: the error is one log line and
        the next run tries again (what was not committed is redone then)."""
        def run() -> None:
            try:
                work()
            except sa.exc.DBAPIError as exc:
                log.warning("database_error", job=job, error=_db_error(exc))
        return run

    def _on_stop_signal(self, signum: int, _frame: Any) -> None:
        """SIGTERM/SIGINT: record it; the main loop stops (the first signal is the one named)."""
        if self._stop_signal is None:
            self._stop_signal = signum

    def _on_reload_signal(self, _signum: int, _frame: Any) -> None:
        """SIGHUP: record it; the main loop reloads once however many arrived meanwhile."""
        self._reload_requested = True

    def _wake_main_loop(self) -> None:
        wake = self._wake_fd
        if wake is not None:
            # A full pipe means the loop is already due to wake; a closed one, that it ended.
            with contextlib.suppress(OSError):
                os.write(wake, b"\0")

    def _main_loop(self, wake_read: int) -> None:
        """Wait for signals; reload on request; return when asked to stop.

        Bounded per turn by the select timeout, and as a whole by the stop request: a
        storm of SIGHUPs costs one reload per turn, never a queue of them."""
        while self._stop_signal is None:
            if self._reload_requested:
                self._reload_requested = False
                try:
                    self.reload()
                except Exception:  # the daemon keeps running on the rules it had
                    log.exception("reload_crashed")
                continue
            select.select([wake_read], [], [], 1.0)
            with contextlib.suppress(BlockingIOError):  # raised once the pipe is drained
                while os.read(wake_read, 4096):
                    pass

    def run(self) -> int:
        from apscheduler.events import EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED, JobEvent
        from apscheduler.executors.pool import ThreadPoolExecutor
        from apscheduler.schedulers.background import BackgroundScheduler

        scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(max_workers=len(self.connectors) + 4)},
            job_defaults={"coalesce": True, "max_instances": 1}, timezone="UTC")
        self._scheduler = scheduler

        def skipped(event: JobEvent) -> None:
            reason = "max_instances" if event.code == EVENT_JOB_MAX_INSTANCES else "misfire"
            self.metrics.job_skipped(reason)

        scheduler.add_listener(skipped, EVENT_JOB_MAX_INSTANCES | EVENT_JOB_MISSED)
        first = datetime.now().astimezone()
        for name, settings in self._sources.items():
            interval = max(1.0, settings.poll_interval.total_seconds())
            scheduler.add_job(self.poll_source, "interval", args=[name], id=f"poll:{name}",
                              seconds=interval, jitter=min(5.0, interval / 10),
                              misfire_grace_time=int(interval) + 1, next_run_time=first)
        outbox_every = max(0.5, self.config.top.outbox.interval.total_seconds())
        scheduler.add_job(self._guarded(self.deliver, "outbox"), "interval", id="outbox",
                          seconds=outbox_every, misfire_grace_time=30, next_run_time=first)
        scheduler.add_job(self.heartbeat, "interval", id="heartbeat",
                          seconds=self.heartbeat_interval(),
                          misfire_grace_time=30, next_run_time=first)
        scheduler.add_job(self._guarded(self.sweep, "sweep"), "interval", id="sweep",
                          seconds=60, misfire_grace_time=60)
        scheduler.add_job(self._guarded(self.rescore, "rescore"), "interval", id="rescore",
                          seconds=60, misfire_grace_time=60)
        scheduler.add_job(self._guarded(self.retention, "retention"), "interval",
                          id="retention", hours=6, misfire_grace_time=3600, next_run_time=first)

        self._guarded(self.balance_leases, "leases")()  # before the first polls run
        # READY=1 from inside the scheduler: config and database are up, and so is it.
        scheduler.add_job(sdnotify.ready, "date", id="ready", run_date=first,
                          args=[f"watching {len(self.connectors)} source(s)"])
        wake_read, wake_write = os.pipe()
        os.set_blocking(wake_read, False)
        os.set_blocking(wake_write, False)
        previous_wakeup = signal.set_wakeup_fd(wake_write, warn_on_full_buffer=False)
        self._wake_fd = wake_write
        signal.signal(signal.SIGTERM, self._on_stop_signal)
        signal.signal(signal.SIGINT, self._on_stop_signal)
        signal.signal(signal.SIGHUP, self._on_reload_signal)
        log.info("started", sources=list(self.connectors), notifiers=list(self.notifiers),
                 scorer=self.scorer.name, rules=[r.name for r in self.rules.rules],
                 database=self.store.engine.url.render_as_string(hide_password=True),
                 owner=self.owner)
        try:
            scheduler.start()
            self._main_loop(wake_read)
            self._stopping.set()  # a poll between rounds stops after the current one
            sdnotify.stopping()
            log.info("stopping", signal=signal.Signals(self._stop_signal or
                                                        signal.SIGTERM).name)
            # A vendor dripping bytes must not hold shutdown past systemd's stop timeout:
            # requests in flight get a grace period, nothing new is sent or retried.
            stop_all_clients(grace=STOP_GRACE_SECONDS)
            stop_all_limited_clients(grace=STOP_GRACE_SECONDS)  # the Claude scorer's
            scheduler.shutdown(wait=True)  # jobs finish their unit of work
        finally:
            self._wake_fd = None
            # Our handlers stay: they only record, so signals during close() are harmless.
            signal.set_wakeup_fd(previous_wakeup)
            os.close(wake_read)
            os.close(wake_write)
        log.info("stopped")
        # Stopped: what is left is close() and the interpreter's exit, which puts the
        # default handlers back in place of Python ones; a late signal of a burst would then
        # turn this clean exit into death by SIGTERM or SIGHUP.  Ignoring them is
        # process-wide (a mask would hold only in this thread) and survives the exit.
        for stop_signal in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(stop_signal, signal.SIG_IGN)
        return 0

