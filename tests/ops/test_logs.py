"""Log output: our events and the libraries' records come out as one JSON stream, redacted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

SCRIPT = """
import logging
from daemon.logs import configure, get_logger, register_secrets
configure("info", "json")
register_secrets(["tok-SECRET-91c2"])
logging.getLogger("psycopg").warning("error ignored terminating %r: %s", "pipe", "lost")
logging.getLogger("psycopg").debug("below the level: dropped")
logging.getLogger("urllib3.connectionpool").warning("retrying with tok-SECRET-91c2")
get_logger("sentinel.service").info("poll", source="zd", token="tok-SECRET-91c2")
get_logger("sentinel.service").debug("below the level: dropped")
"""


def test_library_records_are_rendered_filtered_and_redacted_like_ours() -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT], cwd=REPO, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "Logging error" not in done.stderr and "Traceback" not in done.stderr, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [(e["logger"], e["level"]) for e in lines] == [
        ("psycopg", "warning"), ("urllib3.connectionpool", "warning"),
        ("sentinel.service", "info")]
    assert lines[0]["event"] == "error ignored terminating 'pipe': lost"
    assert "tok-SECRET-91c2" not in done.stdout
    assert all("timestamp" in e for e in lines)
