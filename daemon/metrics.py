"""Prometheus metrics of the daemon, and the small HTTP endpoint that serves them.

Everything lives on a private `CollectorRegistry` (with the process and platform
collectors) so tests and several daemons in one process never collide in the global
registry.  Names follow the Prometheus conventions: one `sentinel_` prefix, base units
(`_seconds`), `_total` on counters, labels with a small bounded set of values (source,
scorer, rule and notifier names from the config; outcomes from fixed vocabularies) and
never a ticket id, a message id or an email address.  The `_created` series that the
client adds to every counter and histogram are switched off: they double the series
count and nothing here uses them.

The service calls the few verbs below (`poll_finished`, `scored`, `escalated`, ...); the
metric objects stay an implementation detail.  The endpoint binds 127.0.0.1 by default
(prometheus_client's own default is every interface) and is off unless configured.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
    start_http_server,
)

from daemon.served import ServedInThread

#: How a poll ended.  `partial`: stopped on its page budget with more to read.
POLL_OUTCOMES: tuple[str, ...] = ("ok", "partial", "retriable", "fatal", "auth")
#: How one delivery attempt of an alert ended.  `parked`: the last attempt failed.
NOTIFY_OUTCOMES: tuple[str, ...] = ("ok", "retriable", "fatal", "parked")
#: Why the scorer fell back to the local one.
FALLBACK_REASONS: tuple[str, ...] = ("unavailable", "budget", "auth", "spend_limit",
                                     "refusal", "invalid_output")
#: Why APScheduler skipped a run (EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED).
SKIP_REASONS: tuple[str, ...] = ("max_instances", "misfire")
#: Agents' marks on escalations (rules.feedback).
FEEDBACK_KINDS: tuple[str, ...] = ("false_alarm", "missed")

OTHER = "other"

# Polls range from one fast page to a page budget spent against a slow vendor.
POLL_DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)


def _bounded(value: str, vocabulary: tuple[str, ...]) -> str:
    """Keep a label inside its vocabulary, so a caller's typo cannot grow new series."""
    return value if value in vocabulary else OTHER


class Metrics:
    """The daemon's metrics on their own registry.  Thread-safe (the client locks)."""

    def __init__(self, version: str = "unknown", *, process_collectors: bool = True) -> None:
        disable_created_metrics()  # type: ignore[no-untyped-call]  # process-wide switch
        self.registry = CollectorRegistry(auto_describe=True)
        if process_collectors:
            ProcessCollector(registry=self.registry)
            PlatformCollector(registry=self.registry)
        r = self.registry
        self._polls = Counter("sentinel_polls", "Polls of a source, by how they ended.",
                              ["source", "outcome"], registry=r)
        self._poll_duration = Histogram(
            "sentinel_poll_duration_seconds", "Wall time of one poll of a source.",
            ["source"], buckets=POLL_DURATION_BUCKETS, registry=r)
        self._fetched = Counter("sentinel_messages_fetched",
                                "Messages read from a source (before dedupe).",
                                ["source"], registry=r)
        self._last_success = Gauge(
            "sentinel_last_successful_poll_timestamp_seconds",
            "Unix time of the last poll of a source that ended ok or partial.",
            ["source"], registry=r)
        self._scored = Counter("sentinel_messages_scored", "Customer messages scored.",
                               ["scorer"], registry=r)
        self._fallbacks = Counter("sentinel_scorer_fallbacks",
                                  "Messages scored by the local scorer because the "
                                  "configured one failed.", ["reason"], registry=r)
        self._escalations = Counter("sentinel_escalations", "Rule firings.", ["rule"],
                                    registry=r)
        self._feedback = Counter("sentinel_rule_feedback",
                                 "Agents' marks: false alarms of a rule's escalations, and "
                                 "tickets a rule did not escalate that an agent marked "
                                 "missed. Precision = 1 - false_alarm / sentinel_escalations.",
                                 ["rule", "kind"], registry=r)
        self._disagreements = Counter("sentinel_scorer_disagreements",
                                      "Messages whose model verdict was overruled by more "
                                      "severe evidence (scorer_disagreement).", registry=r)
        self._notifications = Counter("sentinel_notifications",
                                      "Alert delivery attempts, by how they ended.",
                                      ["notifier", "outcome"], registry=r)
        self._outbox_pending = Gauge("sentinel_outbox_pending",
                                     "Outbox rows waiting for delivery.", registry=r)
        self._outbox_oldest = Gauge("sentinel_outbox_oldest_age_seconds",
                                    "Age of the oldest pending outbox row (0 when empty).",
                                    registry=r)
        self._outbox_parked = Gauge("sentinel_outbox_parked",
                                    "Outbox rows that failed for good and wait for a human.",
                                    registry=r)
        self._jobs_skipped = Counter("sentinel_scheduler_jobs_skipped",
                                     "Scheduler runs skipped (still running, or too late).",
                                     ["reason"], registry=r)
        self._leases = Gauge("sentinel_source_leases_held",
                             "Sources this replica holds the poll lease of.", registry=r)
        self._build_info = Gauge("sentinel_build_info", "Always 1; the version is the label.",
                                 ["version"], registry=r)
        self._build_info.labels(version=version).set(1)
        for reason in SKIP_REASONS:
            self._jobs_skipped.labels(reason=reason)

    # -- declaring what exists, so series start at zero rather than appear later --------

    def declare(self, *, sources: Iterable[str] = (), scorers: Iterable[str] = (),
                rules: Iterable[str] = (), notifiers: Iterable[str] = ()) -> None:
        """Create the zero series of configured names: `rate()` and `absent()` then work
        from the first scrape instead of from the first event."""
        for source in sources:
            for outcome in POLL_OUTCOMES:
                self._polls.labels(source=source, outcome=outcome)
            self._poll_duration.labels(source=source)
            self._fetched.labels(source=source)
        for scorer in scorers:
            self._scored.labels(scorer=scorer)
        for rule in rules:
            self._escalations.labels(rule=rule)
            for kind in FEEDBACK_KINDS:
                self._feedback.labels(rule=rule, kind=kind)
        for notifier in notifiers:
            for outcome in NOTIFY_OUTCOMES:
                self._notifications.labels(notifier=notifier, outcome=outcome)

    # -- the verbs the service calls ------------------------------------------------------

    def poll_finished(self, source: str, outcome: str, duration: float, fetched: int,
                      *, now: float | None = None) -> None:
        outcome = _bounded(outcome, POLL_OUTCOMES)
        self._polls.labels(source=source, outcome=outcome).inc()
        self._poll_duration.labels(source=source).observe(max(0.0, duration))
        if fetched > 0:
            self._fetched.labels(source=source).inc(fetched)
        if outcome in ("ok", "partial"):
            self._last_success.labels(source=source).set(time.time() if now is None else now)

    def scored(self, scorer: str, n: int = 1) -> None:
        if n > 0:
            self._scored.labels(scorer=scorer).inc(n)

    def fallback(self, reason: str, n: int = 1) -> None:
        if n > 0:
            self._fallbacks.labels(reason=_bounded(reason, FALLBACK_REASONS)).inc(n)

    def escalated(self, rule: str) -> None:
        self._escalations.labels(rule=rule).inc()

    def feedback_mark(self, rule: str, kind: str) -> None:
        self._feedback.labels(rule=rule, kind=_bounded(kind, FEEDBACK_KINDS)).inc()

    def scorer_disagreements(self, n: int = 1) -> None:
        if n > 0:
            self._disagreements.inc(n)

    def notified(self, notifier: str, outcome: str) -> None:
        self._notifications.labels(notifier=notifier,
                                   outcome=_bounded(outcome, NOTIFY_OUTCOMES)).inc()

    def outbox(self, pending: int, oldest_age: float | None, parked: int) -> None:
        self._outbox_pending.set(pending)
        self._outbox_oldest.set(max(0.0, oldest_age or 0.0))
        self._outbox_parked.set(parked)

    def job_skipped(self, reason: str) -> None:
        self._jobs_skipped.labels(reason=_bounded(reason, SKIP_REASONS)).inc()

    def leases_held(self, n: int) -> None:
        self._leases.set(n)

    def render(self) -> bytes:
        """The text exposition, as a scrape would see it."""
        return generate_latest(self.registry)


@dataclass(slots=True)
class MetricsServer(ServedInThread):
    """A running /metrics endpoint; `close()` stops it and frees the port."""


def start_metrics_server(metrics: Metrics, port: int, addr: str = "127.0.0.1") -> MetricsServer:
    """Serve `metrics` on http://addr:port/metrics (port 0: the OS picks one)."""
    server, thread = start_http_server(port, addr=addr, registry=metrics.registry)
    return MetricsServer(server, thread)
