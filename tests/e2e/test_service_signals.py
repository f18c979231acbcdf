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


STORM_RUNS = 3
STORM_PHASE_S = 1.0  # each phase sends as fast as it can for this long (thousands)


def _storm(pid: int, seconds: float, kinds: tuple[signal.Signals, ...]) -> int:
    """Send `kinds` in turn to `pid` for `seconds`; the number sent."""
    sent = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and sent < 1_000_000:
        try:
            os.kill(pid, kinds[sent % len(kinds)])
        except ProcessLookupError:
            break
        sent += 1
    return sent


@pytest.mark.slow
def test_signal_storm_stops_cleanly(tmp_path: Path) -> None:
    """SIGHUP and SIGTERM as fast as they can be sent: exit 0, promptly, every time.

    The handlers used to set an Event and start threads from inside the signal handler;
    a handler interrupting the main thread (or another handler) inside the same lock
    wedged or crashed the daemon.  Now they only record the request.  A second of SIGHUPs
    (the daemon must still be running after it), then a second of TERM and HUP in turn."""
    zendesk = ZendeskSandbox(email="bot@example.com", api_token="sig-token-1234").start()
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG.format(state=tmp_path / "state", url=zendesk.url,
                                    rule="very-negative-message"))
    try:
        for run in range(STORM_RUNS):
            log = tmp_path / f"daemon-{run}.log"
            with log.open("w") as out:
                process = subprocess.Popen(
                    [sys.executable, "-m", "daemon.cli", "run", "--config", str(config)],
                    cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
            try:
                deadline = time.monotonic() + 60
                while not any(e.get("event") == "started" for e in _events(log)):
                    assert process.poll() is None, log.read_text()[-2000:]
                    assert time.monotonic() < deadline, "daemon did not start in 60 s"
                    time.sleep(0.1)
                reloads = _storm(process.pid, STORM_PHASE_S, (signal.SIGHUP,))
                assert reloads >= 300
                assert process.poll() is None, f"run {run}: died under {reloads} SIGHUPs; " \
                    f"{log.read_text()[-1500:]}"
                mixed = _storm(process.pid, STORM_PHASE_S, (signal.SIGTERM, signal.SIGHUP))
                assert mixed >= 2
                try:
                    code = process.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    raise AssertionError(f"run {run}: still running 60 s after the storm; "
                                         f"log tail: {log.read_text()[-1500:]}") from None
                assert code == 0, f"run {run}: exit {code}; {log.read_text()[-1500:]}"
                events = [e.get("event") for e in _events(log)]
                assert "stopping" in events and events[-1] == "stopped", events[-10:]
                assert "reloaded" in events  # the SIGHUPs were acted on, coalesced
                assert "Traceback" not in log.read_text()
            finally:
                if process.poll() is None:
                    process.kill()
                    process.wait(timeout=10)
    finally:
        zendesk.stop()
