"""The database goes away under a running daemon, again and again, and nothing is lost.

The daemon (a subprocess) keeps its state in PostgreSQL.  While a hundred conversations
arrive, the test ends every one of the daemon's database sessions five times a second with
`pg_terminate_backend` (what a PostgreSQL restart or a failover does to a client), so
polls, rule evaluations, outbox claims and lease renewals fail mid-transaction.  Then the
terminations stop.  The daemon must still be running, and once it has caught up: every
message stored exactly once, every escalation the workload calls for fired once, its
ticket change and Slack alert delivered once, nothing parked, and no traceback in its
output (a database error is one log line, not a crash).
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa

from connectors.sandbox.slack import SlackSandbox
from connectors.sandbox.zendesk import ZendeskSandbox
from tests.e2e.support import (
    REPO,
    SLACK_BOT_TOKEN,
    TAG_OF,
    ZENDESK_TOKEN,
    DaemonProcess,
    daemon_env,
    expected_fires,
    log_events,
    slack_alerts,
    wait_for,
    workload,
    write_config,
    zendesk_tags_added,
)

SEED = 11
N_TICKETS = 100
FEED_SECONDS = 25.0
KILL_EVERY_S = 0.2



class SessionKiller(threading.Thread):
    """Ends every session with our application name, every `period` seconds, until stopped."""

    def __init__(self, engine: sa.Engine, application: str, period: float) -> None:
        super().__init__(name="session-killer", daemon=True)
        self.engine, self.application, self.period = engine, application, period
        self.stopping = threading.Event()
        self.rounds = 0
        self.terminated = 0

    def run(self) -> None:
        while not self.stopping.wait(self.period):
            with self.engine.connect() as conn:
                ended = conn.execute(sa.text(
                    "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) "
                    "FROM pg_stat_activity WHERE application_name = :app"),
                    {"app": self.application}).scalar()
                conn.commit()
            self.rounds += 1
            self.terminated += int(ended or 0)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_database_sessions_killed_five_times_a_second_lose_nothing(tmp_path: Path,
                                                                   pg_url: str) -> None:
    tickets = workload(N_TICKETS, SEED)
    wanted = {(key, rule) for key, rules in expected_fires(tickets).items() for rule in rules}
    total_turns = sum(len(t.turns) for t in tickets)
    application = f"sentinel-dbfault-{uuid.uuid4().hex[:8]}"
    daemon_url = f"{pg_url}&application_name={application}"
    zendesk = ZendeskSandbox(email="bot@example.com", api_token=ZENDESK_TOKEN,
                             exclusion_seconds=0, incremental_per_minute=None).start()
    slack = SlackSandbox(tokens=(SLACK_BOT_TOKEN,), channels=("#escalations",),
                         rate_per_second=1000, burst=1000).start()
    engine = sa.create_engine(pg_url)
    killer = SessionKiller(engine, application, KILL_EVERY_S)
    daemon: DaemonProcess | None = None
    try:
        config = write_config(tmp_path, zendesk_url=zendesk.url, slack_url=slack.url,
                              source={"start_from": "-5m"},
                              extra=f'database: {{url: "{daemon_url}"}}\nlease: {{duration: 5s}}')
        daemon = DaemonProcess(config, tmp_path / "daemon.log", daemon_env()).start()
        ticket_ids: dict[str, int] = {}
        killer.start()
        for turn in range(max(len(t.turns) for t in tickets)):  # conversations interleave
            for ticket in tickets:
                if turn >= len(ticket.turns):
                    continue
                role, text = ticket.turns[turn]
                if ticket.key not in ticket_ids:
                    ticket_ids[ticket.key] = zendesk.add_ticket(
                        subject=f"DB fault {ticket.key}", customer_name=f"C {ticket.key}",
                        customer_email=f"{ticket.key}@example.com", body=text, at=time.time())
                else:
                    zendesk.add_comment(ticket_ids[ticket.key], role, text,  # type: ignore[arg-type]
                                        time.time())
                time.sleep(FEED_SECONDS / total_turns)
        killer.stopping.set()
        killer.join(timeout=30)
        assert daemon.alive(), "the daemon died when its database sessions were ended"
        key_of = {str(number): key for key, number in ticket_ids.items()}

        def rows(query: str) -> list[sa.Row[tuple[object, ...]]]:
            with engine.connect() as conn:
                return list(conn.execute(sa.text(query)))

        def caught_up() -> bool:
            stored = rows("SELECT count(*) FROM message")[0][0]
            statuses = dict(rows("SELECT status, count(*) FROM outbox GROUP BY status"))
            fires = rows("SELECT count(*) FROM escalation WHERE kind = 'fire'")[0][0]
            return (stored == total_turns and fires >= len(wanted)
                    and statuses.get("pending", 0) == 0 and statuses.get("done", 0) > 0)

        wait_for(caught_up, 120, "every message stored and every delivery done", interval=0.5)
        assert daemon.terminate() == 0
        output = daemon.log_path.read_text(errors="replace")
        assert "Traceback" not in output, output[-4000:]

        ids = [r[0] for r in rows("SELECT message_id FROM message")]
        assert len(ids) == len(set(ids)) == total_turns
        unscored = rows("SELECT count(*) FROM message WHERE author_role = 'customer' "
                        "AND score IS NULL")[0][0]
        assert unscored == 0
        fired = {(key_of[t], rule) for t, rule in rows(
            "SELECT ticket_id, rule FROM escalation WHERE kind = 'fire'")}
        assert fired == wanted
        statuses = dict(rows("SELECT status, count(*) FROM outbox GROUP BY status"))
        assert set(statuses) == {"done"}, statuses  # nothing parked, nothing pending
        tags = zendesk_tags_added(zendesk)
        assert {(key_of[t], tag) for (t, tag) in tags} == {
            (key, TAG_OF[rule]) for key, rule in wanted}
        assert max(tags.values()) == 1, "a tag write was repeated"
        alerts = slack_alerts(slack)
        assert {(key_of[t], rule) for (t, rule) in alerts} == wanted
        assert max(alerts.values()) == 1, "an alert was sent twice"
        events = log_events(output)
        errors = Counter(e.get("job", "poll") for e in events
                         if e.get("event") == "database_error")
        assert killer.terminated > 0 and sum(errors.values()) > 0, "no fault reached the daemon"
        print(f"\ndatabase faults: kill_rounds={killer.rounds} sessions_ended="
              f"{killer.terminated} errors_logged={dict(errors)} messages={total_turns} "
              f"escalations={len(wanted)}")
    finally:
        killer.stopping.set()
        if daemon is not None:
            daemon.kill()
        zendesk.stop()
        slack.stop()
        engine.dispose()


def test_a_database_that_never_comes_up_ends_start_up_with_one_clear_line(
        tmp_path: Path) -> None:
    """Start-up waits `database.startup_wait` for the database, then exits 1 with a line
    naming the problem: no traceback, no URL (it may carry a password)."""
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"postgresql+psycopg://sentinel:pa55-SECRET@127.0.0.1:{port}/nowhere"
    config = write_config(tmp_path, zendesk_url="http://127.0.0.1:9",
                          slack_url="http://127.0.0.1:9",
                          extra=f'database: {{url: "{url}", startup_wait: 2s}}')
    began = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "daemon.cli", "run", "--once", "--config",
                           str(config)], cwd=REPO, env=daemon_env(), capture_output=True,
                          text=True, timeout=120)
    waited = time.monotonic() - began
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "database unavailable:" in done.stderr and "Traceback" not in output, output
    assert "pa55-SECRET" not in output
    events = log_events(done.stdout)
    retries = [e for e in events if e.get("event") == "database_unavailable"]
    assert len(retries) >= 2, output  # it waited and retried before giving up
    print(f"\ngave up after {waited:.1f}s and {len(retries)} retries: {done.stderr.strip()}")
