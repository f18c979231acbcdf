"""The running daemon: schedules the work of the parts the composition root built.

One APScheduler 3 `BackgroundScheduler`, with one interval job per source (`poll:<name>`,
`max_instances=1`, `coalesce=True`, jitter, misfire grace of an interval), an outbox job,
and housekeeping (heartbeat and watchdog, lease renewal, resolve sweeps, re-scoring of
fallback scores, retention).  The parts come from daemon/app.py, each source's polling and
failure policy from daemon/coordinator.py, the leases from daemon/leases.py.
SIGTERM/SIGINT let the running unit of work finish and exit 0; SIGHUP (and a changed file
with `watch: true`) reloads the rules, keeping the running ones when the new file is
invalid.  Signal handlers only record the request (a flag, and a byte on a wake-up pipe
through `signal.set_wakeup_fd`); the main thread, which otherwise only waits on that pipe,
performs the stop or the reload.  A handler that took a lock or started a thread could
interrupt the main thread holding the same lock and wedge the process under a burst of
signals.  With SQLite a lock on the database file refuses a second daemon on the same
database.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TextIO

import sqlalchemy as sa

from connectors.base import Connector, Notifier
from connectors.http import stop_all_clients
from daemon import housekeeping, sdnotify
from daemon.app import App
from daemon.config import Config, ConfigError, load_config
from daemon.coordinator import FAILED_OUTCOMES, SourceCoordinator, SourceHealth, db_error
from daemon.leases import LeaseBalancer
from daemon.localfiles import private_dir
from daemon.logs import get_logger, redact_text
from daemon.metrics import Metrics
from daemon.outbox import OutboxDispatcher
from daemon.pipeline import Pipeline
from daemon.scoring.base import Scorer
from daemon.signals import SignalInbox
from daemon.startup import prepare_database, restart_sandbox_sources, take_sqlite_locks
from daemon.store import Store
from rules.incidents import IncidentSettings
from rules.model import RuleSet
from vocab import utcnow

log = get_logger("sentinel.service")

#: Seconds an HTTP request in flight at SIGTERM may still take (systemd allows 60 in all).
STOP_GRACE_SECONDS = 10.0


def _stop_limited_clients(grace: float) -> None:
    """Stop the Claude scorer's HTTP clients, if it ever made one.  The module is imported
    only by that scorer: without it, httpx is never loaded (about 2 MB less RSS)."""
    module = sys.modules.get("daemon.scoring.http_limits")
    if module is not None:
        module.stop_all_limited_clients(grace=grace)


@dataclass(slots=True)
class Daemon:
    """One replica: `Daemon(config).build()` takes the parts from `App`, then `run()`
    (until SIGTERM) or `run_once()`; `close()` hands the leases over and closes them."""

    config: Config
    owner: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}:"
                                                f"{uuid.uuid4().hex[:6]}")
    echo: TextIO | None = None
    app: App = field(init=False)
    store: Store = field(init=False)
    scorer: Scorer = field(init=False)
    connectors: dict[str, Connector] = field(init=False, default_factory=dict)
    notifiers: dict[str, Notifier] = field(init=False, default_factory=dict)
    pipeline: Pipeline = field(init=False)
    outbox: OutboxDispatcher = field(init=False)
    rules: RuleSet = field(init=False)
    incident_settings: IncidentSettings = field(init=False, default_factory=IncidentSettings)
    metrics: Metrics = field(init=False)
    leases: LeaseBalancer = field(init=False)
    coordinators: dict[str, SourceCoordinator] = field(init=False, default_factory=dict)
    _lock_file: Any = field(init=False, default=None)
    _scheduler: Any = field(init=False, default=None)
    _stopping: threading.Event = field(init=False, default_factory=threading.Event)
    _heartbeat: float = field(init=False, default=0.0)
    _config_mtime: float = field(init=False, default=0.0)
    _metrics_server: Any = field(init=False, default=None)
    signals: SignalInbox = field(init=False, default_factory=SignalInbox)

    # -- building -------------------------------------------------------------------

    def build(self) -> Daemon:
        private_dir(self.config.state_dir)  # holds customer text: 0700 whatever the umask
        self.rules = self.config.rules
        self.incident_settings = self.config.top.incidents
        self.app = App.start(self.config)
        try:
            self._build_parts(self.app)
        except BaseException:
            self.app.close()
            for handle in self._lock_file or ():
                handle.close()
            raise
        self._config_mtime = self._mtime()
        return self

    def _build_parts(self, app: App) -> None:
        top = self.config.top
        # A frozen replica's row locks last no longer than its leases; never under 10 s,
        # which is far above the idle gaps inside our own transactions (rule evaluation).
        self.store = app.store(stuck_after=max(top.lease.duration, timedelta(seconds=10)))
        self._prepare(app)
        self.scorer = app.scorer()
        self.connectors = app.connectors()
        self.notifiers = app.notifiers()
        self.pipeline = app.pipeline(lambda: self.rules, lambda: self.incident_settings)
        self.outbox = app.outbox(self.owner, on_result=self._on_delivery)
        self.metrics = app.metrics(self.rules)
        if top.metrics.enabled:
            self._metrics_server = app.metrics_server(self.metrics)
            log.info("metrics_listening", addr=top.metrics.addr, port=self._metrics_server.port)
        if top.dashboard.enabled:
            app.dashboard(lambda: self.rules)
        self.leases = LeaseBalancer(self.store, self.owner, list(self.connectors),
                                    top.lease.duration, self.heartbeat_interval, self.metrics)
        self.coordinators = {
            source.name: SourceCoordinator(
                source, self.connectors[source.name], store=self.store,
                pipeline=self.pipeline, leases=self.leases, metrics=self.metrics,
                scorer_name=self.scorer.name, stop_requested=self._stop_requested)
            for source in app.config.sources}

    @property
    def sandboxes(self) -> list[Any]:
        """The demo's sandbox servers this daemon started."""
        return self.app.demo.servers

    @property
    def health(self) -> dict[str, SourceHealth]:
        return {name: c.health for name, c in self.coordinators.items()}

    def _prepare(self, app: App) -> None:
        """Locks (SQLite), the database (waited for) and the demo's sources."""
        if self.store.is_sqlite:
            self._lock_file = take_sqlite_locks(self.config.state_dir, self.store)
        prepare_database(self.store, [s.name for s in app.config.sources],
                         self.config.top.database.startup_wait)
        restart_sandbox_sources(self.store, app.sandbox_sources)

    def close(self) -> None:
        try:  # hand the sources over now rather than when the leases run out
            self.leases.release_all()
        except sa.exc.DBAPIError as exc:
            log.warning("database_error", job="close", error=db_error(exc))
        self.app.close()
        for handle in self._lock_file or ():
            handle.close()

    # -- units of work ----------------------------------------------------------------

    def poll_source(self, name: str) -> dict[str, Any]:
        """Poll one source until caught up (bounded); returns the canonical summary."""
        return self.coordinators[name].poll()

    def deliver(self) -> dict[str, int]:
        stats = self.outbox.deliver_due()
        if stats.delivered or stats.retried or stats.parked:
            log.info("outbox", delivered=stats.delivered, retried=stats.retried,
                     parked=stats.parked, deferred=stats.deferred)
        counts = self.store.outbox.stats(utcnow())
        self.metrics.outbox(counts["pending"], counts["oldest_pending_age_s"], counts["parked"])
        return {"delivered": stats.delivered, "retried": stats.retried, "parked": stats.parked}

    def _on_delivery(self, kind: str, target: str, outcome: str) -> None:
        if kind == "alert":
            self.metrics.notified(target, {"delivered": "ok", "retry": "retriable"}.get(
                outcome, outcome))

    def sweep(self) -> None:
        """Re-evaluate tickets whose resolve timer ran out (daemon/housekeeping.py)."""
        housekeeping.sweep(self.store, self.pipeline, self.leases.held(),
                           self.incident_settings.enabled)

    def rescore(self, limit: int = 100) -> int:
        """Replace fallback scores once the primary scorer is available again."""
        return housekeeping.rescore(self.store, self.scorer, limit)

    def retention(self) -> dict[str, int]:
        """Remove customer text older than `retention.message_text` everywhere."""
        return housekeeping.purge_old_text(self.store, self.scorer, self.pipeline,
                                           self.config.top.retention.message_text)

    def heartbeat(self) -> None:
        self._heartbeat = time.monotonic()
        self._guarded(self.balance_leases, "leases")()  # the watchdog still gets its ping
        sdnotify.watchdog()
        sdnotify.status("; ".join(c.health.last_summary for c in self.coordinators.values()
                                  if c.health.last_summary) or "running")
        if self.config.top.watch and self._mtime() != self._config_mtime:
            if not self.signals.has_main_loop:  # no main loop (tests, tools): reload here
                self.reload()
            else:
                self._config_mtime = self._mtime()  # asked once, not every heartbeat
                self.signals.request_reload()

    def heartbeat_interval(self) -> float:
        """Often enough for the watchdog and to renew a lease three times over its life."""
        lease = self.config.top.lease.duration.total_seconds()
        return max(0.5, min(5.0, lease / 3, sdnotify.watchdog_interval() or 5.0))

    def balance_leases(self) -> int:
        """Renew our leases and claim free sources up to our fair share (daemon/leases.py)."""
        return self.leases.balance()

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
        for coordinator in self.coordinators.values():
            coordinator.resume()  # credentials may have been fixed: try again
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
        with self.signals.recording():
            self.balance_leases()
            for name in self.coordinators:
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
        if self.signals.stop_signal is not None:
            totals["stopped_by"] = signal.Signals(self.signals.stop_signal).name
            log.info("stopping", signal=totals["stopped_by"])
        return totals

    @staticmethod
    def _describe_failure(summary: dict[str, Any]) -> str:
        text = f"{summary['outcome']}: {summary.get('error') or 'no detail'}"
        if summary.get("resumes_at"):
            text += f" (polled again from {summary['resumes_at']})"
        return text

    def _stop_requested(self) -> bool:
        return self.signals.stop_signal is not None or self._stopping.is_set()

    @staticmethod
    def _guarded(work: Callable[[], object], job: str) -> Callable[[], None]:
        """A scheduler job that outlives a database restart: the error is one log line and
        the next run tries again (what was not committed is redone then)."""
        def run() -> None:
            try:
                work()
            except sa.exc.DBAPIError as exc:
                log.warning("database_error", job=job, error=db_error(exc))
        return run

    def _schedule(self, scheduler: Any, first: datetime) -> None:
        """The jobs: one poll per source, the outbox, heartbeat and housekeeping."""
        for name, coordinator in self.coordinators.items():
            interval = max(1.0, coordinator.settings.poll_interval.total_seconds())
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

    def _new_scheduler(self) -> Any:
        from apscheduler.events import EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED, JobEvent
        from apscheduler.executors.pool import ThreadPoolExecutor
        from apscheduler.schedulers.background import BackgroundScheduler

        scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(max_workers=len(self.connectors) + 4)},
            job_defaults={"coalesce": True, "max_instances": 1}, timezone="UTC")

        def skipped(event: JobEvent) -> None:
            reason = "max_instances" if event.code == EVENT_JOB_MAX_INSTANCES else "misfire"
            self.metrics.job_skipped(reason)

        scheduler.add_listener(skipped, EVENT_JOB_MAX_INSTANCES | EVENT_JOB_MISSED)
        return scheduler

    def run(self) -> int:
        scheduler = self._scheduler = self._new_scheduler()
        first = datetime.now().astimezone()
        self._schedule(scheduler, first)
        self._guarded(self.balance_leases, "leases")()  # before the first polls run
        # READY=1 from inside the scheduler: config and database are up, and so is it.
        scheduler.add_job(sdnotify.ready, "date", id="ready", run_date=first,
                          args=[f"watching {len(self.connectors)} source(s)"])
        with self.signals.main_loop() as wait:
            log.info("started", sources=list(self.connectors), notifiers=list(self.notifiers),
                     scorer=self.scorer.name, rules=[r.name for r in self.rules.rules],
                     database=self.store.engine.url.render_as_string(hide_password=True),
                     owner=self.owner)
            scheduler.start()
            wait(self.reload)
            self._stopping.set()  # a poll between rounds stops after the current one
            sdnotify.stopping()
            log.info("stopping", signal=signal.Signals(self.signals.stop_signal or
                                                        signal.SIGTERM).name)
            # A vendor dripping bytes must not hold shutdown past systemd's stop timeout:
            # requests in flight get a grace period, nothing new is sent or retried.
            stop_all_clients(grace=STOP_GRACE_SECONDS)
            _stop_limited_clients(grace=STOP_GRACE_SECONDS)  # the Claude scorer's
            scheduler.shutdown(wait=True)  # jobs finish their unit of work
        log.info("stopped")
        return 0
