"""Crash consistency: SIGKILL the daemon again and again while messages keep arriving.

A feeder thread writes a few thousand messages (customers, agents, internal notes) into
the Zendesk sandbox as "now", while the daemon (a subprocess on a SQLite file) is killed
with SIGKILL at random moments and started again.  After a final clean run has drained
everything, the SQLite file and the sandboxes must agree with the workload: every
message stored once and every customer message scored, every expected escalation
logged once and delivered (tags, priority, note, Slack alert), none unexpected, and
duplicate side effects no more than the kills that fell between a send and its commit.
Figures are printed (`pytest -s`) and quoted in docs/reliability.md.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from connectors.sandbox.base import Fault
from connectors.sandbox.slack import SlackSandbox
from connectors.sandbox.zendesk import ZendeskSandbox
from tests.e2e.support import (
    SLACK_BOT_TOKEN,
    TAG_OF,
    ZENDESK_TOKEN,
    DaemonProcess,
    ScriptedTicket,
    StateDb,
    daemon_env,
    expected_fires,
    log_events,
    parse_db_time,
    run_once,
    slack_alerts,
    wait_for,
    workload,
    write_config,
    zendesk_notes,
    zendesk_tags_added,
)

SEED = 20261126
N_TICKETS = 300  # about 2,700 messages, 1,500 of them from customers
KILLS = 24
FEED_SECONDS = 70.0


class Feeder(threading.Thread):
    """Adds the workload's turns to the sandbox as they "happen", spread over a period."""

    def __init__(self, zendesk: ZendeskSandbox, tickets: list[ScriptedTicket],
                 seconds: float, seed: int) -> None:
        super().__init__(name="feeder", daemon=True)
        self.zendesk = zendesk
        self.tickets = tickets
        self.seconds = seconds
        self.rng = random.Random(seed)
        self.ticket_ids: dict[str, int] = {}
        self.fed = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._feed()
        except BaseException as exc:  # surfaced by the test, never swallowed
            self.error = exc

    def _feed(self) -> None:
        order = [t.key for t in self.tickets for _ in t.turns]
        self.rng.shuffle(order)  # interleave tickets; each ticket's turns stay in order
        position: Counter[str] = Counter()
        by_key = {t.key: t for t in self.tickets}
        pause = self.seconds / max(1, len(order))
        for key in order:
            ticket = by_key[key]
            role, text = ticket.turns[position[key]]
            position[key] += 1
            now = time.time()
            if key not in self.ticket_ids:
                self.ticket_ids[key] = self.zendesk.add_ticket(
                    subject=f"Crash test {key}", customer_name=f"Customer {key}",
                    customer_email=f"{key}@example.com", body=text, at=now, tags=["vip"])
            else:
                self.zendesk.add_comment(self.ticket_ids[key], role,  # type: ignore[arg-type]
                                         text, now)
            self.fed += 1
            time.sleep(pause)


class WindowLedger:
    """Counts sends that reached a sandbox without their outbox row being marked done.

    Checked after every kill: for each outbox row, the effects the sandbox holds minus
    one if the row is done are sends not (yet) committed; each new one is a kill that fell
    between a send and its commit, and can come back as one duplicate after restart.
    """

    def __init__(self) -> None:
        self.counted: dict[int, int] = defaultdict(int)
        self.events = 0

    def update(self, rows: list[dict[str, Any]], effects: dict[int, int]) -> int:
        new = 0
        for row in rows:
            uncommitted = effects.get(row["id"], 0) - (1 if row["status"] == "done" else 0)
            extra = max(0, uncommitted - self.counted[row["id"]])
            self.counted[row["id"]] += extra
            new += extra
        self.events += new
        return new


def _effects(db: StateDb, slack: SlackSandbox, zendesk: ZendeskSandbox
             ) -> tuple[list[dict[str, Any]], dict[int, int], list[dict[str, Any]], dict[int, int]]:
    outbox = db.outbox()
    alerts = slack_alerts(slack)
    notes = zendesk_notes(zendesk)
    alert_rows = [r for r in outbox if r["kind"] == "alert"]
    change_rows = [r for r in outbox if r["kind"] == "change" and r["payload"].get("note")]
    alert_effects = {r["id"]: alerts[(r["ticket_id"], r["payload"]["rule"])] for r in alert_rows}
    note_effects = {r["id"]: notes[r["ticket_id"]] for r in change_rows}
    return alert_rows, alert_effects, change_rows, note_effects


@pytest.mark.slow
def test_sigkill_at_random_moments_loses_nothing_and_duplicates_only_in_flight_sends(
        tmp_path: Path) -> None:
    rng = random.Random(SEED)
    tickets = workload(N_TICKETS, SEED)
    expected = expected_fires(tickets)
    total_turns = sum(len(t.turns) for t in tickets)
    total_customer = sum(len(t.customer_texts) for t in tickets)

    zendesk = ZendeskSandbox(email="bot@example.com", api_token=ZENDESK_TOKEN,
                             exclusion_seconds=0, incremental_per_minute=None).start()
    slack = SlackSandbox(tokens=(SLACK_BOT_TOKEN,), channels=("#escalations",),
                         rate_per_second=1000, burst=1000)
    slack.start()
    feeder = Feeder(zendesk, tickets, FEED_SECONDS, SEED)
    daemons: list[DaemonProcess] = []
    started = time.monotonic()
    try:
        # A restarted daemon waits out its killed predecessor's source lease (see
        # test_restart_after_sigkill_polls_at_once); a short lease keeps the kills landing
        # on a working daemon, and exercises lease expiry and fencing on the way.
        # Debug: an empty poll is logged too (info keeps only polls that found something),
        # and the count of runs that polled below reads those lines.
        config = write_config(tmp_path, zendesk_url=zendesk.url, slack_url=slack.url,
                              source={"start_from": "-5m"}, extra="lease: {duration: 2s}",
                              log_level="debug")
        db = StateDb(config)
        env = daemon_env()
        alert_ledger, note_ledger = WindowLedger(), WindowLedger()
        held_after_kill: list[int] = []
        kills_after_start = 0
        runs_that_polled = 0
        feeder.start()
        for number in range(KILLS):
            daemon = DaemonProcess(config, tmp_path / f"run-{number:02d}.log", env).start()
            daemons.append(daemon)
            time.sleep(rng.uniform(1.5, 5.0))
            code = daemon.kill()
            assert code == -9, f"run {number} had already exited with {code}"
            log_text = daemon.log_path.read_text(errors="replace")
            assert "Traceback" not in log_text, log_text[-3000:]
            run_events = log_events(log_text)
            kills_after_start += any(e.get("event") == "started" for e in run_events)
            runs_that_polled += any(e.get("event") == "poll" for e in run_events)
            time.sleep(0.1)  # a request the sandbox was still handling lands in its log
            alert_rows, alert_fx, change_rows, note_fx = _effects(db, slack, zendesk)
            alert_ledger.update(alert_rows, alert_fx)
            note_ledger.update(change_rows, note_fx)
            now = datetime.now(UTC)
            held_after_kill.append(sum(
                1 for r in db.outbox() if r["status"] == "pending"
                and (parse_db_time(r["claimed_until"]) or now) > now))
        kill_phase = time.monotonic() - started
        feeder.join(timeout=FEED_SECONDS + 60)
        assert feeder.error is None, feeder.error
        assert feeder.fed == total_turns

        # The final clean run: it must drain everything, then stop cleanly on SIGTERM.
        drain_started = time.monotonic()
        final = DaemonProcess(config, tmp_path / "final.log", env).start()
        daemons.append(final)
        expected_alerts = sum(len(rules) for rules in expected.values())

        def drained() -> bool:
            # The final run itself must have polled and delivered: the last killed run
            # may have drained everything already.
            events = log_events(final.log_path.read_text(errors="replace"))
            if not any(e.get("event") == "poll" and e.get("outcome") == "ok" for e in events):
                return False
            outbox = db.outbox()
            return (len(db.rows("SELECT id FROM message")) >= total_turns
                    and sum(r["kind"] == "alert" for r in outbox) >= expected_alerts
                    and all(r["status"] == "done" for r in outbox))

        wait_for(drained, 120, "the final run to store everything and drain the outbox",
                 interval=1.0)
        drain_seconds = time.monotonic() - drain_started
        assert final.terminate() == 0
        final_log = final.log_path.read_text(errors="replace")
        assert "Traceback" not in final_log, final_log[-3000:]

        alert_rows, alert_fx, change_rows, note_fx = _effects(db, slack, zendesk)
        late_alert_windows = alert_ledger.update(alert_rows, alert_fx)
        late_note_windows = note_ledger.update(change_rows, note_fx)

        # 1. Every message stored exactly once; every customer message scored.
        messages = db.messages()
        ids = [m["message_id"] for m in messages]
        assert len(ids) == len(set(ids)) == total_turns
        own = {zendesk.bot}
        in_sandbox = {str(c["id"]) for tid in feeder.ticket_ids.values()
                      for c in zendesk.ticket(tid)["comments"] if c["author_id"] not in own}
        assert set(ids) == in_sandbox
        customer = [m for m in messages if m["author_role"] == "customer"]
        assert len(customer) == total_customer
        assert all(m["score"] is not None and m["scorer"] for m in customer)
        assert all(m["score"] is None for m in messages if m["author_role"] != "customer")

        # 2. Every expected escalation logged exactly once, nothing else.
        ticket_of = {key: str(tid) for key, tid in feeder.ticket_ids.items()}
        wanted = {(ticket_of[key], rule) for key, rules in expected.items() for rule in rules}
        fired = Counter((e["ticket_id"], e["rule"]) for e in db.escalations()
                        if e["kind"] == "fire")
        assert set(fired) == wanted
        assert set(fired.values()) == {1}

        # 3. Every ticket change reached the helpdesk once (tags, priority, note).
        tags = zendesk_tags_added(zendesk)
        assert set(tags) == {(tid, TAG_OF[rule]) for tid, rule in wanted}
        assert set(tags.values()) == {1}
        for tid, rule in wanted:
            ticket = zendesk.ticket(int(tid))
            assert ticket["tags"] == ["vip", TAG_OF[rule]]
            assert ticket["priority"] == ("urgent" if rule == "sentiment-declining" else "high")
        notes = zendesk_notes(zendesk)
        assert set(notes) == {tid for tid, _ in wanted}
        duplicate_notes = sum(count - 1 for count in notes.values())

        # 4. Slack: every expected alert, nothing unexpected, duplicates only from windows.
        alerts = slack_alerts(slack)
        assert set(alerts) == wanted
        duplicate_alerts = sum(count - 1 for count in alerts.values())
        outbox = db.outbox()
        assert all(r["status"] == "done" for r in outbox)
        assert duplicate_alerts <= alert_ledger.events
        assert duplicate_notes <= note_ledger.events
        assert late_alert_windows == 0 and late_note_windows == 0, \
            "a send without a kill was not committed"
        # The kills must have hit a working daemon, not one waiting for its own lease.
        assert runs_that_polled >= KILLS // 3, f"only {runs_that_polled} runs polled"

        figures = {
            "messages": total_turns, "customer_messages": total_customer,
            "escalations_expected": len(wanted), "kills": KILLS,
            "kills_after_daemon_started": kills_after_start,
            "killed_runs_that_polled": runs_that_polled,
            "kills_between_send_and_commit_alert": alert_ledger.events,
            "kills_between_send_and_commit_note": note_ledger.events,
            "duplicate_slack_alerts": duplicate_alerts, "duplicate_notes": duplicate_notes,
            "outbox_rows_held_by_a_killed_daemon_max": max(held_after_kill),
            "kill_phase_s": round(kill_phase, 1), "final_drain_s": round(drain_seconds, 1),
            "total_s": round(time.monotonic() - started, 1),
        }
        print("\ncrash consistency:", figures)
    finally:
        for daemon in daemons:
            daemon.kill()
        zendesk.stop()
        slack.stop()


@pytest.mark.slow
def test_restart_delivers_the_alert_a_killed_daemon_was_sending(tmp_path: Path) -> None:
    """SIGKILL while a Slack send is in flight; the next `run --once` must deliver it.

    The killed daemon's claim on the row must not outlive it (it used to hold the row
    for the outbox's two-minute claim hold): at-least-once, so Slack sees it twice.
    """
    zendesk = ZendeskSandbox(email="bot@example.com", api_token=ZENDESK_TOKEN,
                             exclusion_seconds=0, incremental_per_minute=None).start()
    slack = SlackSandbox(tokens=(SLACK_BOT_TOKEN,), channels=("#escalations",))
    slack.start()
    daemon: DaemonProcess | None = None
    try:
        now = time.time()
        ticket = zendesk.add_ticket(subject="Killed mid-send", customer_name="Pat Doe",
                                    customer_email="pat@example.com",
                                    body="Worst support ever. Horrible, useless, I hate this. "
                                    "Completely unacceptable.", at=now - 5)
        slack.inject(Fault("slow", delay=6.0, path_contains="chat.postMessage"))
        config = write_config(tmp_path, zendesk_url=zendesk.url, slack_url=slack.url)
        env = daemon_env()
        daemon = DaemonProcess(config, tmp_path / "killed.log", env).start()
        # The fault is taken when the request arrives: from then on the send is in flight.
        wait_for(lambda: not slack._faults, 60, "the alert to be in flight")
        daemon.kill()
        wait_for(lambda: len(slack.messages) == 1, 30, "the in-flight alert to land")
        db = StateDb(config)
        assert [r["status"] for r in db.outbox() if r["kind"] == "alert"] == ["pending"]

        totals = run_once(config, env)
        alerts = slack_alerts(slack)
        print("\nkilled mid-send:", {"delivered_on_restart": totals["delivered"],
                                     "slack_messages": sum(alerts.values())})
        assert [r["status"] for r in db.outbox() if r["kind"] == "alert"] == ["done"]
        assert alerts == {(str(ticket), "very-negative-message"): 2}  # at-least-once
    finally:
        if daemon is not None:
            daemon.kill()
        zendesk.stop()
        slack.stop()


@pytest.mark.slow
def test_restart_after_sigkill_polls_at_once(tmp_path: Path) -> None:
    """A restart on the same SQLite state must not wait for its dead predecessor's lease.

    The lock file proves no other daemon runs on this state directory, so the killed
    process's source lease (`lease.duration`, 30 s) is void: `run --once` right after the
    kill must poll and store the new message.
    """
    zendesk = ZendeskSandbox(email="bot@example.com", api_token=ZENDESK_TOKEN,
                             exclusion_seconds=0, incremental_per_minute=None).start()
    daemon: DaemonProcess | None = None
    try:
        ticket = zendesk.add_ticket(subject="Lease", customer_name="Pat Doe",
                                    customer_email="pat@example.com", at=time.time() - 5,
                                    body="Hello, the export is slow today.")
        config = write_config(tmp_path, zendesk_url=zendesk.url, rules="rules: []")
        env = daemon_env()
        daemon = DaemonProcess(config, tmp_path / "killed.log", env).start()
        db = StateDb(config)
        wait_for(lambda: len(db.messages()) == 1, 60, "the first poll to store the message")
        daemon.kill()
        zendesk.add_comment(ticket, "customer", "Any news on the export?", time.time())
        totals = run_once(config, env)
        outcomes = [e.get("outcome") for e in log_events(totals["_output"])
                    if e.get("event") == "poll"]
        print("\nrestart after SIGKILL:", {"new": totals["new"], "poll_outcomes": outcomes})
        assert totals["new"] == 1
    finally:
        if daemon is not None:
            daemon.kill()
        zendesk.stop()
