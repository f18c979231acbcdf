"""Memory of a daemon that has processed 100,000 messages (target: RSS under 150 MB).

A Zendesk sandbox in this process is loaded with `--messages` turns over `--tickets`
tickets (the project's deterministic generator: customer messages, agent replies and
internal notes), all stamped in the past day.  One `helpdesk-sentinel run` process with
the shipped defaults (SQLite under its state directory, the offline scorer, page budget
and series cache as configured by default) polls it until every message is stored; only
the incremental-export budget is raised to the connector's maximum (100 requests a
minute) so the run takes about two minutes instead of ten.  VmRSS and VmHWM (the peak)
of the daemon are read from /proc/<pid>/status while it drains and once it has settled.
Prints one JSON line.
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

from harness import DaemonProcess, GatedZendesk, emit, wait_until

from connectors.sandbox.conversations import generate

EMAIL, TOKEN = "bench@example.com", "bench-memory-token"
TARGET_MB = 150.0


def load(sandbox: GatedZendesk, tickets: int, messages: int) -> int:
    """Put the generated conversations in, in time order, over the past day."""
    conversations = generate(tickets, messages, seed=100)
    queue = [(index, position) for index, c in enumerate(conversations)
             for position in range(len(c.turns))]
    queue.sort(key=lambda item: (item[1], item[0]))
    start, end = time.time() - 86_400, time.time() - 300
    step = (end - start) / max(1, len(queue))
    ticket_of: dict[int, int] = {}
    for n, (index, position) in enumerate(queue):
        conversation = conversations[index]
        turn = conversation.turns[position]
        at = start + n * step
        if position == 0:
            ticket_of[index] = sandbox.add_ticket(
                subject=conversation.subject, customer_name=conversation.customer_name,
                customer_email=conversation.customer_email, body=turn.text, at=at,
                html_body=turn.html)
        else:
            sandbox.add_comment(ticket_of[index], turn.role, turn.text, at,
                                html_body=turn.html)
    return len(queue)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--tickets", type=int, default=10_000)
    parser.add_argument("--poll-interval", type=float, default=2.0)
    parser.add_argument("--page-budget", type=int, default=None,
                        help="the source's page_budget (default: the shipped default, 20)")
    parser.add_argument("--timeout", type=float, default=600.0)
    args = parser.parse_args()

    sandbox = GatedZendesk(email=EMAIL, api_token=TOKEN, incremental_per_minute=None)
    sandbox.start()
    began = time.monotonic()
    expected = load(sandbox, args.tickets, args.messages)
    load_s = time.monotonic() - began
    result: dict[str, Any] = {"bench": "memory", "messages": expected,
                              "tickets": args.tickets, "load_s": round(load_s, 1),
                              "page_budget": args.page_budget or "default"}
    budget = f", page_budget: {args.page_budget}" if args.page_budget else ""
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / "state"
        config = Path(tmp) / "config.yaml"
        config.write_text(f"""
state_dir: {state}
log: {{level: info, format: json}}
sources:
  - {{name: zendesk, kind: zendesk, base_url: "{sandbox.url}", email: {EMAIL},
      api_token: {TOKEN}, poll_interval: {args.poll_interval}s, start_from: -2d,
      incremental_per_minute: 100{budget}}}
rules:
  - name: very-negative-message
    when: {{last_score_below: -0.7}}
    actions: {{add_tags: [sentiment-very-negative]}}
    repeat_after: 24h
""")
        daemon = DaemonProcess(config, Path(tmp) / "daemon.log", {}).start()
        samples: list[tuple[float, int, int]] = []  # (seconds, stored, VmRSS kB)
        try:
            def stored() -> int:
                try:
                    with sqlite3.connect(state / "sentinel.db", timeout=10) as conn:
                        return int(conn.execute("SELECT count(*) FROM message").fetchone()[0])
                except sqlite3.OperationalError:
                    return 0  # not created yet

            def polled() -> bool:
                return any(e.get("event") == "poll" for e in daemon.events())

            wait_until(polled, 60, "the first poll")
            time.sleep(3)  # imports done, first jobs run: the daemon's floor
            result["idle_rss_mb"] = round(daemon.memory_kb()["VmRSS"] / 1024, 1)
            sandbox.released = True
            started = time.monotonic()

            def drained() -> bool:
                count = stored()
                if daemon.alive():
                    samples.append((time.monotonic() - started, count,
                                    daemon.memory_kb().get("VmRSS", 0)))
                if not daemon.alive():
                    raise RuntimeError("the daemon exited; see its log")
                return count >= expected

            result["drain_s"] = round(wait_until(drained, args.timeout, "all messages stored",
                                                 every=1.0), 1)
            time.sleep(5)  # let the last outbox and housekeeping jobs run
            memory = daemon.memory_kb()
            result["stored"] = stored()
        finally:
            result["daemon_exit"] = daemon.stop()
    sandbox.stop()
    rss_mb, peak_mb = memory["VmRSS"] / 1024, memory["VmHWM"] / 1024
    quarter = [s for s in samples if s[1] >= expected // 4]
    result.update(
        rss_mb=round(rss_mb, 1), peak_rss_mb=round(peak_mb, 1), target_mb=TARGET_MB,
        meets_target=rss_mb < TARGET_MB and peak_mb < TARGET_MB,
        msgs_per_s=round(expected / result["drain_s"], 1) if result.get("drain_s") else None,
        rss_mb_at_25pct=round(quarter[0][2] / 1024, 1) if quarter else None)
    emit(result)


if __name__ == "__main__":
    main()
