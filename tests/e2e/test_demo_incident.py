"""The shipped demo (`make run`'s config.yaml) shows an incident within its first minutes.

The daemon is built from the shipped config exactly as `run` builds it (its own
sandboxes on ephemeral ports, SQLite under a temporary state directory); the test polls
the Freshdesk sandbox, where the scripted login outage plays, and delivers the outbox
until the Slack sandbox has the incident alert.  Bounded: it gives up after 4 minutes
of sandbox time (the outage's customers write within the first two).
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from connectors.sandbox.slack import SlackSandbox
from daemon.config import load_config
from daemon.service import Daemon

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_shipped_demo_opens_the_login_incident_once(tmp_path: Path) -> None:
    text = (REPO / "config.yaml").read_text()
    text = re.sub(r"(?m)^state_dir: .*$", f"state_dir: {tmp_path / 'state'}", text)
    text = re.sub(r"(?m)^  level: debug", "  level: warning", text)
    text = text.replace("slack: {echo: true,", "slack: {echo: false,")
    path = tmp_path / "config.yaml"
    path.write_text(text)
    daemon = Daemon(load_config(path, env={})).build()
    try:
        slack = next(s for s in daemon.sandboxes if isinstance(s, SlackSandbox))
        daemon.balance_leases()
        deadline = time.monotonic() + 240

        def incident_messages() -> list[str]:
            return [m.text for m in slack.messages_in("#escalations") if "Incident" in m.text]

        while time.monotonic() < deadline and not incident_messages():
            daemon.poll_source("freshdesk-demo")
            daemon.deliver()
            time.sleep(2)
        opened = incident_messages()
        assert len(opened) == 1, "no incident alert within 4 minutes of the demo"
        assert "login" in opened[0].lower()
        (alert,) = [m for m in slack.messages_in("#escalations") if "Incident" in m.text]
        assert alert.thread_ts is None  # the incident's own thread starts here
        listed = daemon.store.incidents.overview()
        assert len(listed) == 1 and listed[0]["members"] >= 5
        assert all(m["source"] == "freshdesk-demo" for m in listed[0]["member_tickets"])
        # The member tickets carry the incident tag in the sandbox helpdesk.
        for _ in range(3):
            daemon.deliver()
        tagged = {row["ticket_id"] for row in daemon.store.outbox.rows(limit=1000)
                  if row["kind"] == "change" and row["status"] == "done"
                  and "sentiment-incident" in row["payload"].get("add_tags", [])}
        assert tagged >= {m["ticket_id"] for m in listed[0]["member_tickets"]}
    finally:
        daemon.close()
