"""Incidents in the daemon: persisted with the poll, exactly-once outbox rows, timers,
inhibition, and the store query for report and dashboard (SQLite and PostgreSQL)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from daemon.incidents import IncidentTracker
from daemon.pipeline import Pipeline
from daemon.scoring.local import LocalScorer
from daemon.store import T_INCIDENT_CANDIDATE, Store
from rules.incidents import IncidentSettings
from rules.model import RuleSet
from tests.daemon.helpers import T0, message

SETTINGS = IncidentSettings(enabled=True, window=timedelta(minutes=30), min_tickets=5,
                            notify=("escalations",), tag="sentiment-incident",
                            update_every=timedelta(minutes=5))
RULES = RuleSet.model_validate({"rules": [
    {"name": "very-negative-message", "when": {"last_score_below": -0.5},
     "inhibited_by": ["incident"],
     "actions": {"add_tags": ["sentiment-very-negative"], "notify": ["escalations"]}},
]})
LOGIN = [
    "I can't log in since this morning, the login page just spins. This is awful.",
    "Your login is broken!!! Nobody on my team can sign in. Terrible.",
    "Login fails with an error every single time, I am furious, fix it now.",
    "Still cannot log in. The login screen says invalid session. Unacceptable.",
    "Login completely broken for us, we are losing money, this is a disaster.",
    "Is login down? I have tried five times, horrible experience.",
    "The login page is dead again, worst service ever.",
]


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


def _pipeline(url: str, clock: Clock) -> tuple[Store, Pipeline]:
    store = Store(url)
    store.create_schema()
    store.sources.ensure(["zd"])
    tracker = IncidentTracker(store, lambda: SETTINGS)
    pipeline = Pipeline(store, LocalScorer(), lambda: RULES, clock=clock, incidents=tracker)
    return store, pipeline


def _alerts(store: Store) -> list[dict]:
    return [r for r in store.outbox.rows(limit=1000) if r["kind"] == "alert"]


def test_incident_opens_once_with_the_poll_tags_members_and_inhibits(db_url: str) -> None:
    clock = Clock(T0)
    store, pipeline = _pipeline(db_url, clock)
    # Four customers: each very negative message alerts on its own (no incident yet).
    for i in range(4):
        clock.now = T0 + timedelta(minutes=i)
        pipeline.process("zd", [message(f"m{i}", f"t{i}", LOGIN[i], minutes=i)], f"c{i}")
    assert not [r for r in _alerts(store) if r["source"] == "incident"]
    # The fifth opens the incident in the same transaction as its poll.
    clock.now = T0 + timedelta(minutes=4)
    batch = [message("m4", "t4", LOGIN[4], minutes=4)]
    result = pipeline.process("zd", batch, "c4")
    assert [d.kind for d in result.incidents] == ["open"]
    incident_alerts = [r for r in _alerts(store) if r["source"] == "incident"]
    assert len(incident_alerts) == 1
    payload = incident_alerts[0]["payload"]
    assert payload["rule"] == "incident" and payload["numbers"]["customers"] == 5
    assert sorted(m["ticket_id"] for m in payload["members"]) == [f"t{i}" for i in range(5)]
    assert payload["subject"] == "login"
    tags = [r for r in store.outbox.rows(limit=1000) if r["kind"] == "change"
            and r["payload"]["add_tags"] == ["sentiment-incident"]]
    assert sorted(r["ticket_id"] for r in tags) == [f"t{i}" for i in range(5)]
    # t4's own very-negative rule was inhibited: it is in the incident now.
    assert not [d for d in result.decisions if d[0] == "t4"]
    # Replaying the same poll (a crash before the cursor moved) adds nothing.
    before = len(store.outbox.rows(limit=1000))
    assert pipeline.process("zd", batch, "c4").incidents == []
    assert len(store.outbox.rows(limit=1000)) == before

    # A sixth customer joins: tagged now, announced in the thread after update_every.
    clock.now = T0 + timedelta(minutes=6)
    joined = pipeline.process("zd", [message("m5", "t5", LOGIN[5], minutes=6)], "c5")
    assert [d.kind for d in joined.incidents] == ["join"]
    assert not joined.decisions  # inhibited: its ticket is a member
    clock.now = T0 + timedelta(minutes=8)
    assert pipeline.incident_timers().incidents == []  # rate limit: not yet
    clock.now = T0 + timedelta(minutes=9)
    update = pipeline.incident_timers()
    assert [d.kind for d in update.incidents] == ["update"]
    assert pipeline.incident_timers().incidents == []  # exactly once
    # Quiet for the window: resolved, once.
    clock.now = T0 + timedelta(minutes=37)
    assert [d.kind for d in pipeline.incident_timers().incidents] == ["resolve"]
    assert pipeline.incident_timers().incidents == []
    kinds = [r["payload"]["reason"] for r in _alerts(store) if r["source"] == "incident"]
    assert kinds == ["incident_opened", "incident_grew", "incident_resolved"]

    (listed,) = store.incidents.overview()
    assert listed["state"] == "resolved" and listed["members"] == 6
    assert [m["ticket_id"] for m in listed["member_tickets"]] == [f"t{i}" for i in range(6)]
    assert listed["member_tickets"][0]["url"] == "https://example.test/agent/tickets/t0"
    store.close()


def test_a_restart_keeps_the_window(db_url: str) -> None:
    """The pool of recent negative messages is in the database, not in memory: four
    before a restart and one after still open the incident."""
    clock = Clock(T0)
    store, pipeline = _pipeline(db_url, clock)
    for i in range(4):
        clock.now = T0 + timedelta(minutes=i)
        pipeline.process("zd", [message(f"m{i}", f"t{i}", LOGIN[i], minutes=i)], f"c{i}")
    store.close()
    store, pipeline = _pipeline(db_url, clock)  # a new process
    clock.now = T0 + timedelta(minutes=4)
    result = pipeline.process("zd", [message("m4", "t4", LOGIN[4], minutes=4)], "c4")
    assert [d.kind for d in result.incidents] == ["open"]
    # Members from before the restart are quoted from the stored message text.
    phrases = {m["ticket_id"]: m["phrase"] for m in store.incidents.overview()[0]["member_tickets"]}
    assert phrases["t1"] == "Your login is broken!!!"
    assert phrases["t4"] == "Login completely broken for us, we are losing money, this is a disaster."
    with store.reading() as conn:  # the members left the pool
        assert conn.execute(sa.select(sa.func.count()).select_from(
            T_INCIDENT_CANDIDATE)).scalar() == 0
    store.close()


def test_varied_complaints_open_nothing_and_old_candidates_are_pruned(db_url: str) -> None:
    clock = Clock(T0)
    store, pipeline = _pipeline(db_url, clock)
    varied = ["My invoice is wrong, terrible.", "The export to CSV crashes, awful.",
              "Shipping label never printed, furious.", "Password reset email never came!!!",
              "Dark mode is unreadable, horrible.", "Calendar sync duplicated my events, awful."]
    batch = [message(f"v{i}", f"v{i}", text, minutes=i) for i, text in enumerate(varied)]
    clock.now = T0 + timedelta(minutes=6)
    assert pipeline.process("zd", batch, "c").incidents == []
    clock.now = T0 + timedelta(hours=2)
    pipeline.process("zd", [message("late", "late", LOGIN[0], minutes=120)], "c2")
    with store.reading() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(
            T_INCIDENT_CANDIDATE)).scalar() == 1  # only the recent one is kept
    assert store.incidents.overview() == []
    store.close()


def test_report_lists_incidents_with_members_and_strips_control_characters(
        db_url: str) -> None:
    from daemon.incident_report import incident_listing, render_incidents

    clock = Clock(T0)
    store, pipeline = _pipeline(db_url, clock)
    for i in range(5):
        clock.now = T0 + timedelta(minutes=i)
        hostile = message(f"m{i}", f"t{i}", LOGIN[i], minutes=i)
        if i == 0:  # a subject with a bidi override and an escape sequence
            hostile = replace(hostile, ticket=replace(
                hostile.ticket, subject="evil\u202e\x1b[31m subject"))
        pipeline.process("zd", [hostile], f"c{i}")
    listing = incident_listing(store, days=7, now=T0 + timedelta(hours=1))
    (incident,) = listing
    assert incident["state"] == "open" and incident["customers"] == 5
    assert incident["topic"] == "login"
    assert [m["ticket_id"] for m in incident["members"]] == [f"t{i}" for i in range(5)]
    assert incident["opened_at"] == (T0 + timedelta(minutes=4)).isoformat()
    text = render_incidents(listing)
    assert "[open] login: 5 customers" in text
    assert "https://example.test/agent/tickets/t3" in text
    assert "evil subject" in text or "evil[31m subject" in text
    assert "\x1b" not in text and "\u202e" not in text
    assert incident_listing(store, days=7, now=T0 + timedelta(days=30)) == []
    assert render_incidents([]) == "Incidents: none"
    store.close()


CONFIG = """\
state_dir: ./state
notifiers:
  escalations:
    kind: slack
    webhook_url: https://hooks.slack.com/services/T1/B1/x
rules:
  - name: very-negative-message
    when: {last_score_below: -0.7}
    inhibited_by: [incident]
incidents:
  enabled: true
  window: 30m
  min_tickets: 5
  below: -0.3
  notify: [escalations]
  tag: sentiment-incident
"""


def test_check_config_validates_the_incidents_section(tmp_path: Path) -> None:
    from daemon.config import ConfigError, load_config

    path = tmp_path / "config.yaml"
    path.write_text(CONFIG)
    config = load_config(path, env={})
    assert config.top.incidents.enabled and config.top.incidents.min_tickets == 5
    assert config.rules.inhibited_by_incident()
    for bad, expected in (
            ("  notify: [escalations]", "config.yaml:15: incidents.notify[0]: unknown notifier "
                                        "'pager' (configured: escalations)"),
            ("  window: 30m", "config.yaml:12: incidents.window: "),
            ("  min_tickets: 5", "config.yaml:13: incidents.min_tickets: "),
            ("  tag: sentiment-incident", "config.yaml:16: incidents.tag: "),
            ("  below: -0.3", "config.yaml:14: incidents.below: ")):
        replacement = {"  notify: [escalations]": "  notify: [pager]",
                       "  window: 30m": "  window: soon",
                       "  min_tickets: 5": "  min_tickets: 1",
                       "  tag: sentiment-incident": "  tag: two words",
                       "  below: -0.3": "  below: -3"}[bad]
        path.write_text(CONFIG.replace(bad, replacement))
        try:
            load_config(path, env={})
        except ConfigError as exc:
            assert any(expected in message for message in exc.messages), exc.messages
        else:
            raise AssertionError(f"{replacement!r} was accepted")
    path.write_text(CONFIG.replace("  tag: sentiment-incident", "  tga: x"))
    try:
        load_config(path, env={})
    except ConfigError as exc:
        assert any("config.yaml:16: incidents.tga: " in m for m in exc.messages), exc.messages
    else:
        raise AssertionError("an unknown key was accepted")
