"""Several replicas on one PostgreSQL: throughput against one replica, and takeover time.

For 1, 2 and 4 replicas (`--replicas`): a fresh PostgreSQL schema, twenty Zendesk
sandboxes (one per source) in this process, and that many `helpdesk-sentinel run`
processes on the same config.  Once every replica has registered and the leases are
spread (each holds at most its fair share, every source is held), a fixed backlog is put
into the sandboxes, whose exports show it only once all of it is in (`GatedZendesk`);
throughput is the messages stored and scored (one transaction) divided by the time from
that release to the last one committed.  Then, with
more than one replica, the one holding the most sources is SIGKILLed and the benchmark
measures until every one of its sources has been polled by a survivor (the survivor's
committed poll, `source_state.last_poll_at`, after the kill).  The expected bound is
lease duration + heartbeat (5 s, when leases are balanced) + poll interval.

Caveat printed with the result: the sandboxes share this process (one GIL), and the
machine's cores are shared by the daemons, PostgreSQL and this process, so the speed-up
measures the whole system on this machine, not the daemon alone.  Prints one JSON line.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from harness import DaemonProcess, GatedZendesk, emit, pg_schema, wait_until

from connectors.sandbox.conversations import generate

EMAIL, TOKEN = "bench@example.com", "bench-replicas-token"


def config_text(state: Path, url: str, sandboxes: dict[str, GatedZendesk], poll_s: float,
                lease_s: float) -> str:
    sources = "".join(f"""
  - {{name: {name}, kind: zendesk, base_url: "{sandbox.url}", email: {EMAIL},
      api_token: {TOKEN}, poll_interval: {poll_s}s, start_from: -2h, min_age_seconds: 0,
      incremental_per_minute: 100}}""" for name, sandbox in sandboxes.items())
    return f"""
state_dir: {state}
database: {{url: "{url}"}}
log: {{level: info, format: json}}
lease: {{duration: {lease_s}s}}
sources:{sources}
rules:
  - name: very-negative-message
    when: {{last_score_below: -0.7}}
    actions: {{add_tags: [sentiment-very-negative]}}
    repeat_after: 24h
"""


def load_backlog(sandbox: GatedZendesk, messages: int, seed: int) -> int:
    """`messages` turns over messages/10 tickets, stamped between 50 and 2 minutes ago.

    Turns go in in time order (ticket order kept), as a helpdesk records them; the
    number of turns put in.
    """
    conversations = generate(max(1, messages // 10), messages, seed=seed)
    queue = [(index, position) for index, c in enumerate(conversations)
             for position in range(len(c.turns))]
    queue.sort(key=lambda item: (item[1], item[0]))  # round-robin: turn 0 of all, then 1...
    start, end = time.time() - 3000, time.time() - 120
    step = (end - start) / max(1, len(queue))
    ticket_of: dict[int, int] = {}
    for n, (index, position) in enumerate(queue):
        at = start + n * step
        conversation = conversations[index]
        turn = conversation.turns[position]
        if position == 0:
            ticket_of[index] = sandbox.add_ticket(
                subject=conversation.subject, customer_name=conversation.customer_name,
                customer_email=conversation.customer_email, body=turn.text, at=at)
        else:
            sandbox.add_comment(ticket_of[index], turn.role, turn.text, at)
    return len(queue)


def owners(engine: sa.Engine) -> dict[str, tuple[str | None, Any]]:
    with engine.connect() as conn:
        return {row[0]: (row[1] if row[2] else None, row[3]) for row in conn.execute(sa.text(
            "SELECT source, owner, lease_until > now(), last_poll_at FROM source_state"))}


def run(n_replicas: int, args: argparse.Namespace) -> dict[str, Any]:
    sandboxes = {f"zd-{k:02d}": GatedZendesk(email=EMAIL, api_token=TOKEN,
                                             exclusion_seconds=0, incremental_per_minute=None)
                 for k in range(args.sources)}
    for sandbox in sandboxes.values():
        sandbox.start()
    result: dict[str, Any] = {"replicas": n_replicas}
    try:
        with pg_schema() as url, tempfile.TemporaryDirectory() as tmp:
            engine = sa.create_engine(url)
            config = Path(tmp) / "config.yaml"
            config.write_text(config_text(Path(tmp) / "state", url, sandboxes,
                                          args.poll_interval, args.lease))
            daemons = [DaemonProcess(config, Path(tmp) / f"replica-{i}.log", {}).start()
                       for i in range(n_replicas)]
            fair = -(-args.sources // n_replicas)

            def balanced() -> bool:
                try:
                    with engine.connect() as conn:
                        alive = conn.execute(sa.text("SELECT count(*) FROM replica")).scalar()
                    held = owners(engine)
                except sa.exc.ProgrammingError:
                    return False  # schema not created yet
                counts: dict[str, int] = {}
                for owner, _ in held.values():
                    if owner is not None:
                        counts[owner] = counts.get(owner, 0) + 1
                return (alive == n_replicas and len(held) == args.sources
                        and sum(counts.values()) == args.sources
                        and max(counts.values()) <= fair)

            try:
                result["balance_s"] = round(wait_until(balanced, 120, "leases balanced"), 1)
                expected = sum(load_backlog(sandbox, args.messages_per_source, seed=k)
                               for k, sandbox in enumerate(sandboxes.values()))
                for sandbox in sandboxes.values():
                    sandbox.released = True

                def stored() -> int:
                    with engine.connect() as conn:
                        return int(conn.execute(sa.text(
                            "SELECT count(*) FROM message")).scalar() or 0)

                # Seen from here: committed rows, counted every 50 ms.
                elapsed = wait_until(lambda: stored() >= expected, args.timeout,
                                     "backlog drained", every=0.05)
                with engine.connect() as conn:
                    scored = conn.execute(sa.text(
                        "SELECT count(*) FROM message WHERE score IS NOT NULL")).scalar()
                result.update(messages=expected, scored=int(scored or 0),
                              drain_s=round(elapsed, 2),
                              msgs_per_s=round(expected / elapsed, 1))
                if n_replicas > 1:
                    held = owners(engine)
                    by_pid = {str(d.pid): d for d in daemons}
                    counts: dict[str, int] = {}
                    for owner, _ in held.values():
                        if owner:
                            counts[owner] = counts.get(owner, 0) + 1
                    victim_owner = max(counts, key=lambda o: counts[o])
                    orphaned = [s for s, (o, _) in held.items() if o == victim_owner]
                    victim = by_pid[victim_owner.split(":")[1]]
                    with engine.connect() as conn:
                        killed_at = conn.execute(sa.text("SELECT now()")).scalar()
                    victim.kill()

                    def taken_over() -> bool:
                        now_held = owners(engine)
                        return all(now_held[s][0] not in (None, victim_owner)
                                   and now_held[s][1] is not None and now_held[s][1] > killed_at
                                   for s in orphaned)

                    result["orphaned_sources"] = len(orphaned)
                    result["takeover_s"] = round(wait_until(
                        taken_over, args.lease + 60, "orphaned sources polled"), 1)
            finally:
                result["exit_codes"] = [d.stop() for d in daemons]
                engine.dispose()
    finally:
        for sandbox in sandboxes.values():
            sandbox.stop()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replicas", default="1,2,4")
    parser.add_argument("--sources", type=int, default=20)
    parser.add_argument("--messages-per-source", type=int, default=2000)
    parser.add_argument("--poll-interval", type=float, default=1.0)
    parser.add_argument("--lease", type=float, default=10.0, help="lease.duration, seconds")
    parser.add_argument("--timeout", type=float, default=300.0, help="per drain, seconds")
    args = parser.parse_args()
    runs = [run(int(n), args) for n in args.replicas.split(",")]
    base = runs[0]["msgs_per_s"] if runs and runs[0].get("replicas") == 1 else None
    for item in runs:
        if base and item.get("msgs_per_s"):
            item["speedup"] = round(item["msgs_per_s"] / base, 2)
    emit({"bench": "replicas", "sources": args.sources,
          "messages_per_source": args.messages_per_source,
          "poll_interval_s": args.poll_interval, "lease_s": args.lease,
          "takeover_bound_s": args.lease + 5 + args.poll_interval,
          "cpus": os.cpu_count(), "sandboxes_in_bench_process": True, "runs": runs})


if __name__ == "__main__":
    main()
