"""End to end: `helpdesk-sentinel run` as a process against the Zendesk and Slack sandboxes.

The sandboxes run in this test process; the daemon talks to them over real sockets. We
wait for the escalations to reach the "helpdesk" (tags, priority, private note) and Slack,
send SIGTERM, expect exit 0, then check that a second run with --once adds nothing.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from connectors.sandbox.slack import SlackSandbox
from connectors.sandbox.zendesk import ZendeskSandbox

REPO = Path(__file__).resolve().parents[2]
TOKEN = "zd-e2e-token-3c1d"
SLACK_TOKEN = "xoxb-e2e-token-77aa"

DECLINING = [  # calm, then angrier with every reply
    "Hi team, thanks for the quick help last week, everything is great! Love the product.",
    "The export is still broken and I am getting frustrated. Please fix it.",
    "This is terrible. Still broken after two days, awful service, I am really angry.",
    "Worst support ever. Horrible, useless, I hate this. Completely unacceptable.",
]
VERY_NEGATIVE = ["This is absolutely horrible and unacceptable, the worst, most useless "
                 "service I have ever paid for. Disgusting."]
CALM = ["Thanks so much, that fixed it! Great support, have a wonderful day."]


def _wait(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def _config(tmp_path: Path, zendesk: ZendeskSandbox, slack: SlackSandbox) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(f"""
state_dir: {tmp_path / 'state'}
log: {{level: info, format: json}}
outbox: {{interval: 0.5s}}
sources:
  - name: zendesk-e2e
    kind: zendesk
    base_url: {zendesk.url}
    email: bot@example.com
    api_token: ${{E2E_ZENDESK_TOKEN}}
    poll_interval: 1s
    start_from: -1h
notifiers:
  escalations:
    kind: slack
    bot_token: ${{E2E_SLACK_TOKEN}}
    channel: "#escalations"
    base_url: {slack.api_url}
rules:
  - name: sentiment-declining
    when: {{trend: declining, decline_threshold: 0.3, current_avg_below: -0.5}}
    actions:
      add_tags: [sentiment-declining]
      priority: urgent
      note: "Sentiment declining ({{direction:+.2f}})"
      notify: [escalations]
    repeat_after: 24h
  - name: very-negative-message
    when: {{last_score_below: -0.7}}
    inhibited_by: [sentiment-declining]
    actions:
      add_tags: [sentiment-very-negative]
      priority: high
      note: "Very negative message ({{last_score}})"
      notify: [escalations]
    repeat_after: 24h
""")
    return path


@pytest.mark.slow
def test_run_escalates_stops_cleanly_and_once_adds_nothing(tmp_path: Path) -> None:
    zendesk = ZendeskSandbox(email="bot@example.com", api_token=TOKEN).start()
    slack = SlackSandbox(tokens=(SLACK_TOKEN,), channels=("#escalations",)).start()
    try:
        start = time.time() - 600
        tickets = {}
        for name, turns in (("declining", DECLINING), ("very_negative", VERY_NEGATIVE),
                            ("calm", CALM)):
            ticket = zendesk.add_ticket(subject=f"E2E {name}", customer_name="Pat Doe",
                                        customer_email=f"{name}@example.com", body=turns[0],
                                        at=start, tags=["vip"])
            for n, text in enumerate(turns[1:], start=1):
                zendesk.add_comment(ticket, "agent", "Looking into it.", start + n * 60 - 30)
                zendesk.add_comment(ticket, "customer", text, start + n * 60)
            tickets[name] = ticket
        config = _config(tmp_path, zendesk, slack)
        env = {**os.environ, "E2E_ZENDESK_TOKEN": TOKEN, "E2E_SLACK_TOKEN": SLACK_TOKEN}
        command = [sys.executable, "-m", "daemon.cli", "run", "--config", str(config)]
        log_path = tmp_path / "daemon.log"
        with log_path.open("w") as log:
            process = subprocess.Popen(command, cwd=REPO, env=env, stdout=log,
                                       stderr=subprocess.STDOUT)
            try:
                _wait(lambda: len(slack.messages) >= 2, 60, "two Slack alerts")
                _wait(lambda: sum(w["kind"] == "note" for w in zendesk.writes) >= 2, 30,
                      "two private notes")
                process.send_signal(signal.SIGTERM)
                assert process.wait(timeout=60) == 0
            finally:
                if process.poll() is None:
                    process.kill()
        output = log_path.read_text()
        assert TOKEN not in output and SLACK_TOKEN not in output
        events = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
        assert any(e.get("event") == "poll" and e.get("new", 0) > 0 for e in events)
        assert any(e.get("event") == "stopping" for e in events)

        def tags_added(ticket: int) -> list[str]:
            return [t for w in zendesk.writes if w["kind"] == "tags_added"
                    and w["ticket_id"] == ticket for t in w["tags"]]

        assert tags_added(tickets["declining"]) == ["sentiment-declining"]
        assert tags_added(tickets["very_negative"]) == ["sentiment-very-negative"]
        assert tags_added(tickets["calm"]) == []
        assert not [w for w in zendesk.writes if w["kind"] == "tags_replaced"]
        assert zendesk.ticket(tickets["declining"])["tags"] == ["vip", "sentiment-declining"]
        assert zendesk.ticket(tickets["declining"])["priority"] == "urgent"
        assert zendesk.ticket(tickets["very_negative"])["priority"] == "high"
        # One alert per ticket: the decline rule inhibits the very-negative one.
        texts = [m.text for m in slack.messages]
        assert len(texts) == 2
        assert any("sentiment-declining" in t for t in texts)
        assert any("very-negative-message" in t for t in texts)
        writes_before = len(zendesk.writes)

        once = subprocess.run([*command[:-2], "--once", "--config", str(config)], cwd=REPO,
                              env=env, capture_output=True, text=True, timeout=120)
        assert once.returncode == 0, once.stderr[-2000:]
        totals = json.loads(once.stdout.strip().splitlines()[-1])
        assert totals == {"new": 0, "escalated": 0, "delivered": 0, "parked": 0}
        assert len(slack.messages) == 2 and len(zendesk.writes) == writes_before
    finally:
        zendesk.stop()
        slack.stop()
