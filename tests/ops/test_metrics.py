"""Metrics, scraped over real HTTP from the endpoint the daemon serves."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from daemon.metrics import Metrics, MetricsServer, start_metrics_server

ALLOWED_LABELS = {
    "source", "outcome", "scorer", "rule", "notifier", "reason", "version", "le",
    # python_info from the platform collector
    "implementation", "major", "minor", "patchlevel",
}


@pytest.fixture
def served() -> Iterator[tuple[Metrics, MetricsServer]]:
    metrics = Metrics(version="1.2.3")
    server = start_metrics_server(metrics, 0)
    yield metrics, server
    server.close()


def scrape(server: MetricsServer) -> dict[str, list[Sample]]:
    response = requests.get(f"http://127.0.0.1:{server.port}/metrics", timeout=5)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    families = text_string_to_metric_families(response.text)
    samples: dict[str, list[Sample]] = {}
    for family in families:
        for sample in family.samples:
            samples.setdefault(sample.name, []).append(sample)
    return samples


def value(samples: dict[str, list[Sample]], name: str, **labels: str) -> float:
    matches = [s.value for s in samples.get(name, []) if s.labels == labels]
    assert len(matches) == 1, f"{name}{labels}: {samples.get(name)}"
    return matches[0]


def test_binds_loopback_by_default(served: tuple[Metrics, MetricsServer]) -> None:
    _, server = served
    assert server.address == "127.0.0.1"
    assert server.port > 0


def test_the_verbs_show_up_in_a_scrape(served: tuple[Metrics, MetricsServer]) -> None:
    metrics, server = served
    metrics.declare(sources=["zendesk-main"], scorers=["local"],
                    rules=["sentiment-declining"], notifiers=["escalations"])
    metrics.poll_finished("zendesk-main", "ok", 0.4, fetched=12, now=1_700_000_000.0)
    metrics.poll_finished("zendesk-main", "retriable", 3.0, fetched=0, now=1_800_000_000.0)
    metrics.scored("local", 10)
    metrics.fallback("spend_limit")
    metrics.escalated("sentiment-declining")
    metrics.notified("escalations", "ok")
    metrics.notified("escalations", "retriable")
    metrics.outbox(pending=3, oldest_age=42.5, parked=1)
    metrics.job_skipped("max_instances")
    metrics.leases_held(2)

    s = scrape(server)
    assert value(s, "sentinel_polls_total", source="zendesk-main", outcome="ok") == 1
    assert value(s, "sentinel_polls_total", source="zendesk-main", outcome="retriable") == 1
    assert value(s, "sentinel_polls_total", source="zendesk-main", outcome="fatal") == 0
    assert value(s, "sentinel_poll_duration_seconds_count", source="zendesk-main") == 2
    assert value(s, "sentinel_poll_duration_seconds_sum", source="zendesk-main") == 3.4
    assert value(s, "sentinel_poll_duration_seconds_bucket", source="zendesk-main",
                 le="0.5") == 1
    assert value(s, "sentinel_messages_fetched_total", source="zendesk-main") == 12
    # A failed poll does not move the "last success" time.
    assert value(s, "sentinel_last_successful_poll_timestamp_seconds",
                 source="zendesk-main") == 1_700_000_000.0
    assert value(s, "sentinel_messages_scored_total", scorer="local") == 10
    assert value(s, "sentinel_scorer_fallbacks_total", reason="spend_limit") == 1
    assert value(s, "sentinel_escalations_total", rule="sentiment-declining") == 1
    assert value(s, "sentinel_notifications_total", notifier="escalations", outcome="ok") == 1
    assert value(s, "sentinel_notifications_total", notifier="escalations",
                 outcome="parked") == 0
    assert value(s, "sentinel_outbox_pending") == 3
    assert value(s, "sentinel_outbox_oldest_age_seconds") == 42.5
    assert value(s, "sentinel_outbox_parked") == 1
    assert value(s, "sentinel_scheduler_jobs_skipped_total", reason="max_instances") == 1
    assert value(s, "sentinel_scheduler_jobs_skipped_total", reason="misfire") == 0
    assert value(s, "sentinel_source_leases_held") == 2
    assert value(s, "sentinel_build_info", version="1.2.3") == 1


def test_process_metrics_and_no_created_series(served: tuple[Metrics, MetricsServer]) -> None:
    metrics, server = served
    metrics.escalated("r")
    s = scrape(server)
    assert "process_resident_memory_bytes" in s
    assert "process_start_time_seconds" in s
    assert "python_info" in s
    assert not [name for name in s if name.endswith("_created")]


def test_labels_stay_bounded(served: tuple[Metrics, MetricsServer]) -> None:
    metrics, server = served
    # Outcomes and reasons outside their vocabularies collapse to "other".
    metrics.poll_finished("s", "ticket 4711 from jane@example.com", 0.1, fetched=1)
    metrics.notified("n", "weird")
    metrics.fallback("HTTP 500 for ticket 4711")
    metrics.job_skipped("because")
    s = scrape(server)
    assert value(s, "sentinel_polls_total", source="s", outcome="other") == 1
    assert value(s, "sentinel_notifications_total", notifier="n", outcome="other") == 1
    assert value(s, "sentinel_scorer_fallbacks_total", reason="other") == 1
    assert value(s, "sentinel_scheduler_jobs_skipped_total", reason="other") == 1
    names = {label for samples in s.values() for sample in samples for label in sample.labels}
    assert names <= ALLOWED_LABELS
    text = metrics.render().decode()
    assert "4711" not in text and "@" not in text


def test_registries_are_independent() -> None:
    first, second = Metrics(), Metrics(process_collectors=False)
    first.escalated("r")
    assert b'sentinel_escalations_total{rule="r"} 1.0' in first.render()
    assert b"sentinel_escalations_total{rule=" not in second.render()
    assert b"process_" not in second.render()


def test_close_frees_the_port() -> None:
    metrics = Metrics()
    server = start_metrics_server(metrics, 0)
    port = server.port
    server.close()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/metrics", timeout=2)
    # The same port can be served again (e.g. after a reload rebuilt the metrics).
    with start_metrics_server(Metrics(), port) as again:
        assert again.port == port
