"""Dashboard render time with 100,000 stored messages (target: under 200 ms a page).

Fills a database through the real Pipeline (offline scorer, the shipped rules) with the
project's deterministic conversation generator: `--messages` turns (customer messages,
agent replies by a pool of named agents, internal notes) over `--tickets` tickets, spread
over the last 60 days, so the 7-day window holds about a ninth of them and the 30-day one
half.  Then serves the dashboard on an ephemeral port and fetches every page over HTTP,
`--repeats` times each after one warm-up, and reports the median and worst wall time per
page as the client sees it (query, rendering and the socket), and the median CPU time
(the server runs in this process, so that figure does not depend on what else the
machine is running; the 1-minute load average is printed beside it).  `report --json`'s build
time on the same data is reported too.  SQLite by default; `--postgres` uses a scratch
schema on SENTINEL_TEST_PG_URL.  Prints one JSON line.
"""

from __future__ import annotations

import argparse
import http.client
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import emit, percentile, pg_schema
from connectors.base import Message, TicketSnapshot
from connectors.sandbox.conversations import generate
from daemon.config import DashboardSettings, load_config
from daemon.dashboard import start_dashboard
from daemon.insights import TrendSettings
from daemon.logs import configure
from daemon.pipeline import Pipeline
from daemon.report import build_report
from daemon.scoring.local import LocalScorer
from daemon.store import Store

REPO = Path(__file__).resolve().parent.parent
AGENTS = [f"Agent {name}" for name in ("Ash", "Blair", "Casey", "Devon", "Emery", "Finley",
                                       "Gray", "Harper", "Indy", "Jules", "Kai", "Lane")]
TARGET_MS = 200.0


def build_messages(n_tickets: int, n_messages: int, now: datetime) -> list[Message]:
    conversations = generate(n_tickets, n_messages, seed=7, agent_share=0.3, note_share=0.05,
                             first_minutes=90.0)
    out: list[Message] = []
    span = timedelta(days=60).total_seconds()
    for number, conversation in enumerate(conversations):
        ticket_id = str(50_000 + number)
        snapshot = TicketSnapshot(ticket_id=ticket_id, subject=conversation.subject,
                                  url=f"https://bench.invalid/agent/tickets/{ticket_id}",
                                  status="open", priority="normal",
                                  requester=conversation.customer_name)
        moment = now - timedelta(seconds=span * (number + 0.5) / n_tickets) - timedelta(days=1)
        agent = AGENTS[number % len(AGENTS)]
        for position, turn in enumerate(conversation.turns):
            moment += timedelta(minutes=turn.after_minutes)
            role = "customer" if turn.role == "customer" else "agent"
            out.append(Message(message_id=f"{ticket_id}-{position}", ticket_id=ticket_id,
                               author_role=role, public=turn.role != "note",  # type: ignore[arg-type]
                               created_at=min(moment, now - timedelta(minutes=1)),
                               body=turn.text, ticket=snapshot, body_is_html=turn.html,
                               author_id=None if role == "customer" else agent.lower(),
                               author_name=None if role == "customer" else agent))
    out.sort(key=lambda m: m.created_at)
    return out


def fill(store: Store, messages: list[Message], now: datetime) -> float:
    rules = load_config(REPO / "config.yaml", env={}).rules
    store.create_schema()
    store.sources.ensure(["bench"])
    pipeline = Pipeline(store, LocalScorer(), lambda: rules, clock=lambda: now)
    began = time.perf_counter()
    for start in range(0, len(messages), 1000):
        pipeline.process("bench", messages[start:start + 1000], f"cursor-{start}")
    return time.perf_counter() - began


def fetch_ms(port: int, path: str) -> tuple[float, float]:
    """(wall ms, CPU ms of this process) for one GET; the server runs in this process,
    so the CPU time is the page's own cost, whatever else the machine is doing."""
    began, cpu = time.perf_counter(), time.process_time()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        if response.status != 200:
            raise RuntimeError(f"{path}: HTTP {response.status}")
    finally:
        conn.close()
    return (time.perf_counter() - began) * 1000, (time.process_time() - cpu) * 1000


@contextmanager
def database(postgres: bool) -> Iterator[str]:
    if postgres:
        with pg_schema() as url:
            yield url
    else:
        with tempfile.TemporaryDirectory(prefix="bench-dashboard-") as scratch:
            yield f"sqlite:///{Path(scratch) / 'dashboard.db'}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--tickets", type=int, default=8_000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    configure("warning", "json")
    now = datetime.now(UTC).replace(microsecond=0)
    messages = build_messages(args.tickets, args.messages, now)
    with database(args.postgres) as url:
        store = Store(url)
        fill_s = fill(store, messages, now)
        settings = DashboardSettings(enabled=True, addr="127.0.0.1", port=0)
        rules = load_config(REPO / "config.yaml", env={}).rules
        server = start_dashboard(store, settings, lambda: rules, ["bench"])
        ticket = messages[-1].ticket_id
        pages = ["/", "/?days=30", "/at-risk", "/at-risk?days=30", "/agents",
                 "/agents?days=30", f"/tickets/bench/{ticket}"]
        results = {}
        try:
            for path in pages:
                fetch_ms(server.port, path)  # warm-up: templates compiled, caches filled
                samples = [fetch_ms(server.port, path) for _ in range(args.repeats)]
                times = [wall for wall, _ in samples]
                results[path] = {"median_ms": round(statistics.median(times), 1),
                                 "p90_ms": round(percentile(times, 90) or 0.0, 1),
                                 "median_cpu_ms": round(statistics.median(
                                     cpu for _, cpu in samples), 1)}
            report_times = []
            for _ in range(args.repeats):
                began = time.perf_counter()
                build_report(store, days=7, now=now, trend=TrendSettings.from_rules(rules))
                report_times.append((time.perf_counter() - began) * 1000)
        finally:
            server.close()
            store.close()
    worst = max(r["median_ms"] for r in results.values())
    default = [r for path, r in results.items() if "days=" not in path]
    emit({"benchmark": "dashboard", "database": "postgresql" if args.postgres else "sqlite",
          "messages": len(messages), "tickets": args.tickets, "repeats": args.repeats,
          "fill_s": round(fill_s, 1), "pages": results,
          "report_json_median_ms": round(statistics.median(report_times), 1),
          "worst_page_median_ms": worst,
          "worst_page_median_cpu_ms": max(r["median_cpu_ms"] for r in results.values()),
          "worst_default_page_median_ms": max(r["median_ms"] for r in default),
          "worst_default_page_median_cpu_ms": max(r["median_cpu_ms"] for r in default),
          "target_ms": TARGET_MS, "target_met": worst < TARGET_MS,
          "load_average_1m": round(os.getloadavg()[0], 2)})


if __name__ == "__main__":
    main()
