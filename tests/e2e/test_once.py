"""`run --once` as cron or an operator uses it: sources not read are named and the exit
code says so; a source in backoff says when it resumes; SIGTERM is a clean stop.

Real processes against the Zendesk sandbox over real sockets; the state is read back from
the daemon's SQLite file directly.
"""

from __future__ import annotations

import json
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from connectors.sandbox.base import Fault
from connectors.sandbox.zendesk import ZendeskSandbox
from tests.e2e.support import (
    REPO,
    ZENDESK_TOKEN,
    StateDb,
    daemon_env,
    log_events,
    wait_for,
    write_config,
)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _once(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "daemon.cli", "run", "--once", "--config",
                           str(config)], cwd=REPO, env=daemon_env(), capture_output=True,
                          text=True, timeout=120)


@pytest.mark.slow
def test_once_names_the_sources_it_could_not_read_and_exits_1(tmp_path: Path) -> None:
    zendesk = ZendeskSandbox(email="bot@example.com", api_token="not-the-token").start()
    try:
        config = tmp_path / "config.yaml"
        config.write_text(f"""
state_dir: {tmp_path / 'state'}
log: {{level: info, format: json}}
sources:
  - name: zd                      # answers 401: the token is wrong
    kind: zendesk
    base_url: {zendesk.url}
    email: bot@example.com
    api_token: ${{T_ZENDESK_TOKEN}}
    timeout: 2
  - name: zd-down                 # nothing listens there
    kind: zendesk
    base_url: http://127.0.0.1:{_closed_port()}
    email: bot@example.com
    api_token: ${{T_ZENDESK_TOKEN}}
    timeout: 2
rules: []
""")
        first = _once(config)
        assert first.returncode == 1, first.stdout[-2000:] + first.stderr
        totals = json.loads(first.stdout.strip().splitlines()[-1])
        assert set(totals["failed"]) == {"zd", "zd-down"}
        assert totals["failed"]["zd"].startswith("auth:")
        assert totals["failed"]["zd-down"].startswith("retriable:")
        assert "source zd was not read: auth" in first.stderr
        assert "source zd-down was not read: retriable" in first.stderr
        assert ZENDESK_TOKEN not in first.stdout + first.stderr

        # A source still in backoff (as after a Retry-After of ten minutes) is named, and
        # the log says when it resumes.
        resumes = (datetime.now(UTC) + timedelta(minutes=10)).replace(microsecond=0)
        with closing(sqlite3.connect(tmp_path / "state" / "sentinel.db")) as db, db:
            db.execute("UPDATE source_state SET not_before = ? WHERE source = 'zd-down'",
                       (resumes.replace(tzinfo=None).isoformat(sep=" "),))
        second = _once(config)
        assert second.returncode == 1
        totals = json.loads(second.stdout.strip().splitlines()[-1])
        assert totals["failed"]["zd-down"].startswith("backing_off:")
        backoff = [e for e in log_events(second.stdout) if e.get("event") == "source_backing_off"]
        assert backoff and backoff[0]["source"] == "zd-down"
        assert backoff[0]["resumes_at"] == resumes.isoformat()
        assert resumes.isoformat() in totals["failed"]["zd-down"]
        assert "zd-down was not read: backing_off" in second.stderr
    finally:
        zendesk.stop()


@pytest.mark.slow
def test_sigterm_during_once_is_a_clean_stop_not_a_source_failure(tmp_path: Path) -> None:
    zendesk = ZendeskSandbox(email="bot@example.com", api_token=ZENDESK_TOKEN).start()
    zendesk.inject(Fault("slow", count=1, delay=3.0))  # the first read is in flight a while
    try:
        config = write_config(tmp_path, zendesk_url=zendesk.url, source={"timeout": 20},
                              rules="rules: []")
        log = tmp_path / "once.log"
        with log.open("w") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "daemon.cli", "run", "--once", "--config", str(config)],
                cwd=REPO, env=daemon_env(), stdout=out, stderr=subprocess.STDOUT)
        try:
            wait_for(lambda: any(e.get("event") == "lease_acquired"
                                 for e in log_events(log.read_text())), 60, "the first poll")
            assert process.poll() is None, log.read_text()[-2000:]
            time.sleep(1.0)  # inside the slow request
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=60) == 0, log.read_text()[-2000:]
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)
        output = log.read_text()
        state = StateDb(config).rows("SELECT * FROM source_state WHERE source = 'zd'")[0]
        assert state["last_error"] is None and state["consecutive_failures"] == 0, state
        assert not any(e.get("event") == "poll_crashed" for e in log_events(output))
        totals = json.loads([line for line in output.splitlines()
                             if line.startswith('{"new"')][-1])
        assert totals["stopped_by"] == "SIGTERM" and "failed" not in totals
    finally:
        zendesk.stop()
