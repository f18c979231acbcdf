"""The daemon under a fake systemd: READY, WATCHDOG, STATUS, SIGHUP reload, SIGTERM.

A real AF_UNIX datagram socket plays systemd's NOTIFY_SOCKET; the daemon is a real
process.  An invalid config on SIGHUP keeps the running rules (and says why); a valid one
is swapped in; SIGTERM stops it with exit 0 after STOPPING=1.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from connectors.sandbox.zendesk import ZendeskSandbox

REPO = Path(__file__).resolve().parents[2]

CONFIG = """
state_dir: {state}
log: {{level: info, format: json}}
sources:
  - name: zd
    kind: zendesk
    base_url: {url}
    email: bot@example.com
    api_token: sig-token-1234
    poll_interval: 1s
rules:
  - name: {rule}
    when: {{last_score_below: -0.7}}
    actions: {{add_tags: [sentiment-very-negative]}}
"""


class FakeSystemd:
    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.5)
        self.received: list[str] = []

    def wait_for(self, line: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(line in m.splitlines() for m in self.received):
                return
            try:
                self.received.append(self.sock.recv(4096).decode())
            except TimeoutError:
                continue
        raise AssertionError(f"no {line!r} within {timeout}s; got {self.received[-5:]}")

    def clear(self) -> None:
        self.received.clear()


def _events(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.startswith("{")]


@pytest.mark.slow
def test_notify_watchdog_reload_and_stop(tmp_path: Path) -> None:
    zendesk = ZendeskSandbox(email="bot@example.com", api_token="sig-token-1234").start()
    systemd = FakeSystemd(tmp_path / "notify.sock")
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG.format(state=tmp_path / "state", url=zendesk.url,
                                    rule="very-negative-message"))
    log = tmp_path / "daemon.log"
    env = {**os.environ, "NOTIFY_SOCKET": str(tmp_path / "notify.sock"),
           "WATCHDOG_USEC": "2000000"}
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "daemon.cli", "run", "--config", str(config)], cwd=REPO,
            env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        systemd.wait_for("READY=1", 30)
        systemd.wait_for("WATCHDOG=1", 10)
        assert any(line.startswith("STATUS=") for m in systemd.received
                   for line in m.splitlines())
        systemd.clear()
        systemd.wait_for("WATCHDOG=1", 10)  # keeps coming while the scheduler runs

        config.write_text(CONFIG.format(state=tmp_path / "state", url=zendesk.url,
                                        rule="Not A Valid Name!"))
        systemd.clear()
        process.send_signal(signal.SIGHUP)
        systemd.wait_for("RELOADING=1", 10)
        systemd.wait_for("READY=1", 10)
        time.sleep(0.5)
        failed = [e for e in _events(log) if e.get("event") == "reload_failed"]
        assert failed and any(":12: rules[0].name:" in str(m) for m in failed[0]["errors"])
        assert process.poll() is None  # still running on the old rules

        config.write_text(CONFIG.format(state=tmp_path / "state", url=zendesk.url,
                                        rule="renamed-rule"))
        systemd.clear()
        process.send_signal(signal.SIGHUP)
        systemd.wait_for("READY=1", 10)
        time.sleep(0.5)
        reloaded = [e for e in _events(log) if e.get("event") == "reloaded"]
        assert reloaded and reloaded[-1]["rules"] == ["renamed-rule"]

        systemd.clear()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
        systemd.wait_for("STOPPING=1", 5)
    finally:
        if process.poll() is None:
            process.kill()
        zendesk.stop()
    assert "sig-token-1234" not in log.read_text()
