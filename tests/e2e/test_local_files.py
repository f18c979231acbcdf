"""The daemon's files on disk: private whatever the umask, and one daemon per SQLite file.

Real daemons (subprocesses) against the Zendesk and Anthropic sandboxes; the file modes
are read with os.stat.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from connectors.sandbox.zendesk import ZendeskSandbox
from tests.e2e.support import (
    REPO,
    ZENDESK_TOKEN,
    DaemonProcess,
    daemon_env,
    log_events,
    wait_for,
    write_config,
)

CLAUDE = """
sandbox: {anthropic: {}}
scorer: {kind: anthropic, api_key: sk-ant-sandbox, base_url: "sandbox://anthropic"}
"""


def _once(config: Path, umask: int | None = None) -> subprocess.CompletedProcess[str]:
    def with_umask() -> None:
        if umask is not None:
            os.umask(umask)

    return subprocess.run([sys.executable, "-m", "daemon.cli", "run", "--once", "--config",
                           str(config)], cwd=REPO, env=daemon_env(), capture_output=True,
                          text=True, timeout=120, preexec_fn=with_umask)


def _exposed(state: Path) -> dict[str, str]:
    """Every path under `state` (itself included) that group or others may access."""
    found: dict[str, str] = {}
    for path in [state, *state.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            found[str(path.relative_to(state.parent))] = oct(mode)
    return found


@pytest.mark.slow
def test_state_is_private_whatever_the_umask(tmp_path: Path) -> None:
    zendesk = ZendeskSandbox(email="bot@example.com", api_token=ZENDESK_TOKEN).start()
    zendesk.seed()
    try:
        config = write_config(tmp_path, zendesk_url=zendesk.url, rules="rules: []",
                              scorer=CLAUDE)
        done = _once(config, umask=0)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr
        state = tmp_path / "state"
        names = {p.name for p in state.rglob("*")}
        assert {"sentinel.db", "claude-scores.sqlite3", "cache"} <= names, names
        assert _exposed(state) == {}

        # Files an older release left readable (755/644) are tightened on the next start.
        for path in [state, *state.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        done = _once(config, umask=0o022)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr
        assert _exposed(state) == {}
    finally:
        zendesk.stop()


@pytest.mark.slow
def test_a_second_daemon_on_the_same_sqlite_file_is_refused(tmp_path: Path) -> None:
    """Different state directories, one database: the lock is on the database."""
    zendesk = ZendeskSandbox(email="bot@example.com", api_token=ZENDESK_TOKEN).start()
    shared = tmp_path / "shared" / "sentinel.db"
    configs = []
    for name in ("first", "second"):
        (tmp_path / name).mkdir()
        configs.append(write_config(tmp_path / name, zendesk_url=zendesk.url, rules="rules: []",
                                    extra=f'database: {{url: "sqlite:///{shared}"}}'))
    first = DaemonProcess(configs[0], tmp_path / "first.log", daemon_env()).start()
    try:
        wait_for(lambda: any(e.get("event") == "started"
                             for e in log_events(first.log_path.read_text())), 60,
                 "the first daemon to start")
        second = _once(configs[1])
        assert second.returncode == 2, second.stdout[-2000:] + second.stderr
        assert "another helpdesk-sentinel is running on this database" in second.stderr
        assert str(shared) in second.stderr
        assert first.alive()
        # A symlink to the same file is the same database.
        link = tmp_path / "link.db"
        link.symlink_to(shared)
        third = write_config(tmp_path / "second", zendesk_url=zendesk.url, rules="rules: []",
                             extra=f'database: {{url: "sqlite:///{link}"}}', name="link.yaml")
        assert _once(third).returncode == 2
    finally:
        assert first.terminate() == 0
        zendesk.stop()
    again = _once(configs[1])  # free again once the first one stopped (the source is gone)
    assert "another helpdesk-sentinel" not in again.stderr and '"new": 0' in again.stdout
