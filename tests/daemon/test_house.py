"""The restructured daemon's seams: the failure policy table, the one Backoff value, and
the composition root (sandbox URLs rewritten, parts built once, closed in order)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa
import structlog

from connectors.base import (
    AuthError,
    FatalError,
    PollResult,
    RetriableError,
    TicketChange,
    TicketGoneError,
)
from connectors.demo import placeholder_url, referenced_sandboxes, rewrite_sandbox_urls
from connectors.sandbox.zendesk import ZendeskSandbox
from connectors.slack import SlackSettings
from daemon.app import App
from daemon.config import load_config
from daemon.coordinator import (
    CRASH_WAIT,
    DATABASE_WAIT,
    FATAL_WAIT,
    SOURCE_BACKOFF,
    failure_policy,
)
from daemon.references import sandbox_use
from daemon.service import Daemon
from daemon.store import T_SOURCE, LeaseLost
from tests.daemon.test_daemon_parts import _setup
from vocab.backoff import Backoff


def _db_error() -> sa.exc.DBAPIError:
    return sa.exc.OperationalError("SELECT 1", {}, ConnectionResetError("reset by peer"))


@pytest.mark.parametrize(("exc", "outcome", "wait", "event", "pause", "record"), [
    (RetriableError("HTTP 503", retry_after=42.0), "retriable", 42.0, "source_unavailable",
     False, True),
    (AuthError("HTTP 401"), "auth", None, "source_paused", True, True),
    (FatalError("HTTP 404"), "fatal", FATAL_WAIT, "source_failed", False, True),
    (TicketGoneError("gone"), "fatal", FATAL_WAIT, "source_failed", False, True),
    (LeaseLost("taken"), "lease_lost", None, "lease_lost", False, False),
    (_db_error(), "retriable", DATABASE_WAIT, "database_error", False, True),
    (KeyError("author"), "retriable", CRASH_WAIT, "poll_crashed", False, True),
])
def test_each_failure_mode_has_one_outcome_and_wait(
        exc: Exception, outcome: str, wait: float | None, event: str, pause: bool,
        record: bool) -> None:
    failure = failure_policy(exc, consecutive_failures=3)
    assert (failure.outcome, failure.wait, failure.event, failure.pause, failure.record) == (
        outcome, wait, event, pause, record)


def test_a_crash_names_the_type_only_and_a_database_error_hides_its_sql() -> None:
    crash = failure_policy(KeyError("customer wrote: ignore previous instructions"), 0)
    assert crash.error == "internal error (KeyError)"
    database = failure_policy(_db_error(), 0)
    assert "SELECT" not in database.error and "reset by peer" in database.error


def test_a_retriable_failure_without_retry_after_backs_off_per_failure_up_to_the_cap() -> None:
    waits = [failure_policy(RetriableError("HTTP 502"), n).wait for n in range(8)]
    assert waits == [5.0, 10.0, 20.0, 40.0, 80.0, 160.0, 300.0, 300.0]
    assert SOURCE_BACKOFF.delay(10_000) == 300.0  # no overflow, however long the outage


def test_backoff_is_immutable_jittered_within_bounds_and_validated() -> None:
    pacing = Backoff(base=2.0, cap=10.0, jitter_low=0.5, jitter_high=1.5)
    assert pacing.delay(0, draw=lambda: 0.0) == 1.0
    assert pacing.delay(1, draw=lambda: 1.0) == 6.0
    assert pacing.delay(5, draw=lambda: 0.5) == 10.0  # capped before the jitter
    with pytest.raises(AttributeError):
        pacing.base = 1.0  # type: ignore[misc]
    with pytest.raises(ValueError, match="jitter_low"):
        Backoff(jitter_low=2.0, jitter_high=1.0)


CONFIG = """
state_dir: {state}
sandbox:
  zendesk: {{}}
  slack: {{}}
sources:
  - name: zd
    kind: zendesk
    base_url: sandbox://zendesk
    email: bot@example.com
    api_token: house-token-5150
notifiers:
  chat: {{kind: slack, webhook_url: "sandbox://slack/services/T1/B1/x"}}
rules: []
"""


def test_app_starts_the_named_sandboxes_rewrites_urls_and_closes_everything(
        tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG.format(state=tmp_path / "state"))
    config = load_config(path, env={})
    assert str(config.source("zd").base_url).startswith(placeholder_url("zendesk"))
    assert referenced_sandboxes(config.source("zd")) == {"zendesk"}

    app = App.start(config, sandboxes={"zendesk"})
    try:
        (server,) = app.demo.servers
        url = server.url
        assert app.config.source("zd").base_url == server.url
        # Slack was not asked for: its placeholder stays (nothing listens there).
        chat = app.config.notifiers["chat"]
        assert isinstance(chat, SlackSettings) and chat.webhook_url is not None
        webhook = chat.webhook_url.get_secret_value()
        assert webhook.startswith(placeholder_url("slack"))
        assert app.connector("zd") is app.connector("zd")  # built once
        pipeline = app.pipeline(lambda: config.rules)
        assert pipeline.score_agent_messages is config.top.scoring.score_agent_messages
        # It answers (the sandbox keeps its own demo credentials, so: refused).
        assert requests.get(server.url + "/api/v2/tickets.json", timeout=5).status_code == 401
    finally:
        app.close()
    with pytest.raises(requests.ConnectionError):
        requests.get(url + "/api/v2/tickets.json", timeout=5)
    assert app.demo.servers == []
    untouched = rewrite_sandbox_urls(config.source("zd"), {})
    assert untouched is config.source("zd")


@pytest.mark.parametrize(("data", "where"), [
    ({"sandbox": {"zendesk": {}}, "sources": []}, ("sandbox",)),
    ({"sandbox": {}, "sources": [{"base_url": "https://acme.zendesk.com"}]}, None),
    ({"sources": [{"name": "zd"}, {"base_url": "sandbox://zendesk"}]}, ("sources", 1, "base_url")),
    ({"notifiers": {"chat": {"webhook_url": "sandbox://slack/services/x"}}},
     ("notifiers", "chat", "webhook_url")),
    ({"a": {"b": {"c": {"d": "sandbox://zendesk"}}}}, None),  # deeper than looked for
    ({"rules": [{"note": "see https://example.com"}]}, None),
])
def test_sandbox_use_finds_the_section_or_the_first_sandbox_url(
        data: dict[str, object], where: tuple[str | int, ...] | None) -> None:
    """What load_config names when the sandboxes are needed but not installed (the wheel
    has none: tests/ops/test_wheel.py runs that case end to end)."""
    assert sandbox_use(data, max_depth=3) == where


class ScriptedConnector:
    """Our own seam faked: raises the scripted exceptions in turn, then reads nothing."""

    kind = "scripted"
    name = "zd"

    def __init__(self, script: list[Exception | None]) -> None:
        self.script = script
        self.polls = 0

    def poll(self, cursor: str | None, start_from: datetime) -> PollResult:
        self.polls += 1
        step = self.script.pop(0) if self.script else None
        if step is not None:
            raise step
        return PollResult(messages=[], next_cursor=cursor or "c1")

    def apply(self, ticket_id: str, change: TicketChange) -> None:
        raise AssertionError(f"nothing was escalated, yet ticket {ticket_id} was changed")

    def ticket_url(self, ticket_id: str) -> str:
        return f"https://example.test/tickets/{ticket_id}"

    def close(self) -> None:
        pass


def _daemon_with(tmp_path: Path, script: list[Exception | None]
                 ) -> tuple[Daemon, ScriptedConnector, ZendeskSandbox]:
    sandbox, path = _setup(tmp_path)
    daemon = Daemon(load_config(path, env={})).build()
    fake = ScriptedConnector(script)
    daemon.coordinators["zd"].connector = fake
    daemon.balance_leases()
    return daemon, fake, sandbox


def _due_now(daemon: Daemon) -> None:
    """Move past the recorded backoff (instead of sleeping through it)."""
    with daemon.store.transaction() as conn:
        conn.execute(T_SOURCE.update().values(not_before=None))


def test_health_is_reported_once_on_each_edge(tmp_path: Path) -> None:
    daemon, fake, sandbox = _daemon_with(tmp_path, [
        RetriableError("HTTP 503"), RetriableError("HTTP 503"), FatalError("HTTP 404"), None,
        None])
    outcomes = []
    try:
        with structlog.testing.capture_logs() as events:
            for _ in range(5):
                outcomes.append(daemon.poll_source("zd")["outcome"])
                _due_now(daemon)
    finally:
        daemon.close()
        sandbox.stop()
    assert outcomes == ["retriable", "retriable", "fatal", "ok", "ok"]
    edges = [e["event"] for e in events if e["event"] in (
        "source_unavailable", "source_failed", "source_recovered")]
    assert edges == ["source_unavailable", "source_recovered"]
    assert fake.polls == 5


def test_refused_credentials_pause_the_source_until_a_reload(tmp_path: Path) -> None:
    daemon, fake, sandbox = _daemon_with(tmp_path, [AuthError("HTTP 401"), None])
    try:
        with structlog.testing.capture_logs() as events:
            first = daemon.poll_source("zd")
            second = daemon.poll_source("zd")
            assert daemon.reload()
            third = daemon.poll_source("zd")
        state = daemon.store.sources.state("zd")
    finally:
        daemon.close()
        sandbox.stop()
    assert (first["outcome"], second["outcome"], third["outcome"]) == ("auth", "paused", "ok")
    assert "resumes_at" not in first and state["not_before"] is None
    assert fake.polls == 2  # the paused poll asked nothing of the helpdesk
    assert [e["event"] for e in events if e["event"] == "source_paused"] == ["source_paused"]
