"""Incident replay: 300 tickets over two hours, one eight-ticket incident among them.

The queue is `connectors.sandbox.incident_workload` (varied everyday topics, many of
them annoyed, and eight customers whose checkout payment fails, each in their own
words).  It is replayed through the real pipeline (offline scorer, topics, incident
detection, SQLite) in polls every `--poll` seconds of simulated time, with the sweep
(incident timers) every minute.  Reported: whether the incident opened, how long after
the poll that brought its fifth member's message, how many of its eight tickets it
holds and how many others, how many incidents opened among the background, and the
replay's time per message.  Prints one JSON line; `--seeds` runs several workloads.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from connectors.base import Message, TicketSnapshot
from connectors.sandbox.incident_workload import incident_workload
from daemon.incidents import IncidentTracker
from daemon.logs import configure
from daemon.pipeline import Pipeline
from daemon.scoring.local import LocalScorer
from daemon.store import Store
from daemon.text import normalise
from rules.incidents import IncidentSettings
from rules.model import RuleSet

START = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


def replay(seed: int, poll_seconds: float, db: Path) -> dict[str, Any]:
    workload = incident_workload(START, seed)
    incident_tickets = {m.ticket_id for m in workload if m.topic == "incident"}
    settings = IncidentSettings(enabled=True, window=timedelta(minutes=30), min_tickets=5,
                                below=-0.25, notify=("escalations",))
    store = Store(f"sqlite:///{db}")
    store.create_schema()
    store.sources.ensure(["bench"])
    now = START
    pipeline = Pipeline(store, LocalScorer(), lambda: RuleSet(), clock=lambda: now,
                        incidents=IncidentTracker(store, lambda: settings))
    poll = timedelta(seconds=poll_seconds)
    end = START + timedelta(hours=2, minutes=45)  # past the last message: resolves too
    position = 0
    polled_at: dict[tuple[str, datetime], datetime] = {}  # (ticket, message time) -> its poll
    opened: list[tuple[datetime, set[str]]] = []
    last_sweep = START
    began = time.process_time()  # CPU: the replay's commits wait on a shared disk
    for _ in range(int((end - START) / poll) + 1):  # bounded: one pass over the clock
        now += poll
        batch: list[Message] = []
        while position < len(workload) and workload[position].at <= now:
            item = workload[position]
            snapshot = TicketSnapshot(ticket_id=item.ticket_id, subject="",
                                      url=f"https://bench.invalid/tickets/{item.ticket_id}",
                                      status="open", priority="normal")
            batch.append(Message(message_id=item.message_id, ticket_id=item.ticket_id,
                                 author_role="customer", public=True, created_at=item.at,
                                 body=item.text, ticket=snapshot))
            polled_at[(item.ticket_id, item.at)] = now
            position += 1
        decisions = list(pipeline.process("bench", batch, f"c{now.timestamp()}").incidents)
        if now - last_sweep >= timedelta(minutes=1):
            decisions += pipeline.incident_timers().incidents
            last_sweep = now
        for decision in decisions:
            if decision.kind == "open":
                opened.append((now, {m.ticket_id for m in decision.members}))
        if now >= end:
            break
    elapsed = time.process_time() - began
    listed = store.incidents.overview(limit=1000)
    store.close()

    target = next((row for row in listed
                   if len({m["ticket_id"] for m in row["member_tickets"]} & incident_tickets)
                   >= 3), None)
    members = {m["ticket_id"] for m in target["member_tickets"]} if target else set()
    open_time = next((at for at, tickets in opened if tickets & incident_tickets), None)
    # "Its fifth member's message": the fifth member, in the order their messages came,
    # whose message counts towards min_tickets (mildly negative members tag along).
    scores = {(m.ticket_id, m.at): s.score for m, s in zip(
        workload, LocalScorer().score([normalise(m.text).text for m in workload]), strict=True)}
    joined = sorted((m["joined_at"], m["ticket_id"]) for m in target["member_tickets"]
                    if scores.get((m["ticket_id"], m["joined_at"]), 0.0) <= settings.below) \
        if target else []
    fifth_polled = polled_at.get((joined[4][1], joined[4][0])) if len(joined) >= 5 else None
    return {
        "seed": seed,
        "messages": len(workload),
        "incident_opened": target is not None,
        "open_after_fifth_poll_s": (open_time - fifth_polled).total_seconds()
        if open_time is not None and fifth_polled is not None else None,
        "members_of_incident": len(members & incident_tickets),
        "incident_size": len(incident_tickets),
        "non_members_in_incident": len(members - incident_tickets),
        "topic": target["topic"] if target else None,
        "background_incidents": len(listed) - (1 if target else 0),
        "resolved": all(row["state"] == "resolved" for row in listed),
        "cpu_ms_per_message": round(elapsed / len(workload) * 1000, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", default="7", help="comma-separated workload seeds")
    parser.add_argument("--poll", type=float, default=30.0, help="simulated poll interval, s")
    args = parser.parse_args()
    configure(level="warning", fmt="json")
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in (int(s) for s in args.seeds.split(",")):
            runs.append(replay(seed, args.poll, Path(tmp) / f"replay-{seed}.db"))
    print(json.dumps(runs[0] if len(runs) == 1 else {"runs": runs}))


if __name__ == "__main__":
    main()
