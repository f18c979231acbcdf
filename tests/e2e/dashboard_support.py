"""The dashboard in a real browser: a daemon on the sandboxes, headless Chromium, screenshots.

Shared by the browser test (tests/e2e/test_dashboard_browser.py) and `make screenshots`
(`python -m tests.e2e.dashboard_support docs/dashboard.png`): both fill a Zendesk sandbox
with ten days of conversations (the e2e workload, whose escalations are proven against
the offline scorer, plus one ticket with a hostile subject), run `helpdesk-sentinel run`
with the dashboard on an ephemeral port, wait until every message is stored and the
alerts are out, and drive Debian's Chromium through Playwright (`executable_path`, never
a downloaded browser).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from connectors.sandbox.slack import SlackSandbox
from connectors.sandbox.zendesk import ZendeskSandbox
from tests.e2e.support import (
    SLACK_BOT_TOKEN,
    ZENDESK_TOKEN,
    DaemonProcess,
    StateDb,
    daemon_env,
    expected_fires,
    log_events,
    wait_for,
    workload,
    write_config,
)

HOSTILE_SUBJECT = '<img src=x onerror=alert(1)><script>alert("subject")</script> & "refund"'
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
DAYS = 10


class BrowserMissing(Exception):
    """No Chromium (or no Playwright) on this machine; the message says what to install."""


def chromium_path() -> str:
    for candidate in (os.environ.get("SENTINEL_CHROMIUM"), "/usr/bin/chromium",
                      shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and Path(candidate).exists():
            return candidate
    raise BrowserMissing("Chromium is not installed (Debian: apt-get install chromium; "
                         ".ci/run installs it)")


@contextmanager
def browser() -> Iterator[Any]:
    """A headless Chromium driven by Playwright; closed on exit."""
    executable = chromium_path()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise BrowserMissing("playwright is not installed (pip install -e '.[dev]')") from None
    with sync_playwright() as driver:
        chromium = driver.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS,
                                          headless=True, timeout=60_000)
        try:
            yield chromium
        finally:
            chromium.close()


@dataclass
class LiveDashboard:
    """A daemon with its dashboard up, and what the sandbox holds."""

    url: str
    zendesk: ZendeskSandbox
    daemon: DaemonProcess
    state: StateDb
    tickets: dict[str, int]  # workload key -> Zendesk ticket id
    hostile_ticket: int
    declining_tickets: list[int]  # the decline rule fires on these
    trend_declining: list[int]  # their trend is declining (the overview's count)

    def ticket_url(self, ticket_id: int) -> str:
        """What the agent UI link must be: the connector's documented form."""
        return f"{self.zendesk.url}/agent/tickets/{ticket_id}"


def _declining_by_trend(texts: list[str]) -> bool:
    """What the rules' trend says of these customer messages, scored offline."""
    from daemon.scoring.local import LocalScorer
    from daemon.text import normalise
    from rules.trend import article_trend

    scores = LocalScorer().score([normalise(text).text for text in texts])
    return article_trend([s.score for s in scores]).trend == "declining"


def _fill(zendesk: ZendeskSandbox, now: float
          ) -> tuple[dict[str, int], int, list[int], list[int]]:
    tickets = workload(40, seed=12)
    expected_fires(tickets)  # the escalations the test expects are the scorer's, proven
    agents = [zendesk.agent_id("Sam Rivera"), zendesk.agent_id("Jo Park")]
    ids: dict[str, int] = {}
    declining: list[int] = []
    by_trend: list[int] = []
    for number, ticket in enumerate(tickets):
        # Spread over DAYS days so the daily chart has a shape; 25 minutes between turns.
        start = now - (number % DAYS) * 86_400 - (number % 7) * 3_600 - 6 * 3_600
        turns = list(ticket.turns)
        at = start
        ticket_id = zendesk.add_ticket(subject=f"Order {1000 + number}: {ticket.kind} case",
                                       customer_name=f"Customer {number}",
                                       customer_email=f"customer{number}@example.com",
                                       body=turns[0][1], at=at)
        for role, text in turns[1:]:
            at += 25 * 60
            author = agents[number % 2] if role != "customer" else None
            zendesk.add_comment(ticket_id, role, text, at, author_id=author)  # type: ignore[arg-type]
        ids[ticket.key] = ticket_id
        if ticket.kind == "declining":
            declining.append(ticket_id)
        if _declining_by_trend(ticket.customer_texts):
            by_trend.append(ticket_id)
    hostile = zendesk.add_ticket(
        subject=HOSTILE_SUBJECT, customer_name='Eve "<b>bold</b>" Hacker',
        customer_email="eve@example.com",
        body="Worst support ever. Horrible, useless, I hate this. Completely unacceptable.",
        at=now - 2 * 3_600)
    return ids, hostile, declining, by_trend


@contextmanager
def live_dashboard(directory: Path) -> Iterator[LiveDashboard]:
    """Sandboxes filled, a daemon running with the dashboard; everything stopped on exit."""
    zendesk = ZendeskSandbox(email="bot@example.com", api_token=ZENDESK_TOKEN,
                             incremental_per_minute=None)
    zendesk.start()
    slack = SlackSandbox(tokens=(SLACK_BOT_TOKEN,), channels=("#escalations",),
                         rate_per_second=1000, burst=1000)
    slack.start()
    daemon: DaemonProcess | None = None
    try:
        ids, hostile, declining, by_trend = _fill(zendesk, time.time())
        # Every comment is stored (the daemon's own notes, written later, are not).
        total = sum(len(zendesk.ticket(t)["comments"]) for t in [*ids.values(), hostile])
        config = write_config(
            directory, zendesk_url=zendesk.url, slack_url=slack.url,
            source={"start_from": f"-{DAYS + 1}d"},
            extra="dashboard: {enabled: true, addr: 127.0.0.1, port: 0}\n")
        daemon = DaemonProcess(config, directory / "daemon.log", daemon_env()).start()
        state = StateDb(config)

        def url() -> str | None:
            for event in log_events(daemon.log_path.read_text(errors="replace")):
                if event.get("event") == "dashboard_listening":
                    return str(event["url"])
            return None

        wait_for(lambda: url() is not None or not daemon.alive(), 60, "the dashboard")
        assert daemon.alive(), daemon.log_path.read_text()[-3000:]
        wait_for(lambda: len(state.rows("SELECT id FROM message")) >= total, 120,
                 f"{total} messages stored")
        wait_for(lambda: state.rows("SELECT id FROM outbox") != [] and all(
            r["status"] == "done" for r in state.outbox()), 120, "alerts delivered")
        found = url()
        assert found is not None
        yield LiveDashboard(found, zendesk, daemon, state, ids, hostile, declining, by_trend)
    finally:
        if daemon is not None and daemon.alive():
            daemon.terminate(timeout=60)
        zendesk.stop()
        slack.stop()


def screenshot(target: Path) -> None:
    """`make screenshots`: the overview as a person sees it, saved to `target`."""
    with tempfile.TemporaryDirectory(prefix="sentinel-shot-") as scratch, \
            live_dashboard(Path(scratch)) as live, browser() as chromium:
        page = chromium.new_page(viewport={"width": 1280, "height": 900},
                                 device_scale_factor=1)
        page.goto(live.url, wait_until="load")
        page.wait_for_selector("svg.chart polyline.trend")
        target.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(target), full_page=True)
        for name, path in (("at-risk", "/at-risk"), ("agents", "/agents")):
            page.goto(live.url.rstrip("/") + path, wait_until="load")
            page.screenshot(path=str(target.with_name(f"{target.stem}-{name}.png")),
                            full_page=True)
    print(f"saved {target}")


if __name__ == "__main__":
    screenshot(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/dashboard.png"))
