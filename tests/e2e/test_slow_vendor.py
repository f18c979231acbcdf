"""A vendor that drips bytes cannot hang the daemon's polls or its shutdown (issue 11, item 8).

The real daemon polls a Zendesk base URL served by a local socket server that sends one
byte every 0.2 s (tests/slow_server.py): per-read timeouts never trip.  The poll must end
at its deadline and say so, and SIGTERM must end the process well within systemd's stop
timeout even while a request is in flight with a long deadline.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from tests.e2e.support import DaemonProcess, daemon_env, log_events, write_config
from tests.slow_server import SlowServer


def _wait_for(condition: Callable[[], bool], seconds: float) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.2)
    return False


def test_a_dripping_vendor_fails_the_poll_at_its_deadline(tmp_path: Path) -> None:
    with SlowServer("drip_body") as server:
        config = write_config(tmp_path, zendesk_url=server.url, source={"timeout": 1},
                              rules="rules: []")
        daemon = DaemonProcess(config, tmp_path / "daemon.log", daemon_env()).start()
        try:
            def deadline_logged() -> bool:
                text = (tmp_path / "daemon.log").read_text(errors="replace")
                return any("exceeded its 2s deadline" in str(event.get("error", ""))
                           for event in log_events(text))
            assert _wait_for(deadline_logged, 60), \
                (tmp_path / "daemon.log").read_text(errors="replace")[-2000:]
            assert daemon.alive()
        finally:
            code = daemon.terminate(timeout=45)
    assert code == 0


def test_sigterm_is_not_held_by_a_request_in_flight(tmp_path: Path) -> None:
    with SlowServer("drip_body") as server:
        # A 120 s read timeout: the request's own deadline (240 s) is far away.
        config = write_config(tmp_path, zendesk_url=server.url, source={"timeout": 120},
                              rules="rules: []")
        daemon = DaemonProcess(config, tmp_path / "daemon.log", daemon_env()).start()
        assert _wait_for(lambda: server.connections >= 1, 60), "the daemon never polled"
        time.sleep(1.0)  # the request is now in flight, dripping
        began = time.monotonic()
        code = daemon.terminate(timeout=45)  # systemd allows 60 s in all
        took = time.monotonic() - began
    log = (tmp_path / "daemon.log").read_text(errors="replace")
    assert code == 0, log[-2000:]
    print(f"\nSIGTERM with a dripping request in flight: exited after {took:.1f}s")
    assert "Traceback" not in log
