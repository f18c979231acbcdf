"""A calm console: the poll line is info only when a poll found something, failed, or was
a source's first; an empty poll is debug.  The shipped config logs at info."""

from __future__ import annotations

import time
from pathlib import Path

import structlog

from daemon.config import load_config
from daemon.service import Daemon
from tests.daemon.test_daemon_parts import _setup

REPO = Path(__file__).resolve().parents[2]


def test_the_poll_line_is_info_only_when_something_happened(tmp_path: Path) -> None:
    sandbox, path = _setup(tmp_path)
    daemon = Daemon(load_config(path, env={})).build()
    try:
        daemon.balance_leases()
        with structlog.testing.capture_logs() as events:
            daemon.poll_source("zd")  # the first: 6 new messages
            daemon.poll_source("zd")  # nothing new
            ticket = sandbox.add_ticket(subject="New", customer_name="Kim",
                                        customer_email="kim@example.com",
                                        at=time.time() - 120,  # past min_age_seconds
                                        body="Thanks, that works.")
            assert ticket
            daemon.poll_source("zd")  # one new message
            daemon.poll_source("zd")  # nothing new again
    finally:
        daemon.close()
        sandbox.stop()
    polls = [(e["log_level"], e["new"]) for e in events if e["event"] == "poll"]
    assert polls == [("info", 6), ("debug", 0), ("info", 1), ("debug", 0)]


def test_a_sources_first_poll_is_info_even_when_empty(tmp_path: Path) -> None:
    sandbox, path = _setup(tmp_path)
    path.write_text(path.read_text().replace("start_from: -30d", "start_from: -1h"))
    daemon = Daemon(load_config(path, env={})).build()
    try:
        daemon.balance_leases()
        with structlog.testing.capture_logs() as events:
            daemon.poll_source("zd")
            daemon.poll_source("zd")
    finally:
        daemon.close()
        sandbox.stop()
    assert [(e["log_level"], e["outcome"], e["new"]) for e in events
            if e["event"] == "poll"] == [("info", "ok", 0), ("debug", "ok", 0)]


def test_shipped_config_logs_at_info() -> None:
    assert load_config(REPO / "config.yaml", env={}).top.log.level == "info"
