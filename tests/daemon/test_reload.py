"""Rule reload: a changed file is picked up with `watch: true`; an invalid one is refused."""

from __future__ import annotations

import os
from pathlib import Path

from daemon.config import load_config
from daemon.service import Daemon

CONFIG = """
state_dir: {state}
watch: true
rules:
  - name: {name}
    when: {{last_score_below: {threshold}}}
    actions: {{add_tags: [sentiment-very-negative]}}
"""


def _write(path: Path, state: Path, name: str, threshold: str, bump: int) -> None:
    path.write_text(CONFIG.format(state=state, name=name, threshold=threshold))
    stat = path.stat()
    os.utime(path, (stat.st_atime + bump, stat.st_mtime + bump))  # a visible mtime change


def test_watch_reloads_valid_rules_and_keeps_them_on_errors(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    _write(path, tmp_path / "state", "first", "-0.7", 0)
    daemon = Daemon(load_config(path, env={})).build()
    try:
        assert [r.name for r in daemon.rules.rules] == ["first"]
        daemon.heartbeat()  # unchanged file: nothing happens
        assert [r.name for r in daemon.rules.rules] == ["first"]
        _write(path, tmp_path / "state", "second", "-0.6", 10)
        daemon.heartbeat()
        assert [r.name for r in daemon.rules.rules] == ["second"]
        _write(path, tmp_path / "state", "third", "-7", 20)  # out of range: invalid
        daemon.heartbeat()
        assert [r.name for r in daemon.rules.rules] == ["second"]
        assert not daemon.reload()  # and an explicit reload (SIGHUP) says so too
    finally:
        daemon.close()


def test_a_reload_that_cannot_load_keeps_the_running_rules(tmp_path: Path) -> None:
    """Issue 11 item 4: inputs that made the loader raise (RecursionError, OverflowError)
    instead of ConfigError killed the reload thread; now each is refused and logged."""
    path = tmp_path / "config.yaml"
    _write(path, tmp_path / "state", "first", "-0.7", 0)
    daemon = Daemon(load_config(path, env={})).build()
    try:
        broken = [
            CONFIG.format(state=tmp_path / "state", name="deep", threshold="-0.5")
            + "sandbox: " + "[" * 3000 + "]" * 3000 + "\n",
            CONFIG.format(state=tmp_path / "state", name="huge", threshold="-0.5")
            + "    repeat_after: 99999999999w\n",
        ]
        for text in broken:
            path.write_text(text)
            assert daemon.reload() is False
            assert [r.name for r in daemon.rules.rules] == ["first"]
        _write(path, tmp_path / "state", "second", "-0.6", 10)
        assert daemon.reload() is True
        assert [r.name for r in daemon.rules.rules] == ["second"]
    finally:
        daemon.close()
